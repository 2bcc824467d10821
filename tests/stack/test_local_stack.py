"""The local stack as a student and the CLI see it."""
from __future__ import annotations

import json
import subprocess
import sys
import threading

import psutil
import pytest

from labkit.local import control
from tests.conftest import aws_client

PRODUCERS, PER_PRODUCER = 4, 10_000


def _concurrent_put_and_read_back(endpoint: str, stream: str, per_producer: int):
    kinesis = aws_client("kinesis", endpoint)
    kinesis.create_stream(StreamName=stream, ShardCount=1)

    def produce(producer: int) -> None:
        client = aws_client("kinesis", endpoint)
        for start in range(0, per_producer, 250):
            batch = [{"Data": f"{producer}-{i}".encode(), "PartitionKey": f"p{producer}"}
                     for i in range(start, min(start + 250, per_producer))]
            response = client.put_records(StreamName=stream, Records=batch)
            assert response["FailedRecordCount"] == 0

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(PRODUCERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId="shardId-000000000000",
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = []
    while True:
        page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
        records += page["Records"]
        if not page["Records"]:
            return records
        iterator = page["NextShardIterator"]


def _assert_complete(records, per_producer: int) -> None:
    payloads = [r["Data"].decode() for r in records]
    expected = {f"{p}-{i}" for p in range(PRODUCERS) for i in range(per_producer)}
    assert len(payloads) == len(set(payloads)), "duplicated records"
    assert set(payloads) == expected, f"{len(expected - set(payloads))} records lost"
    sequence = [int(r["SequenceNumber"]) for r in records]
    assert all(a < b for a, b in zip(sequence, sequence[1:])), "sequence numbers not strictly increasing"


def test_four_concurrent_producers_lose_nothing(stack):
    records = _concurrent_put_and_read_back(stack.endpoint_url, "ConcurrentProducers", PER_PRODUCER)
    _assert_complete(records, PER_PRODUCER)


@pytest.mark.xfail(strict=True, raises=AssertionError, reason="stock moto's put path is not thread-safe")
def test_stock_moto_loses_records_under_concurrent_producers(stock_moto_url):
    records = _concurrent_put_and_read_back(stock_moto_url, "ConcurrentProducers", 2_500)
    _assert_complete(records, 2_500)


def test_up_again_is_a_no_op(stack):
    before = control.status()
    after = control.up(quiet=True)
    assert after["running"] and after["pid"] == before["pid"]


def test_status_json_names_the_endpoint(stack):
    out = subprocess.run([sys.executable, "-m", "labkit", "status", "--json"], capture_output=True, text=True,
                         check=True).stdout
    report = json.loads(out)
    assert report["running"] is True
    assert report["endpoint"] == stack.endpoint_url


def _stack_processes(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def test_every_listening_socket_of_the_stack_is_on_loopback(stack):
    pid = control.status()["pid"]
    listening = [c for p in _stack_processes(pid) for c in p.net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN]
    assert listening, "the stack should listen on at least its two ports"
    assert {c.laddr.ip for c in listening} <= {"127.0.0.1"}, listening
