"""Drill: kill -9 of the WHOLE local stack (the stack, its children, the Flink cluster) at random moments
while readings stream through the pipeline, then `labkit up`, again and again.

After each `up`: every record PutRecords acknowledged is in DrillWindStream under its sequence number, every
drill resource exists, and AnomalyDetection and the trigger run again by themselves (the app from its job's
latest retained checkpoint). The producer meets the dead endpoint and sends the same batch again until it
answers, which is "sending once more from where it stopped". At the end every reading is one item, and the
function's deliveries and writes are COUNTED per event id (the drill function's delivery counter), since keyed
items hide a record delivered or written twice: every reading written once, the deliveries repeated within the
window below. A kill between a write and its count leaves that write uncounted: at most one trigger batch a kill.

The replay window: after a kill, the job writes again what it had read since its latest completed checkpoint,
and the trigger delivers again the batch it had not checkpointed. While the stack is down the producer cannot
send; when it is back, it catches up at once. So a kill may repeat up to RATE x (checkpoint interval + that
kill's downtime) readings plus one trigger batch, and the drill asserts the sum over its kills."""
from __future__ import annotations

import os
import random
import time

import pytest

import labkit as lab
from labkit.config import NAMES
from labkit.progress import wait_until
from tests.conftest import aws_client, kill_stack
from tests.reliability.pipeline import (ANOMALY_STREAM, DELIVERIES, FUNCTION, TABLE, TRIGGER, WIND_STREAM, audit,
                                        finish, items, prefixed, read_stream, record_figures, replays, send,
                                        wait_for_items)

pytestmark = pytest.mark.flink
DRILL = "crash"
KILLS = int(os.environ.get("LABKIT_CRASH_DRILL_KILLS", "3"))  # `make reliability` runs 10; the test suite 3
RATE = 40  # readings/s
CHECKPOINT_INTERVAL_S = 5  # the local cluster's (flink_cluster.py)


def missing_acknowledged(acknowledged: list[tuple[str, str, bytes]]) -> int:
    """Acknowledged records that DrillWindStream does not hold under their sequence number."""
    stored = {(r["SequenceNumber"], r["Data"]) for r in read_stream(WIND_STREAM)}
    return sum((sequence, data) not in stored for _, sequence, data in acknowledged)


def resources_missing() -> list[str]:
    endpoint = lab.settings().endpoint_url
    streams = set(aws_client("kinesis", endpoint).list_streams()["StreamNames"])
    tables = set(aws_client("dynamodb", endpoint).list_tables()["TableNames"])
    lam = aws_client("lambda", endpoint)
    functions = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    triggers = lam.list_event_source_mappings(FunctionName=FUNCTION)["EventSourceMappings"]
    wanted = {f"stream {s}": s in streams for s in (WIND_STREAM, ANOMALY_STREAM)}
    wanted.update({f"table {t}": t in tables for t in (TABLE, DELIVERIES)})
    wanted.update({f"function {FUNCTION}": FUNCTION in functions, "the trigger": len(triggers) == 1})
    return [name for name, there in wanted.items() if not there]


def trigger_polling(mapping: str) -> bool:
    mappings = lab.status()["components"]["lambda"]["mappings"]
    return mapping in mappings and bool(mappings[mapping]["shards"])


def test_kill_9_of_the_whole_stack_again_and_again_loses_nothing_acknowledged(drill):
    chance = random.Random()
    mapping = drill.trigger()["uuid"]
    sent = prefixed("anomaly", DRILL, RATE * (KILLS * 8 + 20))
    producers = send(sent, rate=RATE)
    wait_until(lambda: len(items(DRILL)) >= 20, 180, "the first items of the drill", quiet=True, interval_s=1)
    started, downtimes = time.monotonic(), []
    for kill in range(KILLS):
        time.sleep(chance.uniform(1, 8))  # a random moment: mid-checkpoint, mid-batch, mid-put
        killed = time.monotonic()
        kill_stack(lab.status())
        lab.up(quiet=True)
        missing = missing_acknowledged(producers[0].acknowledged)
        assert missing == 0, f"kill {kill + 1}: {missing} acknowledged records are not in {WIND_STREAM}"
        assert resources_missing() == [], f"kill {kill + 1}: gone after up"
        wait_until(lambda: lab.apps.status(NAMES.anomaly_app) == "RUNNING", 300,
                   f"AnomalyDetection to run again by itself after kill {kill + 1}", quiet=True, interval_s=2)
        wait_until(lambda: trigger_polling(mapping), 60, "the trigger to poll again", quiet=True, interval_s=1)
        downtimes.append(time.monotonic() - killed)
    finish(producers, timeout_s=900)
    assert missing_acknowledged(producers[0].acknowledged) == 0
    wait_for_items(DRILL, len(sent), timeout_s=600)

    figures = audit(DRILL, sent)
    delivered_twice = figures["delivered_again"]
    window = round(sum(RATE * (CHECKPOINT_INTERVAL_S + down) + TRIGGER["batch_size"] for down in downtimes))
    assert figures["lost"] == figures["unexpected"] == 0, figures
    assert figures["records_out"] == len(sent), "one item per reading"
    assert figures["wrong_scores"] == 0, "scores differ from an uninterrupted run: a forest was not restored"
    assert figures["duplicated"] == 0, "a reading written twice: the function wrote an item it had stored again"
    assert figures["uncounted"] <= KILLS * TRIGGER["batch_size"], "writes the counter missed beyond one batch a kill"
    assert delivered_twice <= window, f"{delivered_twice} repeated deliveries, beyond the stated window {window}"
    record_figures(DRILL, f"kill -9 of the whole stack {KILLS} times at random moments, `labkit up` after each",
                   "every acknowledged record kept its sequence number; the app resumed from its job's latest "
                   "checkpoint and the trigger from its checkpoint by themselves; the producer sent again what met "
                   "the dead endpoint; the function wrote no item twice", figures, kills=KILLS,
                   acknowledged_records=len(producers[0].acknowledged), repeated_deliveries=delivered_twice,
                   replay_window=window, replayed_records=replays(DRILL), rate=RATE,
                   downtime_s=[round(down) for down in downtimes], minutes=round((time.monotonic() - started) / 60, 1))
