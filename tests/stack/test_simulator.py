"""The Wind Turbine Simulator sends every record of a data set, in order per location, and says clearly
when it cannot."""
from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections import defaultdict

import pytest
from botocore.exceptions import ClientError

from labkit import datasets, simulate
from labkit.clients import client
from labkit.errors import BadParameter, ResourceMissing, StackNotRunning
from labkit.progress import wait_until
from labkit.resources import streams
from labkit.simulator import Producer, read_sent_log
from tests.conftest import free_port

FAST = 1000  # records/s: a 2,000-record data set takes about 2 s


def stream_records(name: str) -> list[dict]:
    return streams.read_records(name, limit=100_000).to_dict("records")


def ids_by_location(records) -> dict[str, list[str]]:
    by_location = defaultdict(list)
    for record in records:
        by_location[record["location"]].append(record["event_id"])
    return dict(by_location)


def labkit_cli(*args: str, **env) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "labkit", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


@pytest.fixture
def stream(stack, request):
    """A fresh stream named after the test; any run still going is stopped at the end."""
    name = "Sim" + request.node.name.replace("test_", "").title().replace("_", "")[:40]
    streams.create(name, quiet=True)
    yield name
    simulate.stop()


def assert_same_readings(sent: list[dict], file: list[dict], event_time: str) -> None:
    """`sent` holds exactly the file's readings, in the file's order per location."""
    assert len(sent) == len(file)
    assert ids_by_location(sent) == ids_by_location(file)
    by_id = {r["event_id"]: r for r in file}
    for record in sent:
        original = by_id[record["event_id"]]
        assert {k: v for k, v in record.items() if k in original and k != "event_time"} == \
            {k: v for k, v in original.items() if k != "event_time"}
        if event_time == "file":
            assert record["event_time"] == original["event_time"]


def test_anomaly_data_set_arrives_complete_and_in_order_per_location(stream):
    started = simulate.start(stream, "anomaly", rate=FAST)
    assert started["state"] == "running" and started["total"] == 2000
    final = simulate.wait(timeout_s=300, quiet=True)
    assert (final["state"], final["sent"], final["failed"], final["last_error"]) == ("finished", 2000, 0, None)

    received = stream_records(stream)
    assert_same_readings(received, datasets.load_records("anomaly"), event_time="live")
    live_times = defaultdict(list)
    for record in received:
        assert record["event_time"] >= started["started_at"]  # stamped when sent, not the file's 2024 times
        live_times[record["location"]].append(record["event_time"])
    assert all(times == sorted(times) for times in live_times.values())

    log = read_sent_log(final["sent_log"])
    assert [e["record"] for e in log] == [{k: r[k] for k in e["record"]} for e, r in zip(log, received)]
    assert [e["sequence_number"] for e in log] == [r["sequence_number"] for r in received]


def test_file_timestamps_keep_the_data_sets_times(stream):
    simulate.start(stream, "wind", rate=FAST, timestamps="file")
    assert simulate.wait(timeout_s=300, quiet=True)["sent"] == 2000
    assert_same_readings(stream_records(stream), datasets.load_records("wind"), event_time="file")


def test_loop_starts_the_data_set_again_with_new_event_ids(stream):
    simulate.start(stream, "anomaly", rate=FAST, loop=True)
    wait_until(lambda: simulate.status()["sent"] >= 2100, 300, "a second pass", quiet=True)
    stopped = simulate.stop()
    assert stopped["state"] == "stopped" and stopped["pass"] >= 2
    received = stream_records(stream)
    assert len(received) == stopped["sent"]
    file = datasets.load_records("anomaly")
    first, second = received[:2000], received[2000:]
    assert sorted(r["event_id"] for r in first) == sorted(r["event_id"] for r in file)
    expected = {loc: [f"{i}-p2" for i in ids] for loc, ids in ids_by_location(file).items()}
    assert all(ids == expected[loc][:len(ids)] for loc, ids in ids_by_location(second).items())


def test_stop_really_stops(stream):
    simulate.start(stream, "health", rate=200)
    wait_until(lambda: simulate.status()["sent"] >= 100, 120, "the first 100 records", quiet=True)
    stopped = simulate.stop()
    assert stopped["state"] == "stopped"
    assert 100 <= stopped["sent"] < 16_000
    assert len(stream_records(stream)) == stopped["sent"]
    time.sleep(1.0)  # room for a record that should not come
    assert len(stream_records(stream)) == stopped["sent"] == simulate.status()["sent"]


def test_a_deleted_stream_ends_the_run_with_the_reason(stream):
    simulate.start(stream, "health", rate=200)
    wait_until(lambda: simulate.status()["sent"] >= 20, 120, "the first records", quiet=True)
    streams.delete(stream, quiet=True)
    final = simulate.wait(timeout_s=120, quiet=True)
    assert final["state"] == "failed"
    assert "was deleted while the simulator was sending" in final["last_error"]
    assert f"streams.create('{stream}')" in final["last_error"]
    assert f"{final['sent']} records were sent" in final["last_error"]


class RefusingKinesis:
    """Forwards PutRecords to the local stack, but refuses some entries (an internal failure) and some whole
    calls (a shard at its write limit), so the producer must send them again."""

    def __init__(self):
        self.kinesis = client("kinesis")
        self.entries = self.calls = 0

    def put_records(self, StreamName, Records):
        self.calls += 1
        if self.calls % 37 == 0:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}},
                              "PutRecords")
        refused = set()
        for i in range(len(Records)):
            self.entries += 1
            if self.entries % 50 == 0:
                refused.add(i)
        kept = [r for i, r in enumerate(Records) if i not in refused]
        results = iter(self.kinesis.put_records(StreamName=StreamName, Records=kept)["Records"] if kept else [])
        return {"FailedRecordCount": len(refused), "Records": [
            {"ErrorCode": "InternalFailure", "ErrorMessage": "Internal service failure."}
            if i in refused else next(results) for i in range(len(Records))]}


