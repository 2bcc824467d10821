"""The Wind Turbine Simulator keeps within a shard's write limit (1,000 records/s, on the local stack as on AWS):
a faster rate is slowed to it and the status says so, and a record refused because its shard is at the limit
is sent again after a short wait — never an error, nothing lost, order kept per location."""
from __future__ import annotations

import threading

import pytest

from labkit import datasets, simulate
from labkit.clients import client
from labkit.local import control, kinesis_fixes
from labkit.resources import streams
from tests.conftest import free_port
from tests.stack.test_simulator import assert_same_readings, stream_records

SLOWED = "sending slowed to the shard's write limit: 1,000 records/s"


@pytest.fixture(scope="module")
def limited_stack(tmp_path_factory):
    """A stack of this module's own with the limits on (the test session's stack runs without them)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LABKIT_STATE_DIR", str(tmp_path_factory.mktemp("limited-state")))
        env.setenv(kinesis_fixes.LIMITS_SETTING, "on")
        for var in ("LABKIT_AWS_PORT", "LABKIT_SERVICE_PORT", "LABKIT_FLINK_PORT"):
            env.setenv(var, str(free_port()))
        control.up(quiet=True)
        try:
            yield
        finally:
            control.down(quiet=True)


@pytest.fixture
def limited(limited_stack):
    assert kinesis_fixes.limits_on()
    yield
    simulate.stop()


def test_a_rate_above_the_shards_write_limit_is_slowed_to_it_and_says_so(limited):
    streams.create("SimOneShardAskedTooMuch", quiet=True)
    started = simulate.start("SimOneShardAskedTooMuch", "anomaly", rate=2500)
    assert (started["rate"], started["rate_limit"]) == (2500.0, 1000.0)
    assert started["note"].startswith(SLOWED) and "asked for 2,500" in started["note"]
    assert SLOWED.capitalize() in simulate.summary(started)
    final = simulate.wait(timeout_s=300, quiet=True)
    assert (final["state"], final["sent"], final["failed"], final["last_error"]) == ("finished", 2000, 0, None)
    assert final["rate_actual"] <= 1000 * 1.1
    assert_same_readings(stream_records("SimOneShardAskedTooMuch"), datasets.load_records("anomaly"), "live")


def test_a_stream_with_two_shards_takes_twice_the_rate(limited):
    streams.create("SimTwoShards", shards=2, quiet=True)
    started = simulate.start("SimTwoShards", "anomaly", rate=2500)
    assert started["rate_limit"] == 2000.0
    assert "the stream's write limit (1,000 per open shard, 2 shards): 2,000 records/s" in started["note"]
    assert simulate.wait(timeout_s=300, quiet=True)["sent"] == 2000


def test_records_refused_at_the_write_limit_are_sent_again_not_counted_as_errors(limited):
    """Another producer takes most of the shard's 1,000 records a second while the simulator sends at 1,000/s:
    the local Kinesis refuses many of the simulator's records with ProvisionedThroughputExceededException."""
    stream = "SimSharedShard"
    streams.create(stream, quiet=True)
    kinesis, stop, other = client("kinesis"), threading.Event(), {"accepted": 0}

    def other_producer() -> None:
        while not stop.is_set():
            answer = kinesis.put_records(StreamName=stream, Records=[
                {"Data": b'{"other": 1}', "PartitionKey": "other"} for _ in range(400)])
            other["accepted"] += 400 - answer["FailedRecordCount"]
            stop.wait(0.5)

    hog = threading.Thread(target=other_producer, daemon=True)
    hog.start()
    try:
        simulate.start(stream, "anomaly", rate=1000)
        final = simulate.wait(timeout_s=300, quiet=True)
    finally:
        stop.set()
        hog.join()
    assert (final["state"], final["sent"], final["failed"], final["last_error"]) == ("finished", 2000, 0, None)
    assert final["over_limit"] > 0, "the shard never refused the simulator: the test did not load it"
    assert final["retried"] >= final["over_limit"]
    assert f"{final['over_limit']:,} records waited for a shard's write limit and were sent again" in final["note"]
    summary = simulate.summary(final)
    assert "Throughput" not in summary and "error: " not in summary.lower()
    received = [r for r in stream_records(stream) if "event_id" in r and r["event_id"] == r["event_id"]]
    assert_same_readings(received, datasets.load_records("anomaly"), "live")
    assert other["accepted"] > 0
