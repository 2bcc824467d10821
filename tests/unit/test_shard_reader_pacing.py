"""The data viewer (streams.ShardReader) shares a shard's 5 reads/s with the Flink apps and the trigger: it paces
its reads, waits out a refused read, and says what to do when the shard keeps refusing (botocore Stubber)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from botocore.stub import Stubber

from labkit import clients
from labkit.errors import LabError
from labkit.resources import streams

SHARD = "shardId-000000000000"
RECORD = {"SequenceNumber": "7", "ApproximateArrivalTimestamp": datetime(2026, 12, 5, tzinfo=timezone.utc),
          "Data": b'{"speed": 31.5}', "PartitionKey": "North Ridge"}


@pytest.fixture
def kinesis(aws, monkeypatch):
    monkeypatch.setattr(streams, "REFUSED_BACKOFF_S", (0.01, 0.02))
    monkeypatch.setattr(streams, "READ_INTERVAL_S", 0.05)
    kinesis = clients.client("kinesis")
    with Stubber(kinesis) as stub:
        stub.add_response("list_shards", {"Shards": [{
            "ShardId": SHARD, "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": "1"},
            "SequenceNumberRange": {"StartingSequenceNumber": "1"}}]})
        stub.add_response("get_shard_iterator", {"ShardIterator": "it-1"})
        yield stub


def _refuse(stub: Stubber) -> None:
    stub.add_client_error("get_records", "ProvisionedThroughputExceededException", "Rate exceeded for shard")


def test_a_refused_read_is_tried_again_after_a_backoff(kinesis):
    reader = streams.ShardReader("WindDataStream")
    _refuse(kinesis)
    _refuse(kinesis)
    kinesis.add_response("get_records", {"Records": [RECORD], "NextShardIterator": "it-2", "MillisBehindLatest": 0})
    frame = reader.read(limit=1)
    assert list(frame["speed"]) == [31.5] and list(frame["sequence_number"]) == ["7"]
    kinesis.assert_no_pending_responses()


def test_a_shard_that_keeps_refusing_gets_a_sentence_with_what_to_do(kinesis):
    reader = streams.ShardReader("WindDataStream")
    for _ in range(len(streams.REFUSED_BACKOFF_S) + 1):
        _refuse(kinesis)
    with pytest.raises(LabError, match="kept refusing reads of shard .* stop a reader"):
        reader.read(limit=1)


def test_reads_in_a_row_keep_the_viewers_share_of_the_shard(kinesis, monkeypatch):
    calls = []
    monkeypatch.setattr(streams.time, "sleep", lambda s: calls.append(s))
    reader = streams.ShardReader("WindDataStream")
    for n in range(3):
        kinesis.add_response("get_records", {"Records": [RECORD], "NextShardIterator": f"it-{n + 2}",
                                             "MillisBehindLatest": 5})
    reader.read(limit=3)
    assert len(calls) == 3 and all(0 < s <= streams.READ_INTERVAL_S for s in calls[1:])


def test_a_read_ends_at_the_tip_while_records_keep_arriving(kinesis):
    reader = streams.ShardReader("WindDataStream")
    kinesis.add_response("get_records", {"Records": [RECORD], "NextShardIterator": "it-2", "MillisBehindLatest": 0})
    assert len(reader.read(limit=10_000)) == 1  # a further GetRecords would find no stubbed answer and fail
    kinesis.assert_no_pending_responses()
