"""What crash safety costs: the local endpoint's Kinesis put rate with its write-ahead journal (every
acknowledged call fsynced, durable_endpoint.py) beside the same endpoint without it, in the same run.

Both endpoints are moto with labkit's patches, served by waitress in this process on free ports, one after
the other, fed by the producer of kinesis_put_rate.py (PutRecords of 500 records of 100 bytes). Median of
`runs` runs of each; the reference is the rate without the journal, measured in the same run.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from pathlib import Path
from unittest import mock

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from waitress.server import create_server

from .common import TABLE_HEAD, free_port, median
from .kinesis_put_rate import BATCH, RECORD_BYTES, one_run

RECORDS = 200_000
GOAL_REC_S = 5000  # goal: the journaled rate stays at or above it
QUICK = {"runs": 1, "records": 50_000}  # `python -m bench --quick`: run()'s sizes for a CI-sized check


@contextlib.contextmanager
def endpoint(journaled: bool):
    """A patched moto endpoint on a free port (journaled into a temporary state folder if asked); its URL."""
    from labkit.local import kinesis_fixes, moto_patches
    from labkit.local.durable_endpoint import DurableEndpoint

    moto_patches.apply()
    app = DomainDispatcherApplication(create_backend_app)
    lifted = {kinesis_fixes.LIMITS_SETTING: "off"}  # the endpoint's speed, not AWS's per-shard quota
    with mock.patch.dict(os.environ, lifted), tempfile.TemporaryDirectory(prefix="labkit-journal-bench-") as state:
        durable = DurableEndpoint(app, Path(state)) if journaled else None
        if durable:
            durable.recover()
        port = free_port()
        server = create_server(durable or app, host="127.0.0.1", port=port, threads=8)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.close()
            server.task_dispatcher.shutdown()
            if durable:
                durable.close()


def run(runs: int = 3, records: int = RECORDS) -> dict:
    rates = {"journaled": [], "not_journaled": []}
    for index in range(runs):
        for kind in rates:
            print(f"journal cost, run {index + 1}/{runs}, {kind.replace('_', ' ')}", flush=True)
            with endpoint(kind == "journaled") as url:
                rates[kind] += one_run(url, f"Journal{kind}{index}", records, records)
    journaled, plain = median(rates["journaled"]), median(rates["not_journaled"])
    result = {"records": records, "runs": runs, "batch": BATCH, "record_bytes": RECORD_BYTES,
              "journaled_rec_s": round(journaled), "not_journaled_rec_s": round(plain),
              "ratio": round(journaled / plain, 3), "goal_rec_s": GOAL_REC_S, "meets_goal": journaled >= GOAL_REC_S}
    return result


def render(result: dict) -> str:
    return (
        "## Crash safety's cost: put rate with the write-ahead journal\n\n" + TABLE_HEAD +
        "| put rate, every call journaled and fsynced before its answer | {journaled_rec_s:,} rec/s "
        "| without the journal: {not_journaled_rec_s:,} rec/s | {ratio} |\n\n"
        "Median of {runs} runs of {records:,} records each, one producer, PutRecords of {batch} × {record_bytes}-byte "
        "records, both endpoints in one process, one after the other, AWS's per-shard write limit lifted "
        "(LABKIT_KINESIS_LIMITS=off). Goal: at least {goal_rec_s:,} rec/s with the "
        "journal — {verdict}.\n"
    ).format(**result, verdict="meets the goal" if result["meets_goal"] else "MISSES the goal")
