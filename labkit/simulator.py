"""The Wind Turbine Simulator's engine: replays a data set into a Kinesis stream like a live wind farm.

A `Producer` is one run: a daemon thread that sends the data set's records with PutRecords at a steady
rate (records/s), partition key = location. By default each record's event_time is the wall clock when
it is sent (a live sensor); timestamps="file" keeps the file's times. The event_id stays the file's; when
the data set loops, later passes add "-p2", "-p3", ... so every id stays unique.

A shard takes 1,000 records a second (AWS's limit, kept by the local stack too): a run never asks for more
than that per open shard of its stream; a faster rate is slowed to it and the status says so (`note`). A
record refused all the same because its shard is at its limit (ProvisionedThroughputExceededException:
another writer, a burst) is no error: it waits a moment and is sent again, counted in `over_limit`.

Order and loss: Kinesis may accept some entries of a PutRecords call and refuse others (a shard at its
limit, internal failures), so a call with two records of one location could store them out of order. Each
call here carries at most one record per location, and a refused record is sent again (with backoff) before
any later record of its location: per-location order holds as with PutRecord. Nothing is dropped: every
refusal is counted, and a run that ends early says why and how many records were sent. (A call that timed
out may have been stored all the same; it is sent again, so a network failure can duplicate records, never
lose them.) Every accepted record is written to the run's sent-log (JSON lines in the state folder) with
its shard and sequence number.

`Simulator` holds a process's current run: the stack's simulator service has one, and so does a notebook
kernel on the aws target.
"""
from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError, HTTPClientError

from .clients import client
from .config import NAMES, iso_time
from .datasets import DATASETS, TITLES, load_records
from .errors import BadParameter, LabError
from .resources import streams

log = logging.getLogger(__name__)

DEFAULT_RATE = 50.0  # records/s: the anomaly data set (2,000 records) takes 40 s
MIN_RATE, MAX_RATE = 0.1, 10_000.0
TIMESTAMP_MODES = ("live", "file")
MAX_PENDING = 500  # records taken from the data set but not yet accepted by Kinesis
BURST_S = 0.25  # the rate may catch up at most this many seconds' worth of records at once
BACKOFF_S = (0.05, 5.0)  # first and longest wait before sending refused records again
RATE_WINDOW_S = 5.0
SHARD_WRITE_LIMIT = 1000  # records/s one shard takes (AWS's limit); a run sends at most this per open shard
OVER_LIMIT = "ProvisionedThroughputExceededException"  # a shard at its limit: wait, send again, no error
SENT_LOGS_KEPT = 5
RETRYABLE = {  # call-level errors worth another try; any other error ends the run with its message
    "ProvisionedThroughputExceededException", "LimitExceededException", "KMSThrottlingException",
    "ThrottlingException", "InternalFailure", "InternalFailureException", "ServiceUnavailable",
}
STATUS_KEYS = ("state", "stream", "dataset", "title", "rate", "loop", "timestamps", "sent", "failed", "retried",
               "over_limit", "pending", "total", "pass", "rate_actual", "rate_limit", "note", "last_error",
               "started_at", "stopped_at", "run_id", "sent_log")


def validate(stream: str, dataset: str, rate, loop, timestamps: str) -> dict:
    """The run's parameters, checked; BadParameter names the allowed values."""
    if not isinstance(stream, str) or not streams.STREAM_NAME.fullmatch(stream):
        raise BadParameter(f"{stream!r:.80} is not a stream name: type the name of your Kinesis stream, "
                           f"e.g. {NAMES.wind_stream}.")
    if not isinstance(dataset, str) or dataset not in DATASETS:
        raise BadParameter(f"there is no data set {dataset!r:.80}: choose one of {', '.join(DATASETS)}.")
    if isinstance(rate, str):
        try:
            rate = float(rate)
        except ValueError:
            pass
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate):
        raise BadParameter(f"rate={rate!r:.80} is not a number of records per second: give a number from "
                           f"{MIN_RATE:g} to {MAX_RATE:,.0f}.")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise BadParameter(f"rate={rate:g} records/s cannot work: give a number from {MIN_RATE:g} to "
                           f"{MAX_RATE:,.0f} records per second (the lab uses {DEFAULT_RATE:g}).")
    if not isinstance(loop, bool):
        raise BadParameter(f"loop={loop!r:.80} must be true or false.")
    if timestamps not in TIMESTAMP_MODES:
        raise BadParameter(f"timestamps={timestamps!r:.80} is not a mode: use 'live' (send time, the default) or "
                           "'file' (the data set's own times).")
    if loop and timestamps == "file":
        raise BadParameter("loop=True with timestamps='file' would send the same event times again on every "
                           "pass: use timestamps='live' to loop.")
    return {"stream": stream, "dataset": dataset, "rate": float(rate), "loop": loop, "timestamps": timestamps}


