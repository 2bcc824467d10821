"""AnalyticsDestinationFunction: anomaly records from AnomalyDetectionStream into WindDataTable.

Trigger: the Kinesis stream AnomalyDetectionStream (event source mapping, ReportBatchItemFailures).
Environment: OUTPUT_TABLE_NAME (default WindDataTable).

One item per record, written once: partition key `location`, sort key `reading_id` =
"<event_time>#<event_id>". A record delivered again (Lambda's retries, or Flink writing again what it wrote
after its latest checkpoint) finds its item stored (BatchGetItem just before the BatchWriteItem) and is not
written again, so the item and the alert mark `alerted_at` AnomalyMessageDeliveryFunction adds stay as they
are. Numbers are stored as numbers; the fault kind, expected vs actual power and the energy lost are kept when
the record carries them. A record in the original lab's shape {location, speed, score} has no event time or
id: it gets the Kinesis arrival time and the record's eventID instead, which stay the same when that record
is delivered again.
"""
from __future__ import annotations

import json
import math
import os
from datetime import datetime

import kinesis_batch
from kinesis_batch import MalformedRecord, iso_time, number

MAX_TEXT = 256  # UTF-8 bytes of a text field: DynamoDB keys must stay small (a sort key at most 1,024 bytes)
TEXT_FIELDS = ("rule", "fault", "fault_since", "power_curve")  # which rule fired, the fault kind, since when
POWER_FIELDS = ("power_kw", "expected_kw", "energy_lost_kwh")  # actual vs expected power, energy lost so far


def _text(reading: dict, field: str, default: str | None = None) -> str:
    value = reading.get(field, default)
    if (not isinstance(value, str) or not value.strip() or not value.isprintable()
            or len(value.encode("utf-8", "replace")) > MAX_TEXT):
        raise MalformedRecord(f"{field!r} must be printable text of at most {MAX_TEXT} bytes, got {value!r:.80}")
    return value


def _number(reading: dict, field: str) -> float:
    value = reading.get(field)
    try:
        number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
    except OverflowError:  # an integer with hundreds of digits
        number = math.nan
    if not math.isfinite(number):
        raise MalformedRecord(f"{field!r} must be a finite number, got {value!r:.80}")
    return number


def _speed(reading: dict) -> float:
    speed = _number(reading, "speed")
    if speed < 0:
        raise MalformedRecord(f"'speed' must be a wind speed >= 0 mph, got {speed!r}")
    return speed


def _event_time(reading: dict, arrival_s: float) -> str:
    if "event_time" not in reading:
        return iso_time(arrival_s)
    value = _text(reading, "event_time")
    try:
        aware = datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        aware = False
    if not aware:
        raise MalformedRecord("'event_time' must be ISO-8601 with a time zone, e.g. 2026-11-27T10:00:00.000Z, "
                              f"got {value!r:.80}")
    return value


def handle_record(reading: dict, record_id: str, arrival_s: float) -> dict:
    """The WindDataTable item for one anomaly record (no I/O); raises MalformedRecord saying what is wrong."""
    if not isinstance(reading, dict):
        raise MalformedRecord(f"expected a JSON object, got {type(reading).__name__}")
    event_time = _event_time(reading, arrival_s)
    event_id = _text(reading, "event_id", default=record_id)
    item = {
        "location": _text(reading, "location"),
        "reading_id": f"{event_time}#{event_id}",
        "timestamp": event_time,
        "event_id": event_id,
        "wind_speed": number(_speed(reading)),
        "anomaly_score": number(_number(reading, "score")),
    }
    if "turbine_id" in reading:
        item["turbine_id"] = _text(reading, "turbine_id")
    if isinstance(reading.get("stuck"), bool):
        item["stuck"] = reading["stuck"]
    for field in TEXT_FIELDS:
        if isinstance(reading.get(field), str):
            item[field] = _text(reading, field)
    for field in POWER_FIELDS:
        if reading.get(field) is not None:
            item[field] = number(_number(reading, field))
    attribution = reading.get("attribution")
    if isinstance(attribution, dict):
        item["attribution"] = {str(k)[:32]: number(_number(attribution, k)) for k in list(attribution)[:16]}
    return item


def _item(record: dict) -> dict:
    try:
        reading = json.loads(kinesis_batch.data(record))
    except (ValueError, RecursionError) as error:  # not UTF-8, not JSON, nested too deep
        raise MalformedRecord(f"data is not JSON: {error}") from None
    return handle_record(reading, record["eventID"], record["kinesis"]["approximateArrivalTimestamp"])


def handler(event, context):
    return kinesis_batch.process(event, _item, os.environ.get("OUTPUT_TABLE_NAME", "WindDataTable"),
                                 keep_existing=True)
