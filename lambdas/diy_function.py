"""DIYFunction: maximum wind speed per location and window, from MaxWindSpeed into DIYTable.

Trigger: the Kinesis stream MaxWindSpeed (event source mapping, ReportBatchItemFailures).
Environment: OUTPUT_TABLE_NAME (default DIYTable).

Accepts both forms CalculateMaxSpeed can write:
- JSON {"location", "max_wind_speed", "window_start", "window_end", "count"};
- the original lab's CSV line `"location",max_speed`, which names no window: the record's Kinesis
  arrival time (the moment the window closed) stands for the window's end.
The rule for one record, `handle_record`, is diy_record.py beside this file (zipped with it).
"""
from __future__ import annotations

import csv
import json
import os

import kinesis_batch
from diy_record import handle_record
from kinesis_batch import MalformedRecord


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


def _item(record: dict) -> dict:
    try:
        text = kinesis_batch.data(record).decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedRecord(f"data is not UTF-8 text: {error}") from None
    return handle_record(parse(text), record["kinesis"]["approximateArrivalTimestamp"])


def handler(event, context):
    return kinesis_batch.process(event, _item, os.environ.get("OUTPUT_TABLE_NAME", "DIYTable"))