def check_stream(stream: str) -> dict:
    """The stream's description (streams.describe); ResourceMissing (with the step that creates it) or LabError
    unless it can take records now."""
    described = streams.describe(stream)
    state = described["status"]
    if state not in ("ACTIVE", "UPDATING"):
        raise LabError(f"the Kinesis stream {stream!r} is {state}; start the simulator once it is ACTIVE "
                       f"(`labkit.resources.streams.create({stream!r})` waits for that).")
    return described


def write_limit(open_shards: int) -> float:
    """The records/s a stream with `open_shards` open shards takes: SHARD_WRITE_LIMIT per shard."""
    return float(SHARD_WRITE_LIMIT * max(1, open_shards))


def slowed_note(rate: float, limit: float | None, over_limit: int) -> str | None:
    """Why a run sends slower than asked, for people; None when it does not."""
    if limit is None:
        return None
    shards = round(limit / SHARD_WRITE_LIMIT)
    where = ("the shard's write limit" if shards == 1 else
             f"the stream's write limit ({SHARD_WRITE_LIMIT:,} per open shard, {shards} shards)")
    waited = f"{over_limit:,} records waited for a shard's write limit and were sent again, none lost"
    if rate > limit:
        note = f"sending slowed to {where}: {limit:,.0f} records/s (asked for {rate:,g})"
        return f"{note}; {waited}" if over_limit else note
    return f"sending slowed to {where} ({limit:,.0f} records/s): {waited}" if over_limit else None


def iso_now() -> str:
    """The wall clock in the lab's time format, as event times are written."""
    return iso_time(int(time.time() * 1000))


def read_sent_log(path: str | Path) -> list[dict]:
    """The entries of a run's sent-log: {"shard_id", "sequence_number", "record"}, in send order."""
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


@dataclass
class _Entry:
    record: dict
    data: bytes | None = None  # encoded at the first attempt, so event_time is the send time
    attempts: int = 0
    accepted: bool = False


class _RunFailed(Exception):
    """A refusal that another try cannot fix; the run ends with this message."""


