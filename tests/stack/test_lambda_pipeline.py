"""The lab's Lambda stage on the local stack, deployed with labkit.resources like the notebooks do:
AnomalyDetectionStream -> AnalyticsDestinationFunction -> WindDataTable -> AnomalyMessageDeliveryFunction
-> AnomalyNotification -> inbox, and MaxWindSpeed -> DIYFunction -> DIYTable.

The anomaly records are the lab's anomaly data set scored by the AnomalyDetection job's own rules
(flink/anomaly_detection/detector.py), without a Flink cluster: the same records the job writes."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from labkit import inbox
from labkit.clients import client
from labkit.config import CONFIRMATION_SUBJECT, FLINK_DIR, NAMES
from labkit.datasets import load_labels, load_records
from labkit.progress import wait_until
from labkit.resources import functions, streams, tables, topics

sys.path.insert(0, str(FLINK_DIR / "anomaly_detection"))
from detector import DetectorSettings, LocationDetector, parse_reading  # noqa: E402

SUBJECT = "Abnormal Wind Turbine Speed Detected"


def put(stream: str, payloads: list[str], key: str = "k") -> None:
    kinesis = client("kinesis")
    for start in range(0, len(payloads), 500):
        response = kinesis.put_records(StreamName=stream, Records=[
            {"Data": p.encode(), "PartitionKey": key} for p in payloads[start:start + 500]])
        assert response["FailedRecordCount"] == 0


def wait_for(condition, what: str, timeout_s: float = 90) -> None:
    wait_until(condition, timeout_s, what, quiet=True, interval_s=0.5)


def scored_anomaly_data_set() -> list[dict]:
    """What AnomalyDetection writes to AnomalyDetectionStream for the lab's anomaly data set."""
    detectors: dict[str, LocationDetector] = {}
    return [detectors.setdefault(r["location"], LocationDetector(DetectorSettings())).assess(
        parse_reading(json.dumps(r))) for r in load_records("anomaly")]


@pytest.fixture(scope="module")
def lab(stack):
    """The lab's Lambda stage, fresh, with the scored anomaly data set already through it."""
    for name in (NAMES.analytics_function, NAMES.delivery_function, NAMES.diy_function):
        functions.delete(name)  # and its triggers, which earlier tests may have left
    for table in (NAMES.wind_table, NAMES.diy_table):
        tables.delete(table, quiet=True)
    for stream in (NAMES.anomaly_stream, NAMES.max_speed_stream):
        streams.delete(stream, quiet=True)
        streams.create(stream, quiet=True)
    for table in (NAMES.wind_table, NAMES.diy_table):
        tables.create(table, quiet=True)
    topics.create(NAMES.topic)
    address = f"maintenance-{uuid.uuid4().hex[:8]}@example.com"
    topics.subscribe_email(address)
    topics.confirm(address)  # the link in SNS's confirmation mail
    for name in (NAMES.analytics_function, NAMES.delivery_function, NAMES.diy_function):
        functions.deploy(name, quiet=True)
    functions.add_trigger(NAMES.analytics_function, NAMES.anomaly_stream, quiet=True)
    functions.add_trigger(NAMES.diy_function, NAMES.max_speed_stream, quiet=True)
    records = scored_anomaly_data_set()
    put(NAMES.anomaly_stream, [json.dumps(r) for r in records])
    wait_for(lambda: tables.count(NAMES.wind_table) >= len(records), f"{len(records)} items in WindDataTable")
    yield {"address": address, "records": records}
    for name in (NAMES.analytics_function, NAMES.delivery_function, NAMES.diy_function):
        functions.delete(name)
    for table in (NAMES.wind_table, NAMES.diy_table):
        tables.delete(table, quiet=True)
    topics.delete(NAMES.topic)
    for stream in (NAMES.anomaly_stream, NAMES.max_speed_stream):
        streams.delete(stream, quiet=True)


def mails(address: str) -> list[dict]:
    return [m for m in inbox.inbox(to=address) if m["subject"] == SUBJECT]


def test_every_anomaly_record_becomes_exactly_one_wind_table_item_with_numbers(lab):
    items = {(i["location"], i["reading_id"]): i for i in tables.items(NAMES.wind_table)}
    records = lab["records"]
    assert len(items) == len(records) == tables.count(NAMES.wind_table)
    for record in records:
        item = items[(record["location"], f"{record['event_time']}#{record['event_id']}")]
        assert (item["wind_speed"], item["anomaly_score"], item["turbine_id"]) == (
            record["speed"], pytest.approx(record["score"]), record["turbine_id"])
    raw = client("dynamodb").scan(TableName=NAMES.wind_table, Limit=5)["Items"]
    assert all(set(item["anomaly_score"]) == {"N"} and set(item["wind_speed"]) == {"N"} for item in raw)


def test_three_labelled_anomalies_send_three_emails_and_a_second_run_sends_none(lab):
    first = functions.invoke(NAMES.delivery_function)
    assert first["ok"], first["log"]
    received = mails(lab["address"])
    assert len(received) == 3 == len(load_labels("anomaly"))
    for mail, label in zip(received, load_labels("anomaly")):
        assert label["location"] in mail["body"] and label["turbine_id"] in mail["body"]
        assert label["start"] in mail["body"] and "mph" in mail["body"] and "70 mph" in mail["body"]
    again = functions.invoke(NAMES.delivery_function)
    assert again["result"] == {"anomaly_events": 3, "mailed": 0, "already_mailed": 3}
    assert len(mails(lab["address"])) == 3


