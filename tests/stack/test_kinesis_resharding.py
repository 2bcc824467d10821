"""Resharding on the local target keeps Kinesis's identities, as on AWS: after SplitShard, MergeShards or
UpdateShardCount every record keeps the sequence number PutRecord returned, an iterator taken before continues
on the closed parent without re-reading it, and new records go to the open children.

The `assert_*` stories take any Kinesis client, so the moto patch registry's proofs
(tests/unit/test_moto_patches.py) run them in-process."""
from __future__ import annotations

import pytest

from tests.conftest import aws_client

PARENT = "shardId-000000000000"
MAX_PAGES = 20  # a closed shard read to its end must answer NextShardIterator null well before this


def split(kinesis, stream: str) -> None:
    kinesis.split_shard(StreamName=stream, ShardToSplit=PARENT, NewStartingHashKey=str(2**127))


def double(kinesis, stream: str) -> None:
    kinesis.update_shard_count(StreamName=stream, TargetShardCount=2, ScalingType="UNIFORM_SCALING")


def merge(kinesis, stream: str) -> None:
    first, second = sorted(s["ShardId"] for s in kinesis.list_shards(StreamName=stream)["Shards"])
    kinesis.merge_shards(StreamName=stream, ShardToMerge=first, AdjacentShardToMerge=second)


def halve(kinesis, stream: str) -> None:
    kinesis.update_shard_count(StreamName=stream, TargetShardCount=1, ScalingType="UNIFORM_SCALING")


def _put(kinesis, stream: str, tag: str, count: int) -> list[tuple[bytes, str, str]]:
    """(data, shard, sequence number) of `count` records put one by one, under `count` partition keys."""
    sent = []
    for n in range(count):
        data = f"{tag}-{n}".encode()
        answer = kinesis.put_record(StreamName=stream, Data=data, PartitionKey=f"turbine-{n}")
        sent.append((data, answer["ShardId"], answer["SequenceNumber"]))
    return sent


def _read_to_the_end(kinesis, iterator: str) -> list[tuple[bytes, str]]:
    """(data, sequence number) of what a closed shard still serves from `iterator`, until it says it is done."""
    read = []
    for _ in range(MAX_PAGES):
        page = kinesis.get_records(ShardIterator=iterator, Limit=2)
        read += [(r["Data"], r["SequenceNumber"]) for r in page["Records"]]
        iterator = page.get("NextShardIterator")
        if iterator is None:
            return read
    raise AssertionError(f"the closed parent still answers a NextShardIterator after {MAX_PAGES} reads")


def _shard(kinesis, stream: str, shard_id: str) -> list[tuple[bytes, str]]:
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    return [(r["Data"], r["SequenceNumber"]) for r in kinesis.get_records(ShardIterator=iterator)["Records"]]


def assert_resharding_keeps_records(kinesis, stream: str, reshard) -> None:
    """Put 6, read 3 of them, reshard, put 8 more: check every record's place and number, and the shard list."""
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    before = _put(kinesis, stream, "before", 6)
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=PARENT,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    first = kinesis.get_records(ShardIterator=iterator, Limit=3)
    reshard(kinesis, stream)
    after = _put(kinesis, stream, "after", 8)

    rest = _read_to_the_end(kinesis, first["NextShardIterator"])
    assert [(r["Data"], r["SequenceNumber"]) for r in first["Records"]] + rest == [(d, n) for d, _, n in before], (
        "the iterator taken before resharding must go on through the parent's records, each with its number")

    shards = {s["ShardId"]: s for s in kinesis.list_shards(StreamName=stream)["Shards"]}
    children = sorted(s for s in shards if shards[s].get("ParentShardId") == PARENT)
    assert len(children) == 2 and set(shards) == {PARENT, *children}
    assert shards[PARENT]["SequenceNumberRange"]["EndingSequenceNumber"] == before[-1][2], "the parent is closed"
    assert {shard for _, shard, _ in after} == set(children), "new records must go to both open children"
    for child in children:
        stored = _shard(kinesis, stream, child)
        assert stored == [(d, n) for d, shard, n in after if shard == child], f"{child} holds other records"
        numbers = [int(n) for _, n in stored]
        assert numbers == sorted(set(numbers)), f"{child}'s sequence numbers are not unique and increasing"
        assert numbers[0] > int(before[-1][2]), "a child's numbers must follow its parent's"
        assert shards[child]["SequenceNumberRange"]["StartingSequenceNumber"] == str(numbers[0])


def assert_merging_keeps_records(kinesis, stream: str, reshard) -> None:
    """Put 6 into two shards, merge them, put 6 more: the parents keep theirs, the one child takes the new ones."""
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    before = _put(kinesis, stream, "before", 6)
    reshard(kinesis, stream)
    after = _put(kinesis, stream, "after", 6)

    shards = {s["ShardId"]: s for s in kinesis.list_shards(StreamName=stream)["Shards"]}
    parents = sorted({shard for _, shard, _ in before})
    (child,) = set(shards) - set(parents)
    assert len(parents) == 2 and (shards[child]["ParentShardId"], shards[child]["AdjacentParentShardId"]) == (
        parents[0], parents[1])
    for parent in parents:
        assert _shard(kinesis, stream, parent) == [(d, n) for d, shard, n in before if shard == parent]
        assert "EndingSequenceNumber" in shards[parent]["SequenceNumberRange"], f"{parent} is still open"
    assert {shard for _, shard, _ in after} == {child}, "new records must go to the merged shard"
    assert _shard(kinesis, stream, child) == [(d, n) for d, _, n in after], "the merged shard holds other records"
    assert int(after[0][2]) > max(int(n) for _, _, n in before), "the child's numbers must follow its parents'"


@pytest.mark.parametrize("story, reshard", [(assert_resharding_keeps_records, split),
                                            (assert_resharding_keeps_records, double),
                                            (assert_merging_keeps_records, merge),
                                            (assert_merging_keeps_records, halve)],
                         ids=["SplitShard", "UpdateShardCount-up", "MergeShards", "UpdateShardCount-down"])
def test_resharding_keeps_every_record_with_its_number_and_sends_new_ones_to_the_children(stack, story, reshard):
    kinesis = aws_client("kinesis", stack.endpoint_url)
    stream = f"Reshard{reshard.__name__.title()}"
    try:
        story(kinesis, stream, reshard)
    finally:
        kinesis.delete_stream(StreamName=stream)
