"""Local Kinesis put rate while one stream grows from 0 to 1,000,000 records.

Reference: the same stream's rate in its first 100,000 records (goal: the last 100,000 within 20% of
the first, and >= 5,000 rec/s). One producer, PutRecords batches of 500, 100-byte JSON records.
"""
from __future__ import annotations

import json
import time

import boto3

from .common import TABLE_HEAD, median, private_stack, save, verdict

TOTAL, WINDOW, BATCH = 1_000_000, 100_000, 500


def one_run(endpoint: str, stream: str, total: int) -> list[float]:
    """Rates (records/s) of each consecutive window of WINDOW records."""
    kinesis = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="bench", aws_secret_access_key="bench")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    payload = [{"Data": json.dumps({"location": "North Ridge", "speed": 31.4, "n": i}).ljust(100).encode(),
                "PartitionKey": "North Ridge"} for i in range(BATCH)]
    rates, started = [], time.perf_counter()
    for sent in range(BATCH, total + 1, BATCH):
        response = kinesis.put_records(StreamName=stream, Records=payload)
        if response["FailedRecordCount"]:
            raise RuntimeError(f"{response['FailedRecordCount']} records failed at {sent}")
        if sent % WINDOW == 0:
            now = time.perf_counter()
            rates.append(WINDOW / (now - started))
            started = now
            print(f"  {sent:>9,} records: {rates[-1]:,.0f} rec/s", flush=True)
    kinesis.delete_stream(StreamName=stream)
    return rates


def run(runs: int = 3, total: int = TOTAL) -> dict:
    firsts, lasts = [], []
    for index in range(runs):
        with private_stack() as stack:
            print(f"kinesis put rate, run {index + 1}/{runs}", flush=True)
            rates = one_run(stack["endpoint"], f"PutRate{index}", total)
        firsts.append(rates[0])
        lasts.append(rates[-1])
    first, last = median(firsts), median(lasts)
    result = {
        "records": total, "runs": runs,
        "first_100k_rec_s": round(first), "last_100k_rec_s": round(last),
        "ratio_last_to_first": round(last / first, 3),
        "goal": "last within 20% of first, both >= 5,000 rec/s",
        "meets_goal": abs(last / first - 1) <= 0.2 and min(first, last) >= 5000,
    }
    save("kinesis_put_rate", result)
    return result


def render(result: dict) -> str:
    outcome = verdict(result)
    return (
        "## Local Kinesis put rate, 0 → {records:,} records in one stream\n\n"
        + TABLE_HEAD +
        "| rate in the last 100,000 records | {last_100k_rec_s:,} rec/s | first 100,000: {first_100k_rec_s:,} rec/s "
        "| {ratio_last_to_first} |\n\n"
        "Median of {runs} runs, one producer, PutRecords of 500 × 100-byte records. Goal: {goal} — "
        f"{outcome}. Stock moto 5.2.5 slows from ~5,400 rec/s at 10k records to ~1,130 at 60k (it lists every "
        "key of the shard on each put); labkit's fix numbers records from a counter and keeps them in a list "
        "indexed by sequence number.\n"
    ).format(**result)
