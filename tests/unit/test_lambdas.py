"""The lab's Lambda handlers as plain functions, and the Kinesis batch contract around them."""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from decimal import Decimal

import boto3
import pytest
from moto import mock_aws

from labkit.config import LAMBDAS_DIR
from labkit.errors import BadParameter
from labkit.local.lambda_runtime import esm, events
from labkit.local.lambda_runtime.worker import Invocation

sys.path.insert(0, str(LAMBDAS_DIR))
import analytics_destination  # noqa: E402
import anomaly_message_delivery as delivery  # noqa: E402
import diy_function  # noqa: E402
import kinesis_batch  # noqa: E402

STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/AnomalyDetectionStream"
ROLE_ARN = "arn:aws:iam::123456789012:role/Lab22WindFarmRole"
ARRIVAL = datetime(2026, 11, 27, 10, 0, 5, 250000, tzinfo=timezone.utc)


def reading(event_id="e1", location="North Ridge", speed=23.5, score=0.8, event_time="2026-11-27T10:00:00.000Z",
            **extra) -> dict:
    """A record as the AnomalyDetection Flink job writes it."""
    return {"event_id": event_id, "event_time": event_time, "location": location, "turbine_id": "WT-01",
            "speed": speed, "score": score, "attribution": {"t-1": 0.1, "t": 0.7}, "stuck": False,
            "rule": None, **extra}


def kinesis_event(*payloads: bytes | dict | str) -> dict:
    """A Kinesis event in AWS's exact shape, one record per payload, sequence numbers 1, 2, ..."""
    records = []
    for number, payload in enumerate(payloads, 1):
        data = json.dumps(payload).encode() if isinstance(payload, dict) else (
            payload.encode() if isinstance(payload, str) else payload)
        records.append(events.kinesis_record(
            {"PartitionKey": "North Ridge", "SequenceNumber": str(number), "Data": data,
             "ApproximateArrivalTimestamp": ARRIVAL}, "shardId-000000000000", STREAM_ARN, "us-east-1", ROLE_ARN))
    return {"Records": records}


# ---- the event shape -------------------------------------------------------------------------------------


def test_kinesis_event_record_has_exactly_aws_fields_and_types():
    record = kinesis_event(b"Hello, this is a test.")["Records"][0]
    assert record == {
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "North Ridge", "sequenceNumber": "1",
                    "data": "SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==", "approximateArrivalTimestamp": 1795773605.25},
        "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": "shardId-000000000000:1",
        "eventName": "aws:kinesis:record", "invokeIdentityArn": ROLE_ARN, "awsRegion": "us-east-1",
        "eventSourceARN": STREAM_ARN,
    }


