"""The whole lab on the shared local stack and real Flink: simulator -> WindDataStream -> AnomalyDetection
(PyFlink) -> AnomalyDetectionStream -> AnalyticsDestinationFunction -> WindDataTable ->
AnomalyMessageDeliveryFunction -> AnomalyNotification -> inbox."""
from __future__ import annotations

import psutil
import pytest

import labkit as lab
from labkit import cleanup
from labkit.config import NAMES
from labkit.progress import wait_until

pytestmark = pytest.mark.flink
STUDENT = "student@example.com"


@pytest.fixture(scope="module")
def pipeline(stack):
    """Build the lab's pipeline as the notebooks do, then send the anomaly data set through it. Whatever
    earlier tests left on the shared stack goes first (as notebook 99 would remove it)."""
    lab.simulate.stop()
    cleanup.stop_apps(snapshot=False)
    for kind in cleanup.KINDS:
        cleanup.delete(kind)
    for name in (NAMES.wind_stream, NAMES.anomaly_stream):
        lab.streams.create(name, quiet=True)
    lab.apps.create(NAMES.anomaly_app)
    lab.apps.run(NAMES.anomaly_app, from_latest_snapshot=False, quiet=True)
    lab.tables.create(NAMES.wind_table, quiet=True)
    lab.functions.deploy(NAMES.analytics_function, quiet=True)
    lab.functions.add_trigger(NAMES.analytics_function, NAMES.anomaly_stream, quiet=True)
    lab.topics.create(NAMES.topic)
    lab.topics.subscribe_email(STUDENT)
    lab.topics.confirm(STUDENT)
    lab.functions.deploy(NAMES.delivery_function, quiet=True)

    sent = lab.datasets.load_records("anomaly")
    lab.simulate.start(NAMES.wind_stream, dataset="anomaly", rate=1000)
    lab.simulate.wait(timeout_s=120, quiet=True)
    wait_until(lambda: lab.tables.count(NAMES.wind_table) >= len(sent), 300, "every reading in WindDataTable",
               quiet=True, interval_s=1)
    yield sent
    lab.apps.stop(NAMES.anomaly_app, quiet=True)


def test_every_reading_becomes_exactly_one_scored_item(pipeline):
    items = lab.tables.items(NAMES.wind_table)
    by_id = {item["event_id"]: item for item in items}
    assert len(items) == len(by_id) == len(pipeline)
    assert set(by_id) == {r["event_id"] for r in pipeline}
    for reading in pipeline:
        item = by_id[reading["event_id"]]
        assert item["location"] == reading["location"]
        assert item["wind_speed"] == pytest.approx(reading["speed"])
        assert isinstance(item["anomaly_score"], (int, float)), "scores are numbers, not strings"


def test_each_labelled_anomaly_scores_above_the_threshold(pipeline):
    by_id = {item["event_id"]: item for item in lab.tables.items(NAMES.wind_table)}
    labels = lab.datasets.load_labels("anomaly")
    assert len(labels) == 3
    for label in labels:
        assert max(by_id[event_id]["anomaly_score"] for event_id in label["event_ids"]) >= 2, label


def alerts() -> list[dict]:
    """The student's mail but SNS's subscription confirmation."""
    return [m for m in lab.inbox.inbox(to=STUDENT) if m["subject"] != lab.config.CONFIRMATION_SUBJECT]


def test_three_anomalies_send_three_emails_and_a_rerun_sends_none(pipeline):
    lab.functions.invoke(NAMES.delivery_function)
    mails = alerts()
    assert len(mails) == 3
    labelled = {label["location"] for label in lab.datasets.load_labels("anomaly")}
    assert {location for location in labelled if any(location in m["body"] for m in mails)} == labelled
    assert {m["subject"] for m in mails} == {"Abnormal Wind Turbine Speed Detected"}
    lab.functions.invoke(NAMES.delivery_function)
    assert len(alerts()) == 3


def test_every_listening_socket_of_the_running_pipeline_is_on_loopback(pipeline):
    report = lab.status()
    roots = [report["pid"], *report["components"]["flink"].get("processes", {}).values()]
    processes = {p.pid: p for root in roots for p in [psutil.Process(root), *psutil.Process(root).children(True)]}
    listening = [c for p in processes.values() for c in p.net_connections(kind="inet") if c.status == "LISTEN"]
    assert len(listening) >= 4
    assert {c.laddr.ip for c in listening} <= {"127.0.0.1", "::1"}, listening


def test_reconfiguring_the_running_app_restarts_its_job_with_the_new_properties(pipeline):
    """Managed Flink restarts a RUNNING application on UpdateApplication, from a snapshot: so does the local one."""
    rescored = "RescoredStream"
    lab.streams.create(rescored, quiet=True)
    job_before = lab.status()["components"]["flink"]["applications"][NAMES.anomaly_app]["job_id"]
    snapshots_before = len(lab.apps.snapshots(NAMES.anomaly_app))

    lab.apps.configure(NAMES.anomaly_app, group="lab", outputStreamName=rescored, quiet=True)

    assert lab.apps.status(NAMES.anomaly_app) == "RUNNING"
    assert lab.status()["components"]["flink"]["applications"][NAMES.anomaly_app]["job_id"] != job_before
    assert len(lab.apps.snapshots(NAMES.anomaly_app)) == snapshots_before + 1, "the update restarts from a snapshot"
    lab.simulate.start(NAMES.wind_stream, dataset="anomaly", rate=1000)
    lab.simulate.wait(timeout_s=120, quiet=True)
    reader = lab.streams.ShardReader(rescored)
    scored = []

    def all_scored() -> bool:
        scored.extend(reader.read(limit=10_000).to_dict("records"))
        return len(scored) >= len(pipeline)

    wait_until(all_scored, 120, "the readings scored into the new output stream", quiet=True, interval_s=1)
    assert len(scored) == len(pipeline)
    assert {record["event_id"] for record in scored} == {reading["event_id"] for reading in pipeline}
    assert all(isinstance(record["score"], (int, float)) for record in scored)
    lab.apps.configure(NAMES.anomaly_app, group="lab", outputStreamName=NAMES.anomaly_stream, quiet=True)