def test_replayed_records_are_not_written_again_nor_mailed_again(lab):
    functions.invoke(NAMES.delivery_function)
    before = len(mails(lab["address"]))
    anomalies = [r for r in lab["records"] if r["score"] >= 2]
    put(NAMES.anomaly_stream, [json.dumps(r) for r in anomalies] + [json.dumps({"location": "Marker", "speed": 1,
                                                                                "score": 0.5})])
    wait_for(lambda: tables.items(NAMES.wind_table, partition="Marker"), "the replay")
    assert tables.count(NAMES.wind_table) == len(lab["records"]) + 1
    assert functions.invoke(NAMES.delivery_function)["result"]["mailed"] == 0
    assert len(mails(lab["address"])) == before


def test_labkit_inbox_cli_lists_the_mails(lab):
    functions.invoke(NAMES.delivery_function)
    def inbox_cli(*flags: str) -> str:
        return subprocess.run([sys.executable, "-m", "labkit", "inbox", *flags], capture_output=True, text=True,
                              check=True, timeout=60).stdout

    listed = [m for m in json.loads(inbox_cli("--json")) if m["to"] == lab["address"]]
    assert [m["subject"] for m in listed] == [CONFIRMATION_SUBJECT] + [SUBJECT] * 3, "SNS's confirmation, then alerts"
    assert {"to", "topic", "subject", "body", "time"} <= set(listed[-1])
    text = inbox_cli()
    assert text.count(f"to {lab['address']}") == 4 and text.count(f"Subject: {SUBJECT}") >= 3
    assert listed[-1]["body"] in text


def test_max_wind_speed_json_and_csv_land_in_diy_table_once_per_location_and_window(lab):
    windows = [{"location": location, "max_wind_speed": speed, "window_start": f"2026-11-27T10:0{m}:00.000Z",
                "window_end": f"2026-11-27T10:0{m + 1}:00.000Z", "count": 60}
               for m, (location, speed) in enumerate([("North Ridge", 41.5), ("Lakeshore", 33.0)])]
    payloads = [json.dumps(w) for w in windows] + ['"Quarry Hill",52.25', '"Harbor Point",47']
    put(NAMES.max_speed_stream, payloads + payloads[:2])  # the JSON windows reported twice
    wait_for(lambda: tables.count(NAMES.diy_table) >= 4, "four DIYTable items")
    items = {i["location"]: i for i in tables.items(NAMES.diy_table)}
    assert len(items) == tables.count(NAMES.diy_table) == 4
    assert items["North Ridge"]["max_wind_speed"] == 41.5
    assert items["North Ridge"]["timestamp"] == windows[0]["window_end"]
    assert items["Quarry Hill"]["max_wind_speed"] == 52.25 and items["Harbor Point"]["max_wind_speed"] == 47


def test_malformed_records_are_logged_and_the_valid_ones_are_stored(lab):
    good = {"event_id": "ok-1", "event_time": "2026-11-27T11:00:00.000Z", "location": "Malformed Test",
            "turbine_id": "WT-09", "speed": 30.0, "score": 0.9}
    put(NAMES.anomaly_stream, ["this is not JSON", json.dumps({"location": "Malformed Test", "score": 1}),
                               json.dumps(good)])
    wait_for(lambda: tables.items(NAMES.wind_table, partition="Malformed Test"), "the valid record")
    stored = tables.items(NAMES.wind_table, partition="Malformed Test")
    assert [i["event_id"] for i in stored] == ["ok-1"]
    log = "\n".join(functions.logs(NAMES.analytics_function, limit=2000))
    assert "skipped malformed record" in log and "data is not JSON" in log
    assert "'speed' must be a finite number, got None" in log


def test_missing_table_is_reported_in_the_log_and_no_record_is_lost(lab):
    table, stream, function = "PipelineLateTable", "PipelineLateStream", "PipelineLateDIYFunction"
    tables.delete(table, quiet=True)
    streams.create(stream, quiet=True)
    functions.deploy(function, handler_file="diy_function.py", environment={"OUTPUT_TABLE_NAME": table}, quiet=True)
    functions.add_trigger(function, stream, quiet=True)
    try:
        put(stream, ['"North Ridge",40', '"Lakeshore",35', '"Quarry Hill",38'])
        wait_for(lambda: any("does not exist" in line for line in functions.logs(function)), "the error in the log")
        assert f"the DynamoDB table '{table}' does not exist. Create it" in "\n".join(functions.logs(function))
        tables.create(table, partition_key="location", sort_key="timestamp", quiet=True)
        wait_for(lambda: tables.count(table) == 3, "the held records once the table exists")
        assert sorted(i["location"] for i in tables.items(table)) == ["Lakeshore", "North Ridge", "Quarry Hill"]
    finally:
        functions.delete(function)
        tables.delete(table, quiet=True)
        streams.delete(stream, quiet=True)


def test_a_handler_that_raises_shows_the_reason_in_the_test_result_and_the_log(lab):
    function = "PipelineDeliveryWithoutTopic"
    functions.deploy(function, handler_file="anomaly_message_delivery.py",
                     environment={"OUTPUT_TABLE_NAME": NAMES.wind_table}, quiet=True)
    try:
        result = functions.invoke(function)
        assert not result["ok"] and result["error"] == "Unhandled"
        assert result["result"]["errorMessage"] == ("SNS_TOPIC_ARN is not set; set it to the ARN of the "
                                                    "AnomalyNotification topic.")
        assert "[ERROR] ValueError: SNS_TOPIC_ARN is not set" in result["log"]
        assert any("SNS_TOPIC_ARN is not set" in line for line in functions.logs(function))
    finally:
        functions.delete(function)
