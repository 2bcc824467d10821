"""The PyFlink apps on real Apache Flink, with the official Kinesis connector, against the local endpoint:
Kinesis -> AnomalyDetection -> Kinesis, snapshots that lose and repeat nothing, and CalculateMaxSpeed's windows.

One Flink session cluster (FlinkCluster) and one local AWS endpoint (labkit's moto with its Kinesis fixes; stock
moto silently drops some of the records that the Flink sink writes with concurrent PutRecords calls) serve the
module, each on a free port in a temporary folder."""
from __future__ import annotations

import json
import random
import shutil
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest

from labkit.local.aws_endpoint import AwsEndpoint
from labkit.local.flink_cluster import BUILD_CONNECTOR, CONNECTOR_JAR, FlinkCluster

from ..conftest import free_port

pytestmark = pytest.mark.flink

ROOT = Path(__file__).resolve().parents[2]
ANOMALY_APP = ROOT / "flink" / "anomaly_detection"
MAX_SPEED_APP = ROOT / "flink" / "max_wind_speed"
LOCATIONS = ("North Ridge", "Lakeshore", "Quarry Hill", "Airport Flats", "Harbor Point")
READINGS_PER_LOCATION = 400  # per batch: 2,000 records
START = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)
# (location index, reading index) -> spike speed; after the forest's warm-up of 64 readings
SPIKES = {(0, 180): 96.4, (2, 260): 88.9, (4, 340): 104.1}
SPIKES_AFTER_RESTORE = {(1, 450): 92.7, (3, 520): 101.3}
OUTPUT_TIMEOUT_S = 90


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    aws = AwsEndpoint(tmp_path_factory.mktemp("aws"), free_port())
    aws.start()
    yield aws.url
    aws.stop()


@pytest.fixture(scope="module")
def kinesis(endpoint):
    client = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    for name in ("WindDataStream", "AnomalyDetectionStream", "MaxWindSpeed"):
        client.create_stream(StreamName=name, ShardCount=1)
    for name in ("WindDataStream", "AnomalyDetectionStream", "MaxWindSpeed"):
        client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})
    return client


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if not (ROOT / "flink" / "target" / "lib" / CONNECTOR_JAR).is_file():
        if shutil.which("mvn") is None:
            pytest.fail(f"the Kinesis connector jar is not built and Maven is missing: run `{BUILD_CONNECTOR}`")
        subprocess.run(BUILD_CONNECTOR.split(), cwd=ROOT, check=True, timeout=600)
    flink = FlinkCluster(tmp_path_factory.mktemp("flink"), port=free_port())
    flink.start(quiet=True)
    yield flink
    flink.stop()


def properties_file(folder: Path, app_dir: Path, endpoint: str, lab: dict[str, str]) -> Path:
    """The app's own properties with the local endpoint and `lab` overrides, as labkit writes them."""
    groups = json.loads((app_dir / "application_properties.json").read_text())
    for group in groups:
        if group["PropertyGroupId"] == "lab":
            group["PropertyMap"].update(lab)
        if group["PropertyGroupId"] == "kinesis.client":
            group["PropertyMap"]["aws.endpoint"] = endpoint
    path = folder / f"{app_dir.name}.json"
    path.write_text(json.dumps(groups))
    return path


def readings(first: int, count: int, spikes: dict[tuple[int, int], float]) -> list[dict]:
    """`count` readings per location from reading index `first` on, 1 s apart, interleaved in time order."""
    records = []
    for i in range(first, first + count):
        for k, location in enumerate(LOCATIONS):
            rng = random.Random(i * 10 + k)
            speed = round(25 + 5 * k + 4 * rng.random(), 1)
            moment = START + timedelta(seconds=i, milliseconds=200 * k)
            records.append({
                "event_id": f"{k}-{i}", "event_time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "location": location, "turbine_id": f"WT-0{k + 1}", "speed": spikes.get((k, i), speed),
            })
    return records


def put(kinesis, records: list[dict | str]) -> None:
    for first in range(0, len(records), 500):
        batch = records[first:first + 500]
        answer = kinesis.put_records(StreamName="WindDataStream", Records=[
            {"Data": (record if isinstance(record, str) else json.dumps(record)).encode(),
             "PartitionKey": record["location"] if isinstance(record, dict) else "bad"}
            for record in batch])
        assert answer["FailedRecordCount"] == 0


def read_stream(kinesis, stream: str, expected: int, timeout_s: float = OUTPUT_TIMEOUT_S,
                quiet_s: float = 0) -> list[str]:
    """The data of all records in `stream` once it holds `expected` of them, plus any that arrive within
    `quiet_s` after that."""
    shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records, deadline = [], time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = kinesis.get_records(ShardIterator=iterator, Limit=10000)
        iterator = answer["NextShardIterator"]
        records += [record["Data"].decode() for record in answer["Records"]]
        if len(records) >= expected and not answer["Records"]:
            time.sleep(quiet_s)
            answer = kinesis.get_records(ShardIterator=iterator, Limit=10000)
            return records + [record["Data"].decode() for record in answer["Records"]]
        if not answer["Records"]:
            time.sleep(0.5)
    raise AssertionError(f"{stream} holds {len(records)} records after {timeout_s} s, expected {expected}")


