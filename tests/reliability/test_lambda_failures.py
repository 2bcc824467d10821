"""Drills on the trigger AnomalyDetectionStream -> AnalyticsDestinationFunction, with real Flink upstream.

- transient: the function's table is missing for a while (its OUTPUT_TABLE_NAME names a table that does not
  exist): the handler reports the record, the trigger retries it with backoff, and once the variable is
  right again every record arrives;
- poison: one record makes the function fail every time: bisecting isolates it, its retries run out, and
  AWS's failure record (condition, shard, sequence number) goes to the on-failure topic; all other records
  arrive. The function's log gives the reason."""
from __future__ import annotations

import time

import pytest

from labkit.progress import wait_until
from tests.reliability.pipeline import (ANOMALY_STREAM, TRIGGER, audit, event_id, finish, function_log,
                                        function_zip, items, parked, prefixed, read_stream, record_figures, send,
                                        wait_for_items)

pytestmark = pytest.mark.flink
MISSING_TABLE = "DrillTableThatIsNotThere"
OUTAGE_S = 8  # how long the table stays missing after the first failed delivery (within the retry budget)
POISONED_HANDLER = '''
"""The lab's analytics handler (counted), with one record it can never process: the drill's poison."""
import base64
import os

import counting


def handler(event, context):
    poison = os.environ["POISON_EVENT_ID"]
    for record in event["Records"]:
        if poison.encode() in base64.b64decode(record["kinesis"]["data"]):
            raise RuntimeError(f"cannot process {poison} (sequence number {record['kinesis']['sequenceNumber']})")
    return counting.handler(event, context)
'''


def retried(fragment: str) -> int:
    return sum(1 for line in function_log() if "it will be retried" in line and fragment in line)


def test_a_table_missing_for_a_while_delays_records_but_loses_none(drill):
    prefix = "transient"
    sent = prefixed("wind", prefix, 600)
    drill.set_environment(OUTPUT_TABLE_NAME=MISSING_TABLE)
    try:
        producers = send(sent, rate=60)
        wait_until(lambda: retried(MISSING_TABLE) > 0, 180, "the first failed delivery", quiet=True, interval_s=1)
        time.sleep(OUTAGE_S)
        assert not items(prefix), "nothing can be written while the table is missing"
    finally:
        drill.set_environment()
    finish(producers)
    wait_for_items(prefix, len(sent))
    figures = audit(prefix, sent)
    assert figures["lost"] == figures["duplicated"] == figures["unexpected"] == figures["wrong_scores"] == 0, figures
    assert figures["uncounted"] == 0, figures
    failures = retried(MISSING_TABLE)
    record_figures(prefix, "Lambda fails transiently: its table missing (OUTPUT_TABLE_NAME wrong) for a while",
                   f"the handler reported the record; the trigger retried it ({failures} failed attempts, within "
                   f"{TRIGGER['retries']} retries with backoff) until the table was back", figures,
                   failed_attempts=failures)


def test_a_poison_record_is_parked_with_its_reason_and_the_rest_delivered(drill):
    prefix = "poison"
    sent = prefixed("wind", prefix, 500)
    poison = sent[len(sent) // 2]["event_id"]
    drill.deploy("poisoned.handler", function_zip(("poisoned.py", POISONED_HANDLER)), POISON_EVENT_ID=poison)
    try:
        finish(send(sent, rate=100))
        wait_for_items(prefix, len(sent) - 1)
        sequence = next(r["SequenceNumber"] for r in read_stream(ANOMALY_STREAM) if event_id(r["Data"]) == poison)
        wait_until(lambda: any(p["KinesisBatchInfo"]["startSequenceNumber"] == sequence for p in parked()), 120,
                   "the poison record's failure record", quiet=True, interval_s=1)
    finally:
        drill.deploy()

    [failure] = [p for p in parked() if p["KinesisBatchInfo"]["startSequenceNumber"] == sequence]
    assert failure["KinesisBatchInfo"]["batchSize"] == 1 and failure["KinesisBatchInfo"]["endSequenceNumber"] == sequence
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == TRIGGER["retries"] + 1
    assert failure["responseContext"]["functionError"] == "Unhandled"
    assert any(f"cannot process {poison} (sequence number {sequence})" in line for line in function_log())
    figures = audit(prefix, [r for r in sent if r["event_id"] != poison])
    assert figures["lost"] == figures["duplicated"] == figures["unexpected"] == figures["wrong_scores"] == 0, figures
    assert figures["uncounted"] == 0, figures
    assert poison not in {item["event_id"] for item in items(prefix)}
    record_figures(prefix, "Lambda fails on one poison record every time",
                   "bisected down to the poison record, retried until the budget ran out, then its failure record "
                   "(RetryAttemptsExhausted, sequence number) went to the on-failure topic and the reason to the "
                   "function's log; 1 record parked", {**figures, "records_in": len(sent)}, parked=1)