class Producer:
    """One run of the simulator: sends data set `dataset` to `stream` at `rate` records/s."""

    def __init__(self, stream: str = NAMES.wind_stream, dataset: str = "wind", rate=DEFAULT_RATE,
                 loop: bool = False, timestamps: str = "live", *, log_dir: Path, kinesis=None):
        self.params = validate(stream, dataset, rate, loop, timestamps)
        self.records = load_records(dataset)
        self.run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
        self.sent_log = Path(log_dir) / f"sent-{self.run_id}.jsonl"
        self._kinesis = kinesis
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._state = "new"
        self._counts = {"sent": 0, "failed": 0, "retried": 0, "over_limit": 0, "pending": 0, "pass": 0}
        self.rate_limit: float | None = None  # records/s the stream takes, known at start
        self._last_error: str | None = None
        self._started_at = self._stopped_at = None
        self._started_mono = self._stopped_mono = 0.0
        self._rate_samples: deque[tuple[float, int]] = deque()

    # -- control ---------------------------------------------------------------------------------------
    def start(self) -> dict:
        """Check the stream, then send in the background (at most the stream's write limit); returns the status."""
        self.rate_limit = write_limit(len(check_stream(self.params["stream"])["shards"]))
        self._kinesis = self._kinesis or client("kinesis")
        self.sent_log.parent.mkdir(parents=True, exist_ok=True)
        for old in sorted(self.sent_log.parent.glob("sent-*.jsonl"))[:-SENT_LOGS_KEPT + 1]:
            old.unlink(missing_ok=True)
        self.sent_log.touch()
        self._state, self._started_at, self._started_mono = "running", iso_now(), time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"simulator-{self.run_id}", daemon=True)
        self._thread.start()
        return self.status()

    def stop(self, timeout_s: float = 90.0) -> dict:
        """Stop sending (the call in flight completes) and wait for the thread to end."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout_s)
        return self.status()

    def wait(self, timeout_s: float | None = None) -> dict:
        """Block until the run ends (all sent, stopped or failed) or `timeout_s` passes."""
        if self._thread:
            self._thread.join(timeout_s)
        return self.status()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> dict:
        with self._lock:
            counts = dict(self._counts)
            samples = list(self._rate_samples)
        if self.running and len(samples) > 1 and samples[-1][0] > samples[0][0]:
            rate_actual = (samples[-1][1] - samples[0][1]) / (samples[-1][0] - samples[0][0])
        elif self._stopped_mono > self._started_mono:
            rate_actual = counts["sent"] / (self._stopped_mono - self._started_mono)
        else:
            rate_actual = 0.0
        return {
            "state": self._state, **self.params, "title": TITLES[self.params["dataset"]], **counts,
            "total": len(self.records), "rate_actual": round(rate_actual, 1), "rate_limit": self.rate_limit,
            "note": slowed_note(self.params["rate"], self.rate_limit, counts["over_limit"]),
            "last_error": self._last_error,
            "started_at": self._started_at, "stopped_at": self._stopped_at, "run_id": self.run_id,
            "sent_log": str(self.sent_log),
        }

    # -- the sending thread ----------------------------------------------------------------------------
    def _source(self):
        """The records to send, pass after pass when looping; ids get "-pN" from the second pass on."""
        passes = 0
        while passes == 0 or self.params["loop"]:
            passes += 1
            with self._lock:
                self._counts["pass"] = passes
            for record in self.records:
                yield record if passes == 1 else {**record, "event_id": f"{record['event_id']}-p{passes}"}

    def _run(self) -> None:
        try:
            with open(self.sent_log, "a", encoding="utf-8") as sent_log:
                self._send_all(sent_log)
            state = "stopped" if self._stop.is_set() else "finished"
        except _RunFailed as error:
            state, self._last_error = "failed", str(error)
        except Exception as error:  # never silent: the status and the stack log both say what happened
            log.exception("simulator run %s failed", self.run_id)
            state, self._last_error = "failed", f"the simulator stopped on an unexpected error: {error!r}"
        self._stopped_at, self._stopped_mono = iso_now(), time.monotonic()
        self._state = state

    def _send_all(self, sent_log) -> None:
        rate = min(self.params["rate"], self.rate_limit or math.inf)
        burst = max(1.0, rate * BURST_S)
        source = self._source()
        pending: deque[_Entry] = deque()
        exhausted, tokens, last, streak = False, 1.0, time.monotonic(), 0
        while not self._stop.is_set():
            now = time.monotonic()
            tokens, last = min(burst, tokens + (now - last) * rate), now
            while tokens >= 1 and len(pending) < MAX_PENDING and not exhausted:
                record = next(source, None)
                if record is None:
                    exhausted = True
                else:
                    pending.append(_Entry(record))
                    tokens -= 1
            self._note_progress(len(pending))
            if not pending:
                if exhausted:
                    return
                self._stop.wait((1 - tokens) / rate)
                continue
            accepted, refused = self._put(self._next_batch(pending), sent_log)
            if refused:  # back off; longer each time a whole batch is refused
                streak = streak + 1 if not accepted else 1
                self._stop.wait(min(BACKOFF_S[1], BACKOFF_S[0] * 2 ** (streak - 1)))
            pending = deque(e for e in pending if not e.accepted)
        self._note_progress(len(pending))

    def _next_batch(self, pending: deque[_Entry]) -> list[_Entry]:
        """The oldest pending record of each location: at most one per partition key."""
        batch, keys = [], set()
        for entry in pending:
            key = entry.record["location"]
            if key not in keys:
                keys.add(key)
                batch.append(entry)
        stamp = iso_now()
        for entry in batch:
            if entry.data is None:
                if self.params["timestamps"] == "live":
                    entry.record = {**entry.record, "event_time": stamp}
                entry.data = json.dumps(entry.record, separators=(",", ":")).encode()
        return batch

    def _put(self, batch: list[_Entry], sent_log) -> tuple[int, int]:
        """Send one batch; returns how many records Kinesis accepted and refused (a refusal for a shard's write
        limit counts in over_limit, any other in failed: both are sent again)."""
        retries = sum(1 for e in batch if e.attempts)
        for entry in batch:
            entry.attempts += 1
        try:
            response = self._kinesis.put_records(
                StreamName=self.params["stream"],
                Records=[{"Data": e.data, "PartitionKey": e.record["location"]} for e in batch],
            )
        except ClientError as error:
            code = error.response["Error"]["Code"]
            message = f"{code}: {error.response['Error'].get('Message', '')}"
            if code == OVER_LIMIT:
                self._count(0, 0, retries, None, over_limit=len(batch))
                return 0, len(batch)
            if code not in RETRYABLE:
                raise _RunFailed(self._ended_early(code, message)) from error
            self._count(0, len(batch), retries, f"Kinesis refused a batch ({message}); sending it again")
            return 0, len(batch)
        except (BotoConnectionError, HTTPClientError) as error:
            self._count(0, len(batch), retries, f"cannot reach Kinesis ({error}); sending again")
            return 0, len(batch)
        failed, over_limit, lines, error = 0, 0, [], None
        for entry, result in zip(batch, response["Records"]):
            if result.get("ErrorCode") == OVER_LIMIT:
                over_limit += 1
            elif "ErrorCode" in result:
                failed += 1
                error = (f"Kinesis refused a record ({result['ErrorCode']}: {result.get('ErrorMessage', '')}); "
                         "sending it again")
            else:
                entry.accepted = True
                lines.append(json.dumps({"shard_id": result["ShardId"], "sequence_number": result["SequenceNumber"],
                                         "record": entry.record}) + "\n")
        sent_log.writelines(lines)
        sent_log.flush()
        self._count(len(lines), failed, retries, error, over_limit=over_limit)
        return len(lines), failed + over_limit

    def _count(self, sent: int, failed: int, retries: int, error: str | None, over_limit: int = 0) -> None:
        with self._lock:
            self._counts["sent"] += sent
            self._counts["failed"] += failed
            self._counts["over_limit"] += over_limit
            self._counts["retried"] += retries
        if error:
            self._last_error = error

    def _ended_early(self, code: str, message: str) -> str:
        stream = self.params["stream"]
        done = f"{self._counts['sent']} records were sent before the simulator stopped"
        if code == "ResourceNotFoundException":
            return (f"the Kinesis stream {stream!r} was deleted while the simulator was sending ({done}). Create "
                    f"it again with `labkit.resources.streams.create({stream!r})` (notebook 01, step 3) and "
                    "start the simulator again.")
        return f"Kinesis refused the records for stream {stream!r} ({message}; {done}). Fix that and start again."

    def _note_progress(self, pending: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._counts["pending"] = pending
            self._rate_samples.append((now, self._counts["sent"]))
            while self._rate_samples and now - self._rate_samples[0][0] > RATE_WINDOW_S:
                self._rate_samples.popleft()


class Simulator:
    """A process's simulator: at most one run at a time; starting a run stops the one before it."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self._lock = threading.Lock()
        self._run: Producer | None = None

    def start(self, stream: str = NAMES.wind_stream, dataset: str = "wind", rate=DEFAULT_RATE,
              loop: bool = False, timestamps: str = "live") -> dict:
        producer = Producer(stream, dataset, rate, loop, timestamps, log_dir=self.log_dir)
        check_stream(producer.params["stream"])  # a bad start leaves the current run alone
        with self._lock:
            if self._run:
                self._run.stop()
            self._run = producer
            return producer.start()

    def stop(self) -> dict:
        with self._lock:
            return self._run.stop() if self._run else self.status()

    def status(self) -> dict:
        run = self._run
        return run.status() if run else {**dict.fromkeys(STATUS_KEYS), "state": "idle"}
