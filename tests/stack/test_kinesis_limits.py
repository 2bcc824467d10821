"""With LABKIT_KINESIS_LIMITS=on the local stack keeps AWS's per-shard limits (5 GetRecords calls/s, 1,000
records/s written) and answers beyond them with ProvisionedThroughputExceededException; the Lambda poller
shares the shard with a greedy reader, backs off when refused, and still delivers every record in order."""
from __future__ import annotations

import threading
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from labkit.local import control
from tests.conftest import free_port
from tests.stack.test_esm_semantics import Probe, numbered


@pytest.fixture
def limited_stack(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LABKIT_KINESIS_LIMITS", "on")
    for var in ("LABKIT_AWS_PORT", "LABKIT_SERVICE_PORT", "LABKIT_FLINK_PORT"):
        monkeypatch.setenv(var, str(free_port()))
    yield control.up(quiet=True)["endpoint"]
    control.down(quiet=True)


def no_retries(endpoint: str):
    return boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test", config=Config(retries={"total_max_attempts": 1}))


def refused(call) -> bool:
    try:
        call()
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
        return True
    return False


def test_limits_on_the_stack_and_the_lambda_poller_shares_a_shard_within_them(limited_stack, tmp_path):
    probe = Probe(limited_stack, tmp_path)
    kinesis = no_retries(limited_stack)
    answers = [kinesis.put_records(StreamName=probe.name, Records=[{"Data": b"w%d" % i, "PartitionKey": "k"}
                                                                   for i in range(count)]) for count in (500, 500, 100)]
    assert [a["FailedRecordCount"] for a in answers] == [0, 0, 100]
    assert {r["ErrorCode"] for r in answers[2]["Records"]} == {"ProvisionedThroughputExceededException"}

    iterator = kinesis.get_shard_iterator(StreamName=probe.name, ShardId="shardId-000000000000",
                                          ShardIteratorType="LATEST")["ShardIterator"]
    time.sleep(1.1)
    started = time.monotonic()
    outcomes = [refused(lambda: kinesis.get_records(ShardIterator=iterator)) for _ in range(6)]
    if time.monotonic() - started < 1:
        assert outcomes == [False] * 5 + [True]

    function = probe.function()
    probe.map(function, StartingPosition="LATEST", BatchSize=5)
    stop = threading.Event()

    def greedy() -> None:  # takes every GetRecords call the shard has left
        while not stop.is_set():
            refused(lambda: kinesis.get_records(ShardIterator=iterator))
            time.sleep(0.02)

    reader = threading.Thread(target=greedy, daemon=True)
    reader.start()
    try:
        time.sleep(1.1)  # the write window of the 1,000 records above has passed
        probe.put(*numbered(12))
        time.sleep(4)
    finally:
        stop.set()
        reader.join()
    probe.wait(lambda: len(probe.delivered()) == 12, "the twelve records after the greedy reader stopped")
    assert probe.delivered() == numbered(12)
    mappings = control.status()["components"]["lambda"]["mappings"]  # each poller counts its refused reads
    throttled = [s["throttled_reads"] for m in mappings.values() for s in m["shards"].values()]
    assert sum(throttled) >= 1, "the poller was never refused while the greedy reader held the shard"
