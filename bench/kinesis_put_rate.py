"""Local Kinesis put rate while one stream grows from 0 to 1,000,000 records, beside stock moto's.

Reference: the same stream's rate in its first 100,000 records (goal: the last 100,000 within 20% of
the first, and >= 5,000 rec/s). One producer, PutRecords batches of 500, 100-byte JSON records.
Stock moto (a server without labkit's patches, started by the same run) gets the same producer for
60,000 records, in windows of 10,000: its rate falls as the stream grows (each put lists every key of the
shard), which is why labkit numbers records from a counter.
"""
from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time

import boto3
import moto
from botocore.exceptions import BotoCoreError

from .common import TABLE_HEAD, free_port, median, private_stack, verdict

TOTAL, WINDOW, BATCH, RECORD_BYTES = 1_000_000, 100_000, 500, 100
STOCK_TOTAL, STOCK_WINDOW = 60_000, 10_000
GOAL_DRIFT, GOAL_REC_S = 0.2, 5000  # the last window within 20% of the first, both at least this rate
QUICK = {"runs": 1, "total": 200_000, "stock_total": 20_000}  # `python -m bench --quick`: run()'s sizes


def _kinesis(endpoint: str):
    return boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="bench", aws_secret_access_key="bench")


def one_run(endpoint: str, stream: str, total: int, window: int = WINDOW) -> list[float]:
    """Rates (records/s) of each consecutive window of `window` records."""
    kinesis = _kinesis(endpoint)
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    payload = [{"Data": json.dumps({"location": "North Ridge", "speed": 31.4, "n": i}).ljust(RECORD_BYTES).encode(),
                "PartitionKey": "North Ridge"} for i in range(BATCH)]
    rates, started = [], time.perf_counter()
    for sent in range(BATCH, total + 1, BATCH):
        response = kinesis.put_records(StreamName=stream, Records=payload)
        if response["FailedRecordCount"]:
            raise RuntimeError(f"{response['FailedRecordCount']} records failed at {sent}")
        if sent % window == 0:
            now = time.perf_counter()
            rates.append(window / (now - started))
            started = now
            print(f"  {sent:>9,} records: {rates[-1]:,.0f} rec/s", flush=True)
    kinesis.delete_stream(StreamName=stream)
    return rates


@contextlib.contextmanager
def stock_moto():
    """A moto server without labkit's patches on a free port; its URL once it answers."""
    from labkit.progress import wait_until

    url = f"http://127.0.0.1:{free_port()}"
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", url.rsplit(":", 1)[1]],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def answers() -> bool:
        if server.poll() is not None:
            raise RuntimeError(f"the stock moto server exited with code {server.returncode}")
        try:
            _kinesis(url).list_streams()
        except BotoCoreError:  # not listening yet
            return False
        return True

    try:
        wait_until(answers, 30, "the stock moto server to answer", quiet=True)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def run(runs: int = 3, total: int = TOTAL, stock_total: int = STOCK_TOTAL) -> dict:
    firsts, lasts, stock_firsts, stock_lasts = [], [], [], []
    for index in range(runs):
        print(f"kinesis put rate, run {index + 1}/{runs}", flush=True)
        with private_stack(kinesis_limits=False) as stack:
            rates = one_run(stack["endpoint"], f"PutRate{index}", total)
        firsts.append(rates[0])
        lasts.append(rates[-1])
        print(f"stock moto {moto.__version__}, run {index + 1}/{runs}", flush=True)
        with stock_moto() as url:
            stock = one_run(url, f"PutRate{index}", stock_total, STOCK_WINDOW)
        stock_firsts.append(stock[0])
        stock_lasts.append(stock[-1])
    first, last = median(firsts), median(lasts)
    stock_first, stock_last = median(stock_firsts), median(stock_lasts)
    result = {
        "records": total, "window": WINDOW, "runs": runs, "batch": BATCH, "record_bytes": RECORD_BYTES,
        "first_window_rec_s": round(first), "last_window_rec_s": round(last),
        "ratio_last_to_first": round(last / first, 3),
        "stock_moto": {"version": moto.__version__, "records": stock_total, "window": STOCK_WINDOW,
                       "first_window_rec_s": round(stock_first), "last_window_rec_s": round(stock_last),
                       "ratio_last_to_first": round(stock_last / stock_first, 3)},
        "goal": f"last window within {GOAL_DRIFT:.0%} of the first, both >= {GOAL_REC_S:,} rec/s",
        "meets_goal": abs(last / first - 1) <= GOAL_DRIFT and min(first, last) >= GOAL_REC_S,
    }
    return result


def render(result: dict) -> str:
    stock = result["stock_moto"]
    return (
        "## Local Kinesis put rate while one stream grows to {records:,} records\n\n"
        + TABLE_HEAD +
        "| labkit: rate in the last {window:,} records | {last_window_rec_s:,} rec/s "
        "| its first {window:,}: {first_window_rec_s:,} rec/s | {ratio_last_to_first} |\n"
        f"| stock moto {stock['version']}: rate in the last {stock['window']:,} of {stock['records']:,} records "
        f"| {stock['last_window_rec_s']:,} rec/s | its first {stock['window']:,}: {stock['first_window_rec_s']:,} "
        f"rec/s | {stock['ratio_last_to_first']} |\n\n"
        "Median of {runs} runs, one producer, PutRecords of {batch} × {record_bytes}-byte records; in each run "
        "the same producer also filled a stream of a stock moto server (no labkit patches), started by the run. "
        "AWS's per-shard write limit is lifted for this run (LABKIT_KINESIS_LIMITS=off): it "
        "measures the endpoint, not the quota. "
        f"Goal: {{goal}} — {verdict(result)}.\n"
    ).format(**result)
