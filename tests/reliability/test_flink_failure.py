"""Drill: kill -9 of the Flink TaskManager (the JVM that runs the job) mid-stream.

The local Managed Flink starts a new TaskManager, as Managed Flink replaces a failed one, and Flink restores
the job from its latest checkpoint: the Kinesis position and every location's forest. The sink writes the
records processed since that checkpoint again and the trigger delivers those copies too: the delivery counter
must count each copy the stream holds as delivered, and each reading as written once (the function finds the
item of a copy already stored)."""
from __future__ import annotations

import os
import signal
import time

import pytest

import labkit as lab
from labkit.errors import WaitTimedOut
from labkit.progress import wait_until
from tests.conftest import aws_client
from tests.reliability.pipeline import (ANOMALY_STREAM, audit, event_id, finish, flink, items, prefixed,
                                        record_figures, replays, send, wait_for_items)

pytestmark = pytest.mark.flink
DRILL = "kill9"


def taskmanager() -> int | None:
    return lab.status()["components"]["flink"]["processes"].get("taskmanager")


def output_since_last_checkpoint(job: str, prefix: str):
    """A condition: the job has written records of the drill after its latest completed checkpoint, so a kill
    now makes the restored job write them again (the case the keyed items must absorb). The job writes mostly
    as a checkpoint begins, so the moment is short and may be missed."""
    kinesis = aws_client("kinesis", lab.settings().endpoint_url)
    shard = kinesis.list_shards(StreamName=ANOMALY_STREAM)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=ANOMALY_STREAM, ShardId=shard,
                                          ShardIteratorType="LATEST")["ShardIterator"]
    newest = [0.0]

    def condition() -> bool:
        nonlocal iterator
        page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
        iterator = page["NextShardIterator"]
        for record in page["Records"]:
            if str(event_id(record["Data"])).startswith(f"{prefix}:"):
                newest[0] = max(newest[0], record["ApproximateArrivalTimestamp"].timestamp())
        completed = flink(f"/jobs/{job}/checkpoints")["latest"]["completed"]
        return bool(completed) and newest[0] > completed["latest_ack_timestamp"] / 1000

    return condition


def test_kill_9_of_the_taskmanager_mid_stream_loses_and_duplicates_nothing(drill):
    sent = prefixed("wind", DRILL, 1600)
    producers = send(sent, rate=40)
    job, lost_taskmanager = drill.job_id(), taskmanager()
    wait_until(lambda: len(items(DRILL)) >= 100, 180, "the first items of the drill", quiet=True, interval_s=1)
    try:
        wait_until(output_since_last_checkpoint(job, DRILL), 15, "output after a checkpoint", quiet=True,
                   interval_s=0.05)
    except WaitTimedOut:
        pass  # kill all the same: what the restored job writes again is then only what it had not acknowledged
    os.kill(lost_taskmanager, signal.SIGKILL)
    killed_at, killed_mono = time.time(), time.monotonic()
    assert producers[0].is_alive(), "the drill must kill the TaskManager while readings still arrive"
    delivered_before = len(items(DRILL))

    wait_until(lambda: taskmanager() not in (None, lost_taskmanager), 120, "a new TaskManager", quiet=True)
    finish(producers)
    wait_for_items(DRILL, len(sent))
    recovered_s = time.monotonic() - killed_mono

    figures = audit(DRILL, sent)
    assert figures["lost"] == figures["duplicated"] == figures["unexpected"] == figures["uncounted"] == 0, figures
    assert figures["wrong_scores"] == 0, "scores differ from an uninterrupted run: the forests were not restored"
    replayed = replays(DRILL)
    assert figures["delivered_again"] == replayed, "the counter must see every copy the job wrote again delivered"
    restored = flink(f"/jobs/{job}/checkpoints")["latest"]["restored"]
    assert restored and not restored["is_savepoint"], "the job must restore its latest checkpoint"
    assert restored["restore_timestamp"] / 1000 > killed_at
    record_figures(DRILL, "kill -9 of the Flink TaskManager mid-stream",
                   f"new TaskManager started; job restored checkpoint {restored['id']}; the {replayed} records it "
                   "had written after that checkpoint it wrote again, and the trigger delivered them again; the "
                   "function found their items stored and did not write them again",
                   figures, delivered_before_kill=delivered_before, replayed_records=replayed,
                   all_delivered_after_s=round(recovered_s))
