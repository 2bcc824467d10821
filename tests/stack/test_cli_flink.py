"""`labkit flink run` is the console's Run, as `lab.apps.run(name)` in notebook 02: it restores the latest
snapshot, so the forests carry on after a `labkit flink stop`; `--fresh` starts them empty."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

import labkit as lab
from labkit.config import NAMES
from labkit.progress import wait_until
from tests.stack.anomaly_app import configured_anomaly_app

pytestmark = pytest.mark.flink
APP = NAMES.anomaly_app
LOCATIONS, READINGS = 5, 2000  # the wind data set: 400 readings per location; a fresh forest scores 0 for 64


def labkit_cli(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "labkit", *args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def anomaly_app(stack):
    """AnomalyDetection created and configured as notebook 02 does, stopped without a snapshot."""
    with configured_anomaly_app(stack) as kinesis:
        yield kinesis


def send_wind_and_read_scores(kinesis) -> list[dict]:
    """Send the wind data set at 500 records/s; the scores AnomalyDetection writes for it, in order."""
    shard = kinesis.list_shards(StreamName=NAMES.anomaly_stream)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=NAMES.anomaly_stream, ShardId=shard,
                                          ShardIteratorType="LATEST")["ShardIterator"]
    lab.simulate.start(NAMES.wind_stream, dataset="wind", rate=500)
    scores = []

    def enough() -> bool:
        nonlocal iterator
        page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
        iterator = page["NextShardIterator"]
        scores.extend(json.loads(record["Data"]) for record in page["Records"])
        return len(scores) >= READINGS

    wait_until(enough, 120, "AnomalyDetection's scores", quiet=True, interval_s=0.5)
    lab.simulate.wait(quiet=True)
    return scores


def first_score_per_location(scores: list[dict]) -> dict[str, float]:
    first = {}
    for score in scores:
        first.setdefault(score["location"], score["score"])
    return first


def restored_from_savepoint(job_id: str) -> bool:
    with urllib.request.urlopen(f"{lab.settings().flink_url}/jobs/{job_id}/checkpoints", timeout=10) as answer:
        restored = json.load(answer)["latest"]["restored"]
    return bool(restored) and restored["is_savepoint"]


def test_flink_run_after_flink_stop_restores_the_forests(anomaly_app):
    labkit_cli("flink", "run", APP, "--fresh")
    fresh_job = lab.status()["components"]["flink"]["applications"][APP]["job_id"]
    assert not restored_from_savepoint(fresh_job), "--fresh starts with no snapshot"
    send_wind_and_read_scores(anomaly_app)  # (a fresh job reads the stream from its start: its forests warm up on
    # whatever earlier runs left there, so its first scores are 0 only on an empty stream)
    snapshots = len(lab.apps.snapshots(APP))

    assert "READY" in labkit_cli("flink", "stop", APP)
    assert len(lab.apps.snapshots(APP)) == snapshots + 1, "flink stop takes a snapshot"
    assert "RUNNING" in labkit_cli("flink", "run", APP)

    job_id = lab.status()["components"]["flink"]["applications"][APP]["job_id"]
    assert restored_from_savepoint(job_id), "the job must start from the snapshot flink stop took"
    restored = first_score_per_location(send_wind_and_read_scores(anomaly_app))
    assert len(restored) == LOCATIONS and min(restored.values()) > 0, "each forest carries on from the snapshot"
