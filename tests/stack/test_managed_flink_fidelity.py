"""The local Managed Flink runs an application with only its zip, as AWS does (issue #13, Done 1): AnomalyDetection,
run from its S3 zip on the local cluster with the Managed-Flink-like interpreter (labkit/local/flink_python.py),
scores the anomaly data set's three labelled spikes >= 2; the same app with krcf taken out of its zip does not
start, and the student reads why (ModuleNotFoundError) in a sentence and in the application's log."""
from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import psutil
import pytest

import labkit as lab
from labkit.config import NAMES
from labkit.errors import LabError
from labkit.progress import wait_until
from labkit.resources import apps
from tests.stack.anomaly_app import configured_anomaly_app

pytestmark = pytest.mark.flink
APP = NAMES.anomaly_app


@pytest.fixture(scope="module")
def anomaly_app(stack):
    """AnomalyDetection created from its zip as notebook 02 does, on empty streams; stopped at the end."""
    with configured_anomaly_app(stack) as kinesis:
        yield kinesis
    lab.apps.create(APP)  # its own zip again, for the tests after these


def managed_flink_python(stack) -> Path:
    return stack.state_dir / "flink" / "python" / "bin" / "python"


def python_workers(interpreter: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if cmdline and cmdline[0] == str(interpreter):
            found.append(process)
    return found


def send_and_read_scores(kinesis, records: list[dict], wanted: set[str]) -> dict[str, dict]:
    """Put `records` into WindDataStream; AnomalyDetection's outputs by event id, once `wanted` are all there."""
    shard = kinesis.list_shards(StreamName=NAMES.anomaly_stream)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=NAMES.anomaly_stream, ShardId=shard,
                                          ShardIteratorType="LATEST")["ShardIterator"]
    for first in range(0, len(records), 500):
        answer = kinesis.put_records(StreamName=NAMES.wind_stream, Records=[
            {"Data": json.dumps(record).encode(), "PartitionKey": record["location"]}
            for record in records[first:first + 500]])
        assert answer["FailedRecordCount"] == 0
    outputs = {}

    def all_scored() -> bool:
        nonlocal iterator
        page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
        iterator = page["NextShardIterator"]
        outputs.update((o["event_id"], o) for o in (json.loads(r["Data"]) for r in page["Records"]))
        return wanted <= outputs.keys()

    wait_until(all_scored, 180, "AnomalyDetection's scores", quiet=True, interval_s=0.5)
    return outputs


def test_anomaly_detection_runs_from_its_zip_alone_and_scores_the_three_spikes(anomaly_app, stack):
    labels = lab.datasets.load_labels("anomaly")
    assert [label["kind"] for label in labels] == ["spike"] * 3
    records = lab.datasets.load_records("anomaly")
    last = max(records.index(next(r for r in records if r["event_id"] in label["event_ids"])) for label in labels)
    lab.apps.run(APP, from_latest_snapshot=False, quiet=True)

    interpreter = managed_flink_python(stack)
    workers = python_workers(interpreter)
    assert workers, f"the job's Python runs with {interpreter}, the Managed-Flink-like interpreter"
    assert all(".venv" not in " ".join(worker.cmdline()) for worker in workers)

    wanted = {event_id for label in labels for event_id in label["event_ids"]}
    outputs = send_and_read_scores(anomaly_app, records[:last + 1], wanted)
    for label in labels:
        assert max(outputs[event_id]["score"] for event_id in label["event_ids"]) >= 2, label
    lab.apps.stop(APP, snapshot=False, quiet=True)


@pytest.fixture
def zip_without_krcf(tmp_path, monkeypatch) -> Path:
    """AnomalyDetection's zip with dep/krcf taken out; `apps.create` uploads it while the test runs."""
    stripped = tmp_path / "anomaly_detection.zip"
    with zipfile.ZipFile(apps.package(APP)) as original, zipfile.ZipFile(stripped, "w") as archive:
        for entry in original.infolist():
            if not entry.filename.startswith("dep/krcf"):
                with original.open(entry) as source, archive.open(entry, "w") as target:
                    shutil.copyfileobj(source, target, 1 << 20)
    monkeypatch.setattr(apps, "package", lambda name: stripped)
    return stripped


def test_without_krcf_in_its_zip_the_app_fails_to_start_with_module_not_found(anomaly_app, zip_without_krcf):
    lab.apps.create(APP)
    with pytest.raises(LabError) as refused:
        lab.apps.run(APP, from_latest_snapshot=False, quiet=True)
    message = str(refused.value)
    assert "ModuleNotFoundError: No module named 'krcf'" in message
    assert "pyFiles" in message, "the sentence says where the package must go"
    assert lab.apps.status(APP) == "READY"
    assert "ModuleNotFoundError: No module named 'krcf'" in lab.apps.logs(APP)
