"""Each labkit fix to moto's Kinesis, shown in-process on the pinned moto: the 'stock' variant runs the
same assertion on unpatched moto and is expected to fail (strict xfail), proving the defect is real."""
from __future__ import annotations

import sys
import time
import tracemalloc

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from labkit.local import kinesis_fixes

STOCK = pytest.param("stock", marks=pytest.mark.xfail(strict=True, reason="defect of stock moto"))


def _kinesis(fixed: bool, monkeypatch):
    for owner, name, original in kinesis_fixes.originals():  # stock moto, even if a stack ran in this process
        if original is None:
            monkeypatch.delattr(owner, name)
        else:
            monkeypatch.setattr(owner, name, original)
    if fixed:
        for owner, name, replacement in kinesis_fixes.patches():
            monkeypatch.setattr(owner, name, replacement, raising=False)
    with mock_aws():
        client = boto3.client("kinesis", region_name="us-east-1")
        client.create_stream(StreamName="s", ShardCount=1)
        yield client


@pytest.fixture(params=["fixed", STOCK])
def kinesis(request, monkeypatch):
    """Parametrised over fixed and stock moto: for tests of a defect."""
    yield from _kinesis(request.param == "fixed", monkeypatch)


@pytest.fixture
def fixed_kinesis(monkeypatch):
    """Fixed moto only: for behaviour the fixes re-implement and must keep."""
    yield from _kinesis(True, monkeypatch)


def _fill(client, count: int) -> None:
    for start in range(0, count, 500):
        client.put_records(StreamName="s", Records=[
            {"Data": b"%d" % i, "PartitionKey": "p"} for i in range(start, min(start + 500, count))])


def _iterator(client, kind="TRIM_HORIZON", **extra):
    return client.get_shard_iterator(StreamName="s", ShardId="shardId-000000000000",
                                     ShardIteratorType=kind, **extra)["ShardIterator"]


def _line_events(fn) -> int:
    """Python lines executed by `fn` inside moto's and labkit's Kinesis code (a work count, not a time)."""
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        name = frame.f_code.co_filename
        if "kinesis" in name:
            if event == "line":
                count += 1
            return tracer
        return tracer

    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return count


def test_reading_the_tail_of_a_long_shard_does_not_rescan_it(kinesis):
    _fill(kinesis, 200)
    short = _line_events(lambda: kinesis.get_records(ShardIterator=_iterator(kinesis, "LATEST"), Limit=10))
    _fill(kinesis, 5000)
    long = _line_events(lambda: kinesis.get_records(ShardIterator=_iterator(kinesis, "LATEST"), Limit=10))
    assert long <= short * 1.5, f"reading at the tail cost {long} lines at 5,200 records vs {short} at 200"


def test_a_put_costs_the_same_memory_at_any_stream_length(kinesis):
    def peak_of_one_put() -> int:
        peaks = []
        for _ in range(3):  # the lowest of three: the first put also allocates one-time caches
            tracemalloc.start()
            kinesis.put_record(StreamName="s", Data=b"x", PartitionKey="p")
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
        return min(peaks)

    _fill(kinesis, 100)
    small = peak_of_one_put()
    _fill(kinesis, 20_000)
    large = peak_of_one_put()
    assert large < small + 40_000, f"one put peaked at {large} bytes with 20k records vs {small} with 100"


def test_records_older_than_the_retention_period_are_trimmed(kinesis, monkeypatch):
    _fill(kinesis, 10)
    monkeypatch.setattr(kinesis_fixes, "clock", lambda: time.time() + 25 * 3600)
    records = kinesis.get_records(ShardIterator=_iterator(kinesis))["Records"]
    assert records == []


def test_at_timestamp_starts_at_the_first_record_at_or_after_it(fixed_kinesis):
    _fill(fixed_kinesis, 5)
    time.sleep(0.05)
    marker = time.time()
    time.sleep(0.05)
    fixed_kinesis.put_record(StreamName="s", Data=b"after", PartitionKey="p")
    iterator = _iterator(fixed_kinesis, "AT_TIMESTAMP", Timestamp=marker)
    assert [r["Data"] for r in fixed_kinesis.get_records(ShardIterator=iterator)["Records"]] == [b"after"]


def test_reading_resumes_after_a_sequence_number_across_pages(fixed_kinesis):
    _fill(fixed_kinesis, 1200)
    seen, iterator = [], _iterator(fixed_kinesis)
    while page := fixed_kinesis.get_records(ShardIterator=iterator, Limit=500)["Records"]:
        seen += page
        iterator = _iterator(fixed_kinesis, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=page[-1]["SequenceNumber"])
    assert [r["Data"] for r in seen] == [b"%d" % i for i in range(1200)]


def test_an_invalid_shard_iterator_is_an_invalid_argument(kinesis):
    with pytest.raises(ClientError) as error:
        kinesis.get_records(ShardIterator="not-a-valid-iterator!!")
    assert error.value.response["Error"]["Code"] == "InvalidArgumentException"


def test_put_record_does_not_invoke_mapped_lambdas_synchronously(kinesis, monkeypatch):
    from moto.awslambda.models import LambdaBackend

    calls = []
    monkeypatch.setattr(LambdaBackend, "send_kinesis_message", lambda self, **kw: calls.append(kw))
    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    import io
    import zipfile

    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("f.py", "def handler(event, context):\n    return None\n")
    lam = boto3.client("lambda", region_name="us-east-1")
    lam.create_function(FunctionName="f", Runtime="python3.11", Role=role, Handler="f.handler",
                        Code={"ZipFile": code.getvalue()})
    arn = kinesis.describe_stream(StreamName="s")["StreamDescription"]["StreamARN"]
    lam.create_event_source_mapping(FunctionName="f", EventSourceArn=arn, StartingPosition="LATEST")
    kinesis.put_record(StreamName="s", Data=b"x", PartitionKey="p")
    assert calls == []


def test_concurrent_puts_get_distinct_sequence_numbers_even_when_threads_switch_constantly(fixed_kinesis):
    """The stream lock: without it, threads that switch mid-put hand out one sequence number twice."""
    import threading

    def produce(producer: int) -> None:
        for n in range(300):
            fixed_kinesis.put_records(StreamName="s", Records=[{"Data": b"%d-%d" % (producer, n), "PartitionKey": "p"}])

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=produce, args=(p,)) for p in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    records = fixed_kinesis.get_records(ShardIterator=_iterator(fixed_kinesis), Limit=10_000)["Records"]
    assert len({r["SequenceNumber"] for r in records}) == len(records) == 1200
    assert {r["Data"] for r in records} == {b"%d-%d" % (p, n) for p in range(4) for n in range(300)}