def test_failure_record_names_the_discarded_sequence_range_and_reason():
    records = [{"SequenceNumber": str(n), "ApproximateArrivalTimestamp": ARRIVAL} for n in (7, 8)]
    document = events.failure_record(request_id="r", function_arn="arn:fn", condition="RetryAttemptsExhausted",
                                     invoke_count=3, function_error="Unhandled", shard_id="shardId-000000000000",
                                     stream_arn=STREAM_ARN, records=records)
    assert document["requestContext"] == {"requestId": "r", "functionArn": "arn:fn",
                                          "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3}
    assert document["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                           "functionError": "Unhandled"}
    assert document["KinesisBatchInfo"] == {
        "shardId": "shardId-000000000000", "startSequenceNumber": "7", "endSequenceNumber": "8",
        "approximateArrivalOfFirstRecord": "2026-11-27T10:00:05.250Z",
        "approximateArrivalOfLastRecord": "2026-11-27T10:00:05.250Z", "batchSize": 2, "streamArn": STREAM_ARN}


# ---- AnalyticsDestinationFunction ----------------------------------------------------------------------------


def test_anomaly_record_becomes_an_item_with_numbers_and_a_collision_free_key():
    item = analytics_destination.handle_record(reading(score=4.5, rule="rcf"), "shardId-0:1", 0.0)
    assert item["location"] == "North Ridge"
    assert item["reading_id"] == "2026-11-27T10:00:00.000Z#e1"
    assert item["wind_speed"] == Decimal("23.5") and item["anomaly_score"] == Decimal("4.5")
    assert item["timestamp"] == "2026-11-27T10:00:00.000Z" and item["turbine_id"] == "WT-01"
    assert item["rule"] == "rcf" and item["stuck"] is False
    assert item["attribution"] == {"t-1": Decimal("0.1"), "t": Decimal("0.7")}


def test_two_readings_in_the_same_instant_get_different_keys():
    first = analytics_destination.handle_record(reading(event_id="a"), "x", 0.0)
    second = analytics_destination.handle_record(reading(event_id="b"), "y", 0.0)
    assert (first["location"], first["reading_id"]) != (second["location"], second["reading_id"])


def test_original_lab_shape_gets_arrival_time_and_record_id():
    item = analytics_destination.handle_record({"location": "Lakeshore", "speed": 80, "score": 3}, "shardId-0:9",
                                               ARRIVAL.timestamp())
    assert item["reading_id"] == "2026-11-27T10:00:05.250Z#shardId-0:9"
    assert item["anomaly_score"] == 3


@pytest.mark.parametrize("bad, reason", [
    ({"speed": 1.0, "score": 1.0}, "'location'"),
    (reading(speed="fast"), "'speed' must be a finite number"),
    (reading(score=float("nan")), "'score' must be a finite number"),
    (reading(score=True), "'score' must be a finite number"),
    (reading(event_time="yesterday"), "ISO-8601 with a time zone"),
    (reading(event_time="2026-11-27T10:00:00"), "ISO-8601 with a time zone"),
    ([1, 2], "expected a JSON object"),
])
def test_malformed_anomaly_record_says_what_is_wrong(bad, reason):
    with pytest.raises(kinesis_batch.MalformedRecord, match=reason):
        analytics_destination.handle_record(bad, "x", 0.0)


# ---- DIYFunction ---------------------------------------------------------------------------------------------


def test_max_speed_json_becomes_one_item_per_location_and_window():
    result = {"location": "Quarry Hill", "max_wind_speed": 41.2, "window_start": "2026-11-27T10:00:00.000Z",
              "window_end": "2026-11-27T10:01:00.000Z", "count": 60}
    item = diy_function.handle_record(diy_function.parse(json.dumps(result)), 0.0)
    assert item == {"location": "Quarry Hill", "timestamp": "2026-11-27T10:01:00.000Z",
                    "max_wind_speed": Decimal("41.2"), "window_start": "2026-11-27T10:00:00.000Z", "count": 60}


def test_max_speed_csv_of_the_original_lab_is_read_with_its_arrival_time():
    item = diy_function.handle_record(diy_function.parse('"North Ridge",62.5'), ARRIVAL.timestamp())
    assert item == {"location": "North Ridge", "timestamp": "2026-11-27T10:00:05.250Z",
                    "max_wind_speed": Decimal("62.5")}


@pytest.mark.parametrize("text, reason", [
    ('"North Ridge"', "CSV line"),
    ('"North Ridge",fast', "must be a finite number"),
    ('"",12', "location must be a non-empty string"),
    ('{"location": "A", "max_wind_speed": -3}', "must be a finite number >= 0"),
    ("{not json", "not valid JSON"),
])
def test_malformed_max_speed_record_says_what_is_wrong(text, reason):
    with pytest.raises(kinesis_batch.MalformedRecord, match=reason):
        diy_function.handle_record(diy_function.parse(text), 0.0)


# ---- AnomalyMessageDeliveryFunction ----------------------------------------------------------------------------


def table_item(location, second, score, stuck=False, **extra):
    time_ = f"2026-11-27T10:00:{second:02d}.000Z"
    return {"location": location, "reading_id": f"{time_}#{location}-{second}", "timestamp": time_,
            "turbine_id": "WT-01", "wind_speed": Decimal("95.5") if score >= 2 else Decimal("20"),
            "anomaly_score": Decimal(str(score)), "stuck": stuck, **extra}


def test_consecutive_high_readings_of_one_location_are_one_event():
    items = [table_item("A", s, score) for s, score in enumerate([0.7, 4.5, 3.9, 2.4, 0.8, 0.7, 5.0, 0.9])]
    items += [table_item("B", s, score) for s, score in enumerate([0.8, 4.1, 0.7])]
    events_ = delivery.anomaly_events(list(reversed(items)), threshold=2)
    assert [[i["reading_id"].split("#")[1] for i in event] for event in events_] == [
        ["A-1", "A-2", "A-3"], ["B-1"], ["A-6"]]


def test_threshold_compares_numbers_not_text():
    # As text "10.5" < "2"; the original function would have missed this anomaly.
    assert delivery.anomaly_events([table_item("A", 1, 10.5)], threshold=2)
    assert not delivery.anomaly_events([table_item("A", 1, 1.99)], threshold=2)


def test_stuck_sensor_readings_are_an_event_even_with_low_scores():
    items = [table_item("A", s, 0.6, stuck=s >= 3) for s in range(6)]
    assert [len(event) for event in delivery.anomaly_events(items, threshold=2)] == [3]


def test_message_names_place_speed_score_time_and_the_safe_operating_guidance():
    body = delivery.message([table_item("North Ridge", 4, 4.5), table_item("North Ridge", 5, 3.1)], threshold=2)
    assert "North Ridge" in body and "WT-01" in body
    assert "95.5 mph" in body and "4.50" in body and "2026-11-27T10:00:04.000Z" in body
    assert "30 to 55 mph" in body and "70 mph" in body and "shutdown" in body


def test_message_neutralises_untrusted_text():
    hostile = "X\r\nBcc: victim@example.com\x00" + "y" * 500
    body = delivery.message([table_item(hostile, 4, 4.5)], threshold=2)
    first_line = body.splitlines()[0]
    assert "\r" not in body and "\x00" not in body and "Bcc" in first_line
    assert len(first_line) < 140


# ---- the batch wrapper ------------------------------------------------------------------------------------------


def text_item(record: dict) -> dict:
    """A test converter: the record's text as the item's key; "bad" is malformed, "boom" fails."""
    text = kinesis_batch.data(record).decode()
    if text == "bad":
        raise kinesis_batch.MalformedRecord("not a reading")
    if text == "boom":
        raise kinesis_batch.RetryLater("the reading needs something that is missing")
    return {"location": "North Ridge", "reading_id": text}


def stored_ids(table) -> list[str]:
    return sorted(item["reading_id"] for item in table.scan()["Items"])


def test_batch_wrapper_skips_malformed_records_writes_those_before_a_failure_and_reports_it(aws, caplog):
    table = create_wind_table()
    with caplog.at_level(logging.ERROR):
        response = kinesis_batch.process(kinesis_event("a", "bad", "b", "boom", "c"), text_item, "WindDataTable")
    assert stored_ids(table) == ["a", "b"]  # "c" comes after the failure: Lambda retries from "boom" on
    assert response == {"batchItemFailures": [{"itemIdentifier": "4"}]}
    assert "skipped malformed record shardId-000000000000:2: not a reading" in caplog.text
    assert "record shardId-000000000000:4 failed, it will be retried: the reading needs" in caplog.text


def test_batch_wrapper_writes_hundreds_of_records_in_batches_and_a_key_twice_keeps_the_later(aws, monkeypatch):
    table = create_wind_table()
    requests = []
    resource = kinesis_batch._dynamodb()
    original = resource.meta.client.batch_write_item
    monkeypatch.setattr(resource.meta.client, "batch_write_item",
                        lambda **kw: requests.append(kw) or original(**kw))
    payloads = [f"r{n:03d}" for n in range(260)] + ["r000"]
    assert kinesis_batch.process(kinesis_event(*payloads), text_item, "WindDataTable") == {"batchItemFailures": []}
    assert stored_ids(table) == sorted(set(payloads))
    assert 11 <= len(requests) <= 12 and all(len(r["RequestItems"]["WindDataTable"]) <= 25 for r in requests)


def test_batch_wrapper_reports_success_as_an_empty_list(aws):
    create_wind_table()
    assert kinesis_batch.process(kinesis_event("a"), text_item, "WindDataTable") == {"batchItemFailures": []}


@pytest.mark.parametrize("payload, done, retry_from, whole", [
    ({"batchItemFailures": []}, True, 0, False),
    (None, True, 0, False),
    ({"batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "2"}]}, False, 1, False),
    ({"batchItemFailures": [{"itemIdentifier": ""}]}, False, 0, True),
    ({"batchItemFailures": [{"itemIdentifier": "99"}]}, False, 0, True),
    ({"batchItemFailures": [{"id": "2"}]}, False, 0, True),
])
def test_partial_batch_response_follows_lambdas_success_and_failure_conditions(payload, done, retry_from, whole):
    records = [{"SequenceNumber": str(n)} for n in (1, 2, 3)]
    outcome = esm.judge(Invocation("r", json.dumps(payload).encode(), None, ""), records, report_item_failures=True)
    assert (outcome.done, outcome.retry_from, outcome.whole_batch) == (done, retry_from, whole)


# ---- handlers against DynamoDB and SNS (moto in process) -------------------------------------------------------


@pytest.fixture
def aws(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "OUTPUT_TABLE_NAME": "WindDataTable"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    kinesis_batch._table_keys.clear()
    kinesis_batch._dynamodb.cache_clear()
    with mock_aws():
        yield
    kinesis_batch._table_keys.clear()
    kinesis_batch._dynamodb.cache_clear()


def create_wind_table():
    return boto3.resource("dynamodb").create_table(
        TableName="WindDataTable", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "location", "KeyType": "HASH"},
                   {"AttributeName": "reading_id", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "location", "AttributeType": "S"},
                              {"AttributeName": "reading_id", "AttributeType": "S"}])


def test_analytics_handler_stores_valid_records_once_even_when_replayed(aws, caplog):
    table = create_wind_table()
    event = kinesis_event(reading("e1"), "not json", reading("e2", score=4.5))
    with caplog.at_level(logging.ERROR):
        assert analytics_destination.handler(event, None) == {"batchItemFailures": []}
    table.update_item(Key={"location": "North Ridge", "reading_id": "2026-11-27T10:00:00.000Z#e2"},
                      UpdateExpression="SET alerted_at = :t", ExpressionAttributeValues={":t": "then"})
    replay = kinesis_event(reading("e1", score=3.0), "not json", reading("e2", score=4.5), reading("e3"))
    assert analytics_destination.handler(replay, None) == {"batchItemFailures": []}  # again, e.g. after a retry
    items = sorted(table.scan()["Items"], key=lambda i: i["event_id"])
    assert [(i["event_id"], i["anomaly_score"]) for i in items] == [
        ("e1", Decimal("0.8")), ("e2", Decimal("4.5")), ("e3", Decimal("0.8"))], "stored items are not written again"
    assert items[1]["alerted_at"] == "then", "a replay must not erase the alert mark"
    assert "skipped malformed record shardId-000000000000:2: data is not JSON" in caplog.text


def test_analytics_handler_with_a_missing_table_reports_the_first_record_and_says_so(aws, caplog):
    with caplog.at_level(logging.ERROR):
        response = analytics_destination.handler(kinesis_event(reading("e1"), reading("e2")), None)
    assert response == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert "the DynamoDB table 'WindDataTable' does not exist. Create it" in caplog.text


def test_delivery_handler_mails_each_event_once_across_runs(aws, monkeypatch):
    from moto.sns.models import sns_backends

    table = create_wind_table()
    topic = boto3.client("sns").create_topic(Name="AnomalyNotification")["TopicArn"]
    boto3.client("sns").subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")  # moto: confirmed
    monkeypatch.setenv("SNS_TOPIC_ARN", topic)
    for second, score in enumerate([0.7, 4.5, 3.9, 0.8, 0.9, 5.1, 0.7]):
        table.put_item(Item=table_item("North Ridge", second, score))
    assert delivery.handler({}, None) == {"anomaly_events": 2, "mailed": 2, "already_mailed": 0}
    table.put_item(Item=table_item("North Ridge", 7, 0.6))
    assert delivery.handler({}, None) == {"anomaly_events": 2, "mailed": 0, "already_mailed": 2}
    sent = sns_backends["123456789012"]["us-east-1"].topics[topic].sent_notifications
    assert [subject for _, _, subject, _, _ in sent] == ["Abnormal Wind Turbine Speed Detected"] * 2
    assert "4.50" in sent[0][1] and "5.10" in sent[1][1]


def test_delivery_handler_takes_its_mark_back_when_publishing_fails(aws, monkeypatch):
    table = create_wind_table()
    table.put_item(Item=table_item("North Ridge", 1, 4.5))
    monkeypatch.setenv("SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:NoSuchTopic")
    with pytest.raises(Exception):
        delivery.handler({}, None)
    assert "alerted_at" not in table.scan()["Items"][0], "the next run must retry the mail"


# ---- deployment on the aws target, against moto's control plane ------------------------------------------------


def test_deployment_zip_holds_the_handler_and_its_plumbing_and_is_reproducible():
    import io
    import zipfile

    from labkit.resources import functions

    archive = zipfile.ZipFile(io.BytesIO(functions.package("analytics_destination.py")))
    assert sorted(archive.namelist()) == ["analytics_destination.py", "kinesis_batch.py"]
    assert archive.read("analytics_destination.py") == (LAMBDAS_DIR / "analytics_destination.py").read_bytes()
    assert functions.package("analytics_destination.py") == functions.package("analytics_destination.py")


@pytest.fixture
def aws_target(aws, monkeypatch):
    monkeypatch.setenv("LABKIT_TARGET", "aws")
    monkeypatch.setenv("LABKIT_REGION", "us-east-1")


def test_aws_target_deploys_tagged_resources_idempotently_and_removes_them(aws_target):
    from labkit.config import NAMES
    from labkit.resources import functions, streams, tables, topics

    tag = {NAMES.tag_key: NAMES.tag_value}
    for _ in range(2):  # every call a second time changes nothing
        streams.create(NAMES.anomaly_stream, quiet=True)
        table = tables.create(NAMES.wind_table, quiet=True)
        topic = topics.create(NAMES.topic)
        subscription = topics.subscribe_email("student@example.com")
        function = functions.deploy(NAMES.delivery_function, quiet=True)
        analytics = functions.deploy(NAMES.analytics_function, quiet=True)
        trigger = functions.add_trigger(NAMES.analytics_function, NAMES.anomaly_stream, quiet=True)
    assert (table["partition_key"], table["sort_key"], table["tags"]) == ("location", "reading_id", tag)
    assert topics.subscriptions() == [{"protocol": "email", "endpoint": "student@example.com",
                                       "arn": subscription["arn"], "confirmed": subscription["confirmed"]}]
    assert function["environment"] == {"OUTPUT_TABLE_NAME": NAMES.wind_table, "SNS_TOPIC_ARN": topic, "THRESHOLD": "2",
                                       "SUBJECT": "Abnormal Wind Turbine Speed Detected"}
    assert (function["handler"], function["runtime"], function["tags"]) == (
        "anomaly_message_delivery.handler", "python3.11", tag)
    assert analytics["role"].endswith(f":role/{NAMES.role}")
    assert [t["uuid"] for t in functions.triggers(NAMES.analytics_function)] == [trigger["uuid"]]
    assert (trigger["starting_position"], trigger["bisect"], trigger["report_item_failures"], trigger["retries"],
            trigger["parallelization"]) == ("TRIM_HORIZON", True, True, -1, 1)
    faster = functions.add_trigger(NAMES.analytics_function, NAMES.anomaly_stream, parallelization=4, quiet=True)
    assert (faster["uuid"], faster["parallelization"]) == (trigger["uuid"], 4)
    for wrong in (0, 11, 2.5, True):
        with pytest.raises(BadParameter, match=rf"parallelization={wrong!r} cannot work: .* from 1 to 10"):
            functions.add_trigger(NAMES.analytics_function, NAMES.anomaly_stream, parallelization=wrong, quiet=True)
    assert functions.delete(NAMES.analytics_function) and not functions.delete(NAMES.analytics_function)
    assert boto3.client("lambda").list_event_source_mappings()["EventSourceMappings"] == []
    assert tables.delete(NAMES.wind_table, quiet=True) and topics.delete(NAMES.topic)