@pytest.fixture(scope="module")
def anomaly_run(cluster, kinesis, endpoint, tmp_path_factory):
    """AnomalyDetection running on the first 2,000 readings (plus one record that is not a reading)."""
    properties = properties_file(tmp_path_factory.mktemp("properties"), ANOMALY_APP, endpoint, {})
    job_id = cluster.submit(ANOMALY_APP, properties, quiet=True)
    batch = readings(0, READINGS_PER_LOCATION, SPIKES)
    put(kinesis, [*batch[:1000], "this is not a reading", *batch[1000:]])
    outputs = [json.loads(data) for data in read_stream(kinesis, "AnomalyDetectionStream", len(batch))]
    return {"job_id": job_id, "properties": properties, "inputs": batch, "outputs": outputs}


def by_event(outputs: list[dict]) -> dict[str, dict]:
    return {output["event_id"]: output for output in outputs}


def test_every_reading_gets_exactly_one_anomaly_record(anomaly_run):
    ids = [output["event_id"] for output in anomaly_run["outputs"]]
    assert len(ids) == len(set(ids)) == len(anomaly_run["inputs"])
    assert set(ids) == {record["event_id"] for record in anomaly_run["inputs"]}
    sample = anomaly_run["outputs"][0]
    assert set(sample) == {"event_id", "event_time", "location", "turbine_id", "speed", "score", "attribution",
                           "stuck", "rule", "power_kw", "expected_kw", "power_curve", "fault_since", "energy_lost_kwh",
                           "fault"}


def test_spikes_score_at_least_2_and_are_attributed_to_the_forest(anomaly_run):
    outputs = by_event(anomaly_run["outputs"])
    for (k, i), speed in SPIKES.items():
        spike = outputs[f"{k}-{i}"]
        assert (spike["speed"], spike["rule"]) == (speed, "rcf")
        assert spike["score"] >= 2, spike
    calm = [output["score"] for output in anomaly_run["outputs"]
            if int(output["event_id"].split("-")[1]) >= 100 and output["rule"] is None]
    assert sorted(calm)[len(calm) // 2] < 1.5


def test_a_record_that_is_not_a_reading_is_reported_not_fatal(cluster, anomaly_run):
    assert cluster.job_status(anomaly_run["job_id"]) == "RUNNING"
    stdout = "\n".join(text for name, text in cluster.logs(lines=1000).items() if name.endswith(".out"))
    assert 'rejected> {"reason": "not JSON' in stdout and "this is not a reading" in stdout


def test_resuming_from_a_snapshot_misses_nothing_repeats_nothing_and_keeps_the_forests(cluster, kinesis,
                                                                                      anomaly_run):
    savepoint = cluster.stop_with_savepoint(anomaly_run["job_id"], quiet=True)
    assert cluster.job_status(anomaly_run["job_id"]) == "FINISHED"
    assert cluster.latest_savepoint("AnomalyDetection") == Path(savepoint)

    second = readings(READINGS_PER_LOCATION, READINGS_PER_LOCATION, SPIKES_AFTER_RESTORE)
    put(kinesis, second)  # arrives while the app is stopped
    job_id = cluster.submit(ANOMALY_APP, anomaly_run["properties"], savepoint_path=savepoint, quiet=True)
    try:
        everything = [json.loads(data) for data in read_stream(
            kinesis, "AnomalyDetectionStream", len(anomaly_run["inputs"]) + len(second), quiet_s=3)]
    finally:
        cluster.cancel(job_id, quiet=True)

    ids = [output["event_id"] for output in everything]
    assert len(ids) == len(set(ids)), "a reading was scored twice"
    assert set(ids) == {record["event_id"] for record in anomaly_run["inputs"] + second}
    after = by_event(everything)
    first_after_restore = [after[f"{k}-{READINGS_PER_LOCATION}"] for k in range(len(LOCATIONS))]
    assert all(output["score"] > 0 for output in first_after_restore), "the forests started a new warm-up"
    for (k, i), speed in SPIKES_AFTER_RESTORE.items():
        assert after[f"{k}-{i}"]["score"] >= 2 and after[f"{k}-{i}"]["rule"] == "rcf"


def test_max_wind_speed_reports_every_minute_of_every_location_including_the_last(
        cluster, kinesis, endpoint, tmp_path_factory, anomaly_run):
    sent = []
    for data in read_stream(kinesis, "WindDataStream", len(anomaly_run["inputs"]) + 1):
        if data.startswith("{"):
            sent.append(json.loads(data))
    expected = {}
    for record in sent:
        window = (record["location"], record["event_time"][:16] + ":00.000Z")
        best, count = expected.get(window, (0.0, 0))
        expected[window] = (max(best, record["speed"]), count + 1)

    properties = properties_file(tmp_path_factory.mktemp("properties"), MAX_SPEED_APP, endpoint,
                                 {"windowLengthSeconds": "60", "idleTimeoutSeconds": "5"})
    job_id = cluster.submit(MAX_SPEED_APP, properties, quiet=True)
    try:
        windows = [json.loads(data) for data in read_stream(kinesis, "MaxWindSpeed", len(expected), quiet_s=2)]
    finally:
        cluster.cancel(job_id, quiet=True)

    reported = {(w["location"], w["window_start"]): (w["max_wind_speed"], w["count"]) for w in windows}
    assert len(windows) == len(reported), "a window was reported twice"
    assert reported == expected  # the last minute too: the idle timeout closed it
    assert all(w["window_end"][:16] > w["window_start"][:16] for w in windows)
