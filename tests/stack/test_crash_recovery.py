"""kill -9 of the whole local stack loses nothing it acknowledged (durable_endpoint.py), on a stack of its own."""
from __future__ import annotations

import threading
import time

import pytest

from labkit.local import control
from tests.conftest import aws_client, free_port, kill_stack


@pytest.fixture
def own_stack_env(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_STATE_DIR", str(tmp_path / "state"))
    for var in ("LABKIT_AWS_PORT", "LABKIT_SERVICE_PORT", "LABKIT_FLINK_PORT"):
        monkeypatch.setenv(var, str(free_port()))
    yield
    control.down(quiet=True)


class Writer(threading.Thread):
    """Writes in a loop until the stack dies; keeps what each call acknowledged."""

    def __init__(self, endpoint: str):
        super().__init__(daemon=True)
        self.kinesis = aws_client("kinesis", endpoint)
        self.dynamodb = aws_client("dynamodb", endpoint)
        self.records: dict[tuple[str, str], bytes] = {}  # (shard, sequence number) -> data, as acknowledged
        self.items: set[str] = set()  # ids BatchWriteItem acknowledged (sent minus UnprocessedItems)
        self.batches = 0

    def run(self) -> None:
        try:
            while True:
                n = self.batches
                self.batches += 1
                entries = [{"Data": b"r%d-%d" % (n, i), "PartitionKey": f"k{i}"} for i in range(100)]
                answer = self.kinesis.put_records(StreamName="Burst", Records=entries)
                for entry, result in zip(entries, answer["Records"]):
                    if "SequenceNumber" in result:
                        self.records[result["ShardId"], result["SequenceNumber"]] = entry["Data"]
                ids = [f"i{n}-{i}" for i in range(25)]
                answer = self.dynamodb.batch_write_item(RequestItems={"Burst": [
                    {"PutRequest": {"Item": {"id": {"S": i}, "n": {"N": str(n)}}}} for i in ids]})
                unprocessed = {r["PutRequest"]["Item"]["id"]["S"] for r in answer["UnprocessedItems"].get("Burst", [])}
                self.items.update(set(ids) - unprocessed)
        except Exception:  # the stack was killed: what was acknowledged so far is the test's evidence
            return


def _stream_contents(kinesis) -> dict[tuple[str, str], bytes]:
    found = {}
    for shard in kinesis.list_shards(StreamName="Burst")["Shards"]:
        iterator = kinesis.get_shard_iterator(StreamName="Burst", ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            found.update(((shard["ShardId"], r["SequenceNumber"]), r["Data"]) for r in page["Records"])
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            iterator = page.get("NextShardIterator")
    return found


def _table_ids(dynamodb) -> set[str]:
    ids, start = set(), {}
    while True:
        page = dynamodb.scan(TableName="Burst", **start)
        ids.update(item["id"]["S"] for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return ids
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def test_kill_9_during_a_put_and_batch_write_burst_loses_nothing_acknowledged(own_stack_env):
    report = control.up(quiet=True)
    kinesis, dynamodb = aws_client("kinesis", report["endpoint"]), aws_client("dynamodb", report["endpoint"])
    kinesis.create_stream(StreamName="Burst", ShardCount=2)
    dynamodb.create_table(TableName="Burst", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    kinesis.get_waiter("stream_exists").wait(StreamName="Burst")
    writer = Writer(report["endpoint"])
    writer.start()
    deadline = time.monotonic() + 60
    while writer.batches < 20 and time.monotonic() < deadline:  # mid-burst, not between bursts
        time.sleep(0.05)
    kill_stack(report)
    writer.join(timeout=30)
    assert writer.records and writer.items, "the burst acknowledged nothing before the kill"

    report = control.up(quiet=True)
    kinesis, dynamodb = aws_client("kinesis", report["endpoint"]), aws_client("dynamodb", report["endpoint"])
    stored = _stream_contents(kinesis)
    missing = {seq: data for seq, data in writer.records.items() if stored.get(seq) != data}
    assert not missing, f"{len(missing)} of {len(writer.records)} acknowledged records are gone or renumbered"
    lost_items = writer.items - _table_ids(dynamodb)
    assert not lost_items, f"{len(lost_items)} of {len(writer.items)} acknowledged items are gone"
    assert any("had not stopped cleanly" in notice and "recovered" in notice for notice in report["notices"]), \
        report["notices"]

    kinesis.put_record(StreamName="Burst", Data=b"after", PartitionKey="k0")  # and the stack goes on serving
    assert b"after" in _stream_contents(kinesis).values()


def test_a_clean_restart_says_nothing_about_recovery(own_stack_env):
    report = control.up(quiet=True)
    aws_client("kinesis", report["endpoint"]).create_stream(StreamName="Calm", ShardCount=1)
    control.down(quiet=True)
    report = control.up(quiet=True)
    assert not any("recovered" in notice for notice in report["notices"])
    assert aws_client("kinesis", report["endpoint"]).list_streams()["StreamNames"] == ["Calm"]
