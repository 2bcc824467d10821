"""Start, stop and watch the Wind Turbine Simulator from a notebook or the CLI.

    simulate.start("WindDataStream", "anomaly", rate=50)   # the page's "Wind speed anomaly data set" Start
    simulate.status()                                       # records sent, rate, errors
    simulate.stop()

On the local target the simulator runs inside the local stack (so it keeps sending while notebooks change)
and these calls go to its API; on the aws target it runs in this process and sends to real Kinesis.
"""
from __future__ import annotations

import functools

from . import stack_api
from .config import NAMES, settings
from .errors import BadParameter, LabError
from .progress import wait_until
from .resources import streams
from .simulator import DEFAULT_RATE, Simulator

PACES = {"live": 5.0, "fast": 500.0}  # records/s: "live" = each of the 5 turbines about once a second of wall time
API_TIMEOUT_S = 120  # a start or stop may wait for the current PutRecords call to finish
ENDED = ("idle", "finished", "stopped", "failed")


@functools.lru_cache(maxsize=1)
def _in_process() -> Simulator:
    return Simulator(settings().state_dir / "simulator")


def _api(path: str, body: dict | None = None) -> dict:
    """Call the stack's simulator API; its errors come back as the same LabError sentences."""
    if body is None:
        return stack_api.get(f"/api/simulator{path}", timeout_s=API_TIMEOUT_S, refusal=_missing_stream)
    return stack_api.post(f"/api/simulator{path}", body, timeout_s=API_TIMEOUT_S, refusal=_missing_stream)


def _missing_stream(answer: dict) -> LabError | None:
    """The simulator names a stream that does not exist: say how to create it, as streams.describe does."""
    return streams.missing(answer["missing_stream"]) if answer.get("missing_stream") else None


def start(stream: str = NAMES.wind_stream, dataset: str = "wind", rate: float = DEFAULT_RATE,
          loop: bool = False, timestamps: str = "live") -> dict:
    """Send data set `dataset` ("wind", "anomaly" or "health") to `stream` at `rate` records/s (at most 1,000
    per open shard of the stream, a shard's write limit), in the background; a run already going is stopped
    first. timestamps="live" stamps each record with its send time, "file" keeps the data set's times. Returns
    the status."""
    if settings().is_local:
        return _api("/start", {"stream": stream, "dataset": dataset, "rate": rate, "loop": loop,
                               "timestamps": timestamps})
    return _in_process().start(stream, dataset, rate, loop, timestamps)


def rate_for(pace: str) -> float:
    """The sending rate of a pace: "live" (watch it move: a data set takes minutes) or "fast" (seconds)."""
    if pace not in PACES:
        raise BadParameter(f"pace={pace!r} is not one of {', '.join(map(repr, PACES))}: \"live\" lets you watch "
                           "the data arrive, \"fast\" sends a data set in seconds.")
    return PACES[pace]


def stop() -> dict:
    """Stop sending; returns the final status."""
    return _api("/stop", {}) if settings().is_local else _in_process().stop()


def status() -> dict:
    """The current run: state (idle, running, finished, stopped, failed), stream, dataset, sent, failed,
    retried, over_limit (records a shard's write limit held back, sent again), pending, total, rate_actual,
    rate_limit (what the stream takes: 1,000 records/s per open shard), note (why sending is slower than asked),
    last_error, sent_log."""
    return _api("") if settings().is_local else _in_process().status()


def wait(timeout_s: float = 600, quiet: bool = False) -> dict:
    """Wait (with progress) until the current run has sent its whole data set, or ended otherwise."""
    wait_until(lambda: status()["state"] in ENDED, timeout_s, "the simulator to send its data set", quiet=quiet,
               on_timeout="It is still sending: `simulate.status()` shows how far it got.")
    return status()


def summary(report: dict) -> str:
    """One line that says what the simulator is doing, for people."""
    if report["state"] == "idle":
        return "Simulator idle: start a data set to send records."
    what = f"“{report['title']}” to {report['stream']}"
    counts = (f"{report['sent']:,} of {report['total']:,} records sent · {report['rate_actual']:,} records/s · "
              f"{report['failed']:,} errors")
    doing = {"running": "Sending", "finished": "Finished sending", "stopped": "Stopped sending",
             "failed": "Failed sending"}[report["state"]]
    lines = [f"{doing} {what}: {counts}"]
    if report.get("note"):
        lines.append(report["note"][0].upper() + report["note"][1:])
    if report["last_error"]:
        lines.append(f"Last error: {report['last_error']}")
    return "\n".join(lines)
