"""The drill function's delivery counter, zipped beside the lab's handler (tests/reliability/pipeline.py).

Imported, it wraps `kinesis_batch.process` and `kinesis_batch.write_items` and leaves their code as it is. For
each event id an invocation brings, it adds to the DELIVERY_TABLE item of that id the records received and the
items written. Keyed items hide a record delivered or written twice; these counts do not."""
from __future__ import annotations

import base64
import json
import os
from collections import Counter

import boto3

import analytics_destination
import kinesis_batch

_table = boto3.resource("dynamodb").Table(os.environ["DELIVERY_TABLE"])
_process, _write_items = kinesis_batch.process, kinesis_batch.write_items
_written: Counter = Counter()
MAX_KEY_BYTES = analytics_destination.MAX_TEXT


def _event_id(record: dict) -> str | None:
    try:
        value = json.loads(base64.b64decode(record["kinesis"]["data"]))
    except (ValueError, RecursionError):
        return None
    event_id = value.get("event_id") if isinstance(value, dict) else None
    if not isinstance(event_id, str) or not event_id or len(event_id.encode("utf-8", "replace")) > MAX_KEY_BYTES:
        return None  # not a reading the handler could store
    return event_id


def write_items(table_name: str, items: list[dict], keep_existing: bool = False) -> list[dict]:
    written = _write_items(table_name, items, keep_existing)
    _written.update(item["event_id"] for item in written)
    return written


def process(event: dict, to_item, table_name: str, keep_existing: bool = False) -> dict:
    _written.clear()
    received = Counter(filter(None, map(_event_id, event.get("Records", []))))
    try:
        return _process(event, to_item, table_name, keep_existing)
    finally:
        for event_id in received.keys() | _written.keys():
            _table.update_item(Key={"event_id": event_id}, UpdateExpression="ADD received :r, written :w",
                               ExpressionAttributeValues={":r": received[event_id], ":w": _written[event_id]})


kinesis_batch.process, kinesis_batch.write_items = process, write_items
handler = analytics_destination.handler
