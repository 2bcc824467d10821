"""Drill: kill -9 of the WHOLE local stack (the stack, its children, the Flink cluster) at random moments
while readings stream through the pipeline, then `labkit up`, again and again.

After each `up`: every record PutRecords acknowledged is in DrillWindStream under its sequence number, every
drill resource exists, and AnomalyDetection and the trigger run again by themselves (the app from its job's
latest retained checkpoint). The producer meets the dead endpoint and sends the same batch again until it
answers, which is "sending once more from where it stopped". At the end every reading is one item, and the
function's deliveries are COUNTED per event id (a counter table the drill's handler adds one to per record it
processed), since keyed items hide a record delivered twice.

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
from tests.reliability.pipeline import (ANOMALY_STREAM, FUNCTION, TABLE, TRIGGER, WIND_STREAM, audit, finish,
                                        function_zip, items, prefixed, read_stream, record_figures, replays, send,
                                        wait_for_items)

pytestmark = pytest.mark.flink
DRILL = "crash"
KILLS = int(os.environ.get("LABKIT_CRASH_DRILL_KILLS", "3"))  # `make reliability` runs 10; the test suite 3
RATE = 40  # readings/s
CHECKPOINT_INTERVAL_S = 5  # the local cluster's (flink_cluster.py)
DELIVERIES = "DrillDeliveries"
COUNTING_HANDLER = '''
import base64, json, os
import boto3
import analytics_destination

table = boto3.resource("dynamodb").Table(os.environ["DELIVERY_TABLE"])


def handler(event, context):
    """The lab's handler, then one more delivery counted for each record it processed."""
    answer = analytics_destination.handler(event, context) or {}
    failed = [int(f["itemIdentifier"]) for f in answer.get("batchItemFailures", [])]
    for record in event["Records"]:
        if failed and int(record["kinesis"]["sequenceNumber"]) >= min(failed):
            continue
        try:
            event_id = json.loads(base64.b64decode(record["kinesis"]["data"]))["event_id"]
        except (ValueError, KeyError, TypeError):
            continue
        table.update_item(Key={"event_id": event_id}, UpdateExpression="ADD deliveries :one",
                          ExpressionAttributeValues={":one": 1})
    return answer
'''


def deliveries() -> dict[str, int]:
    """Deliveries counted per event id of this drill."""
    dynamodb = aws_client("dynamodb", lab.settings().endpoint_url)
    counted, start = {}, {}
    while True:
        page = dynamodb.scan(TableName=DELIVERIES, **start)
        counted.update((i["event_id"]["S"], int(i["deliveries"]["N"])) for i in page["Items"]
                       if i["event_id"]["S"].startswith(f"{DRILL}:"))
        if "LastEvaluatedKey" not in page:
            return counted
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


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


@pytest.fixture
def counting_function(drill):
    lab.tables.create(DELIVERIES, partition_key="event_id", quiet=True)
    drill.deploy(handler="counting.handler", code=function_zip(("counting.py", COUNTING_HANDLER)),
                 DELIVERY_TABLE=DELIVERIES)
    yield drill
    drill.deploy()
    lab.tables.delete(DELIVERIES, quiet=True)


def test_kill_9_of_the_whole_stack_again_and_again_loses_nothing_acknowledged(counting_function):
    drill, chance = counting_function, random.Random()
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
    wait_until(lambda: len(deliveries()) >= len(sent), 120, "every delivery counted", quiet=True, interval_s=2)

    figures = audit(DRILL, sent)
    counted = deliveries()
    delivered_twice = sum(n - 1 for n in counted.values())
    window = round(sum(RATE * (CHECKPOINT_INTERVAL_S + down) + TRIGGER["batch_size"] for down in downtimes))
    assert figures["lost"] == figures["unexpected"] == 0, figures
    assert figures["records_out"] == len(sent), "one item per reading"
    assert figures["wrong_scores"] == 0, "scores differ from an uninterrupted run: a forest was not restored"
    assert set(counted) == {r["event_id"] for r in sent}, "a reading reached the table but was never counted"
    assert delivered_twice <= window, f"{delivered_twice} repeated deliveries, beyond the stated window {window}"
    record_figures(DRILL, f"kill -9 of the whole stack {KILLS} times at random moments, `labkit up` after each",
                   "every acknowledged record kept its sequence number; the app resumed from its job's latest "
                   "checkpoint and the trigger from its checkpoint by themselves; the producer sent again what met "
                   "the dead endpoint", {**figures, "duplicated": delivered_twice}, kills=KILLS,
                   acknowledged_records=len(producers[0].acknowledged), repeated_deliveries=delivered_twice,
                   replay_window=window, replayed_records=replays(DRILL), rate=RATE,
                   downtime_s=[round(down) for down in downtimes], minutes=round((time.monotonic() - started) / 60, 1))