def test_refused_records_are_sent_again_in_order(stream, tmp_path):
    producer = Producer(stream, "anomaly", rate=FAST, log_dir=tmp_path, kinesis=RefusingKinesis())
    producer.start()
    final = producer.wait(timeout_s=300)
    assert final["state"] == "finished" and final["sent"] == 2000
    assert final["failed"] >= 40 and final["over_limit"] >= 5  # a shard at its limit is not an error
    assert final["retried"] == final["failed"] + final["over_limit"]
    assert "InternalFailure" in final["last_error"] and "ProvisionedThroughputExceeded" not in final["last_error"]
    received = stream_records(stream)
    assert_same_readings(received, datasets.load_records("anomaly"), event_time="live")
    assert [e["record"]["event_id"] for e in read_sent_log(final["sent_log"])] == [r["event_id"] for r in received]


@pytest.mark.parametrize("kwargs, error, fragments", [
    ({"stream": "NoSuchStream"}, ResourceMissing, ("'NoSuchStream' does not exist. Create it with", "notebook 01")),
    ({"rate": 0}, BadParameter, ("rate=0 records/s cannot work: give a number from 0.1 to 10,000",)),
    ({"rate": -5}, BadParameter, ("rate=-5 records/s cannot work",)),
    ({"rate": 1e9}, BadParameter, ("rate=1e+09 records/s cannot work",)),
    ({"rate": "fast"}, BadParameter, ("rate='fast' is not a number of records per second",)),
    ({"rate": math.inf}, BadParameter, ("is not a number of records per second",)),
    ({"dataset": "storm"}, BadParameter, ("there is no data set 'storm': choose one of wind, anomaly, health",)),
    ({"loop": True, "timestamps": "file"}, BadParameter, ("use timestamps='live' to loop",)),
])
def test_bad_starts_say_what_to_do(stack, kwargs, error, fragments):
    with pytest.raises(error) as raised:
        simulate.start(**{"stream": "WindDataStream", "dataset": "anomaly", **kwargs})
    assert all(fragment in str(raised.value) for fragment in fragments), str(raised.value)


def test_a_bad_start_leaves_the_current_run_alone(stream):
    simulate.start(stream, "health", rate=50)
    with pytest.raises(ResourceMissing):
        simulate.start("NoSuchStream", "anomaly")
    report = simulate.status()
    assert (report["state"], report["stream"], report["dataset"]) == ("running", stream, "health")


@pytest.mark.parametrize("args, message", [
    (["--stream", "NoSuchStream", "--dataset", "anomaly"], "'NoSuchStream' does not exist. Create it with"),
    (["--stream", "WindDataStream", "--rate", "0"], "rate=0 records/s cannot work"),
    (["--stream", "WindDataStream", "--dataset", "storm"], "there is no data set 'storm'"),
])
def test_cli_errors_are_sentences(stack, args, message):
    result = labkit_cli("simulate", "start", *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_cli_starts_reports_and_stops_the_simulator(stream):
    started = labkit_cli("simulate", "start", "--stream", stream, "--dataset", "health", "--rate", "100", "--loop")
    assert started.returncode == 0 and f"Sending “Turbine health data set” to {stream}" in started.stdout
    report = json.loads(labkit_cli("simulate", "status", "--json").stdout)
    assert (report["state"], report["stream"], report["rate"], report["loop"]) == ("running", stream, 100.0, True)
    stopped = labkit_cli("simulate", "stop")
    assert stopped.returncode == 0 and "Stopped sending" in stopped.stdout
    assert simulate.status()["state"] == "stopped"


def test_the_page_api_answers_bad_json_with_a_sentence(stack):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{stack.service_url}/api/simulator/start", data=b"rate=fast",
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=30)
    assert answer.value.code == 400
    assert "send a JSON object" in json.load(answer.value)["error"]


def test_a_stopped_stack_gives_stack_not_running_with_the_fix(monkeypatch):
    monkeypatch.setenv("LABKIT_SERVICE_PORT", str(free_port()))  # nothing listens there
    for call in (simulate.status, simulate.stop, lambda: simulate.start("WindDataStream", "anomaly")):
        with pytest.raises(StackNotRunning, match="Start it with `labkit up`"):
            call()
    result = labkit_cli("simulate", "status")
    assert result.returncode == 2 and "Start it with `labkit up`" in result.stderr


@pytest.fixture
def aws_target_on_the_local_endpoint(stack, monkeypatch):
    """The aws target, its calls redirected to the local endpoint by boto3's own AWS_ENDPOINT_URL."""
    from labkit import clients

    monkeypatch.setenv("LABKIT_TARGET", "aws")
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    clients._client.cache_clear()
    yield
    simulate.stop()
    clients._client.cache_clear()


def test_on_the_aws_target_the_simulator_runs_in_this_process(aws_target_on_the_local_endpoint, monkeypatch):
    streams.create("SimAwsTarget", quiet=True)
    monkeypatch.setenv("LABKIT_SERVICE_PORT", str(free_port()))  # the stack's API is not used
    simulate.start("SimAwsTarget", "anomaly", rate=FAST)
    final = simulate.wait(timeout_s=300, quiet=True)
    assert (final["state"], final["sent"]) == ("finished", 2000)
    assert_same_readings(stream_records("SimAwsTarget"), datasets.load_records("anomaly"), event_time="live")
