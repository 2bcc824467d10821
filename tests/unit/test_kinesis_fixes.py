"""What labkit's Kinesis fixes (labkit/local/kinesis_fixes.py) re-implement and must keep doing as moto did.
The defects they remove are proven in test_moto_patches.py."""
from __future__ import annotations

import time

import pytest

from .test_moto_patches import _fill, _iterator, kinesis, patched_moto  # noqa: F401 (fixtures)


def test_at_timestamp_starts_at_the_first_record_at_or_after_it(kinesis):
    _fill(kinesis, 5)
    time.sleep(0.05)
    marker = time.time()
    time.sleep(0.05)
    kinesis.put_record(StreamName="s", Data=b"after", PartitionKey="p")
    iterator = _iterator(kinesis, "AT_TIMESTAMP", Timestamp=marker)
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=iterator)["Records"]] == [b"after"]


def test_reading_resumes_after_a_sequence_number_across_pages(kinesis):
    _fill(kinesis, 1200)
    seen, iterator = [], _iterator(kinesis)
    while page := kinesis.get_records(ShardIterator=iterator, Limit=500)["Records"]:
        seen += page
        iterator = _iterator(kinesis, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=page[-1]["SequenceNumber"])
    assert [r["Data"] for r in seen] == [b"%d" % i for i in range(1200)]


@pytest.mark.parametrize("kind", ["TRIM_HORIZON", "LATEST"])
def test_an_empty_shard_reads_nothing_and_then_what_arrives(kinesis, kind):
    iterator = _iterator(kinesis, kind)
    page = kinesis.get_records(ShardIterator=iterator)
    assert page["Records"] == []
    kinesis.put_record(StreamName="s", Data=b"first", PartitionKey="p")
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=page["NextShardIterator"])["Records"]] == [b"first"]
