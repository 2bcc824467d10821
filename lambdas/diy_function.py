"""DIYFunction: maximum wind speed per location and window, from MaxWindSpeed into DIYTable.

Trigger: the Kinesis stream MaxWindSpeed (event source mapping, ReportBatchItemFailures).
Environment: OUTPUT_TABLE_NAME (default DIYTable).

Accepts both forms CalculateMaxSpeed can write:
- JSON {"location", "max_wind_speed", "window_start", "window_end", "count"};
- the original lab's CSV line `"location",max_speed`, which names no window: the record's Kinesis
  arrival time (the moment the window closed) stands for the window's end.
One item per location and window: partition key `location`, sort key `timestamp` (the window's end), so
a result delivered twice overwrites itself. The speed is stored as a number.
"""
from __future__ import annotations

import csv
import json
import math
import os
from datetime import datetime, timezone

import kinesis_batch
from kinesis_batch import MalformedRecord, number

MAX_LOCATION = 256


def _location(value) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_LOCATION:
        raise MalformedRecord(f"location must be a non-empty string of at most {MAX_LOCATION} characters, "
                              f"got {value!r:.80}")
    return value.strip()


def _speed(value) -> float:
    try:
        speed = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError, OverflowError):
        speed = math.nan
    if not math.isfinite(speed) or speed < 0:
        raise MalformedRecord(f"max wind speed must be a finite number >= 0, got {value!r:.80}")
    return speed


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(text: str) -> dict:
    """The window result in a MaxWindSpeed record, JSON or `"location",max_speed` CSV."""
    text = text.strip()
    if text.startswith("{"):
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as error:
            raise MalformedRecord(f"data is not valid JSON: {error}") from None
    fields = next(csv.reader([text]), [])
    if len(fields) != 2:
        raise MalformedRecord(f'expected JSON or a CSV line `"location",max_speed`, got {text!r:.80}')
    return {"location": fields[0], "max_wind_speed": fields[1]}


def handle_record(result: dict, arrival_s: float) -> dict:
    """The DIYTable item for one window result (no I/O); raises MalformedRecord saying what is wrong."""
    item = {
        "location": _location(result.get("location")),
        "timestamp": result.get("window_end") or _iso(arrival_s),
        "max_wind_speed": number(_speed(result.get("max_wind_speed"))),
    }
    if not isinstance(item["timestamp"], str) or len(item["timestamp"]) > 64:
        raise MalformedRecord(f"window_end must be an ISO-8601 time, got {item['timestamp']!r:.80}")
    if isinstance(result.get("window_start"), str):
        item["window_start"] = result["window_start"][:64]
    if isinstance(result.get("count"), int) and not isinstance(result["count"], bool):
        item["count"] = result["count"]
    return item


def _item(record: dict) -> dict:
    try:
        text = kinesis_batch.data(record).decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedRecord(f"data is not UTF-8 text: {error}") from None
    return handle_record(parse(text), record["kinesis"]["approximateArrivalTimestamp"])


def handler(event, context):
    return kinesis_batch.process(event, _item, os.environ.get("OUTPUT_TABLE_NAME", "DIYTable"))
