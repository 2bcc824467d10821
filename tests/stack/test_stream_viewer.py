"""The Kinesis data viewer returns exactly the records put, for each starting position."""
from __future__ import annotations

import json
import time

import pytest

from labkit.errors import BadParameter, ResourceMissing
from labkit.resources import streams
from labkit.ui.stream_viewer import StreamViewer
from tests.conftest import aws_client

LOCATIONS = ("North Ridge", "Lakeshore", "Quarry Hill")


def _put(stack, stream: str, first: int, count: int, **target) -> list[str]:
    """Put readings n = first .. first+count-1; returns their sequence numbers."""
    records = [{"Data": json.dumps({"n": n, "location": LOCATIONS[n % 3], "speed": 20.0 + n}).encode(),
                "PartitionKey": LOCATIONS[n % 3], **target} for n in range(first, first + count)]
    response = aws_client("kinesis", stack.endpoint_url).put_records(StreamName=stream, Records=records)
    assert response["FailedRecordCount"] == 0
    return [r["SequenceNumber"] for r in response["Records"]]


@pytest.fixture(scope="module")
def filled(stack):
    """A one-shard stream with readings 0-29, then (after `between`) readings 30-49, put after a LATEST
    reader was opened."""
    streams.create("ViewerStream", quiet=True)
    sequence = _put(stack, "ViewerStream", 0, 30)
    latest = streams.ShardReader("ViewerStream", position="LATEST")
    between = time.time()
    sequence += _put(stack, "ViewerStream", 30, 20)
    return {"sequence": sequence, "latest": latest, "between": between}


def _ns(frame) -> list[int]:
    return [int(n) for n in frame.get("n", [])]


def test_trim_horizon_returns_every_record_in_order(filled):
    frame = streams.read_records("ViewerStream", position="TRIM_HORIZON", limit=1000)
    assert _ns(frame) == list(range(50))
    assert list(frame["sequence_number"]) == filled["sequence"]
    assert list(frame["partition_key"]) == [LOCATIONS[n % 3] for n in range(50)]
    assert list(frame["location"]) == list(frame["partition_key"])
    assert list(frame["speed"]) == [20.0 + n for n in range(50)]
    assert str(frame["arrival"].dt.tz) == "UTC"


def test_at_sequence_number_starts_at_that_record(filled):
    frame = streams.read_records("ViewerStream", position="AT_SEQUENCE_NUMBER",
                                 sequence_number=filled["sequence"][12], limit=1000)
    assert _ns(frame) == list(range(12, 50))


def test_after_sequence_number_starts_after_that_record(filled):
    frame = streams.read_records("ViewerStream", position="AFTER_SEQUENCE_NUMBER",
                                 sequence_number=filled["sequence"][12], limit=1000)
    assert _ns(frame) == list(range(13, 50))


def test_latest_returns_only_records_put_after_the_reader_started(filled):
    assert _ns(filled["latest"].read(limit=1000)) == list(range(30, 50))
    assert streams.read_records("ViewerStream", position="LATEST").empty


def test_at_timestamp_returns_the_records_that_arrived_from_then(filled):
    frame = streams.read_records("ViewerStream", position="AT_TIMESTAMP", timestamp=filled["between"], limit=1000)
    assert _ns(frame) == list(range(30, 50))
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(filled["between"] - 3600)) + "Z"
    assert _ns(streams.read_records("ViewerStream", position="AT_TIMESTAMP", timestamp=iso, limit=1000)) == \
        list(range(50))


def test_limit_pages_through_the_shard(filled):
    reader = streams.ShardReader("ViewerStream")
    pages = [_ns(reader.read(limit=20)) for _ in range(4)]
    assert pages == [list(range(20)), list(range(20, 40)), list(range(40, 50)), []]


def test_a_chosen_shard_shows_only_its_records(stack):
    streams.create("ViewerTwoShards", shards=2, quiet=True)
    first, second = streams.describe("ViewerTwoShards")["shards"]
    _put(stack, "ViewerTwoShards", 0, 5, ExplicitHashKey="0")
    _put(stack, "ViewerTwoShards", 100, 7, ExplicitHashKey=str(2 ** 127 + 1))
    assert _ns(streams.read_records("ViewerTwoShards", shard_id=first)) == list(range(5))
    assert _ns(streams.read_records("ViewerTwoShards", shard_id=second)) == list(range(100, 107))


def test_records_that_are_not_json_objects_show_as_text(stack):
    streams.create("ViewerCsv", quiet=True)
    aws_client("kinesis", stack.endpoint_url).put_record(StreamName="ViewerCsv", Data=b'"North Ridge",92.1',
                                                         PartitionKey="North Ridge")
    frame = streams.read_records("ViewerCsv")
    assert list(frame["data"]) == ['"North Ridge",92.1']


@pytest.mark.parametrize("kwargs, message", [
    ({"stream": "NoSuchStream"}, "does not exist. Create it with"),
    ({"position": "OLDEST"}, "is not a starting position"),
    ({"position": "AT_SEQUENCE_NUMBER"}, "needs a sequence_number"),
    ({"position": "AT_TIMESTAMP"}, "needs a timestamp"),
    ({"position": "AT_TIMESTAMP", "timestamp": "yesterday-ish"}, "is not a time"),
    ({"shard_id": "shardId-000000000009"}, "has no open shard 'shardId-000000000009'"),
    ({"limit": 0}, "at least 1"),
])
def test_bad_requests_say_what_to_do(filled, kwargs, message):
    with pytest.raises((BadParameter, ResourceMissing), match=message):
        streams.read_records(**{"stream": "ViewerStream", **kwargs})


def test_viewer_widget_gets_and_pages_records(filled):
    viewer = StreamViewer("ViewerStream", limit=20)
    assert viewer.shard.options == ("shardId-000000000000",)
    viewer.position.value = "AT_SEQUENCE_NUMBER"
    viewer.sequence_number.value = filled["sequence"][5]
    viewer.get_button.click()
    assert _ns(viewer.frame) == list(range(5, 25))
    assert "text/html" in viewer.table.outputs[0]["data"]
    viewer.next_button.click()
    assert _ns(viewer.frame) == list(range(25, 45))
    assert len(viewer.table.outputs) == 1


def test_viewer_widget_names_a_missing_stream(stack):
    viewer = StreamViewer("NoSuchStream")
    assert viewer.shard.options == ()
    assert "does not exist" in viewer.message.value and "notebook 01" in viewer.message.value
