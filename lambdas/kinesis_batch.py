"""Kinesis batch plumbing shared by the stream handlers, and the lab's time format (zipped next to every handler).

`process(event, to_item, table_name)` turns every record of a Kinesis event into a DynamoDB item and writes
them in order with BatchWriteItem (one request per 25 items, not one per record: at 1,000 records/s a
PutItem per record is more than one shard's function can send). It returns the partial-batch response of
an event source mapping with ReportBatchItemFailures:
- a record that can never succeed (MalformedRecord) is logged with its reason and skipped;
- any other error (a missing table, throttling, a bug) is logged and the first record not known to be
  written is reported as the first failure: Lambda retries from that record on, so nothing valid is lost,
  the order of the shard is kept, and what is written again overwrites itself (or, with `keep_existing`, is
  not written again).
"""
from __future__ import annotations

import base64
import functools
import logging
import time
from datetime import datetime, timezone
from decimal import Decimal, DecimalException

import boto3
from boto3.dynamodb.types import DYNAMODB_CONTEXT
from botocore.exceptions import ClientError

log = logging.getLogger()
log.setLevel(logging.INFO)

CHUNK = 100  # records converted, then written, at a time
WRITE_BATCH = 25  # items per BatchWriteItem (DynamoDB's limit)
UNPROCESSED_RETRIES = 5
_table_keys: dict = {}


class MalformedRecord(ValueError):
    """A record that no retry can fix; the message says what is wrong with it."""


class RetryLater(RuntimeError):
    """A record that failed for a reason outside it (e.g. a missing table); the message says the fix."""


def data(record: dict) -> bytes:
    """The record's payload as sent by the producer."""
    return base64.b64decode(record["kinesis"]["data"])


def number(value: float) -> Decimal:
    """A float as the Decimal DynamoDB stores as a number (exactly the printed value); MalformedRecord for a
    value DynamoDB cannot hold (magnitude above 1E+125 or below 1E-130)."""
    try:
        return DYNAMODB_CONTEXT.create_decimal(repr(float(value)))
    except DecimalException:
        raise MalformedRecord(f"{value!r} is beyond the numbers DynamoDB can store (1E-130 to 1E+125)") from None


def iso_time(seconds: float) -> str:
    """A time (seconds since 1970) as the lab writes every time: UTC, ISO-8601 with milliseconds, e.g.
    2024-06-03T09:00:00.000Z (labkit.config.iso_time's format: a handler's zip cannot import labkit)."""
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@functools.cache
def _dynamodb():
    """One DynamoDB resource per container (creating one costs more than a request)."""
    return boto3.resource("dynamodb")


def _key_names(table_name: str) -> list[str]:
    """The table's key attribute names (one DescribeTable per table and container); RetryLater if the table is
    missing."""
    if table_name not in _table_keys:
        try:
            _table_keys[table_name] = [key["AttributeName"] for key in _dynamodb().Table(table_name).key_schema]
        except ClientError as error:
            raise _missing_or_raise(error, table_name)
    return _table_keys[table_name]


def _missing_or_raise(error: ClientError, table_name: str) -> Exception:
    if error.response["Error"]["Code"] != "ResourceNotFoundException":
        return error
    return RetryLater(f"the DynamoDB table {table_name!r} does not exist. Create it (or fix OUTPUT_TABLE_NAME); "
                      "the event source mapping retries this record.")


def _until_all_done(call, request: dict, left_key: str, what: str) -> list:
    """Run a batch call, resending what DynamoDB left unprocessed (throttling) with backoff; the responses."""
    responses = []
    for attempt in range(UNPROCESSED_RETRIES + 1):
        response = call(RequestItems=request)
        responses.append(response)
        request = response.get(left_key) or {}
        if not request:
            return responses
        time.sleep(0.05 * 2 ** attempt)
    raise RetryLater(f"DynamoDB left {what} unprocessed {UNPROCESSED_RETRIES + 1} times (throttled); "
                     "the event source mapping retries them.")


def _stored(table_name: str, keys: list[str], items: list[dict]) -> set[tuple]:
    """The keys of `items` that the table already holds an item under."""
    unique = {tuple(item[k] for k in keys): item for item in items}  # BatchGetItem refuses a key twice
    request = {table_name: {"Keys": [{k: item[k] for k in keys} for item in unique.values()],
                            "ProjectionExpression": ", ".join(f"#k{n}" for n in range(len(keys))),
                            "ExpressionAttributeNames": {f"#k{n}": name for n, name in enumerate(keys)}}}
    responses = _until_all_done(_dynamodb().batch_get_item, request, "UnprocessedKeys",
                                "keys to read")
    return {tuple(found[k] for k in keys) for response in responses
            for found in response["Responses"].get(table_name, [])}


def write_items(table_name: str, items: list[dict], keep_existing: bool = False) -> list[dict]:
    """Write `items` in order, BatchWriteItem by BatchWriteItem, and return the items written; a replayed record
    overwrites its own item, or with `keep_existing` is not written again (the stored item stays as it is, with
    what another function added, e.g. the alert mark). A missing table becomes an error that says how to fix it."""
    keys = _key_names(table_name)
    if keep_existing and items:
        stored = _stored(table_name, keys, items)
        items = [item for item in items if tuple(item[k] for k in keys) not in stored]
    written = []
    for start in range(0, len(items), WRITE_BATCH):
        latest = {tuple(item[k] for k in keys): item for item in items[start:start + WRITE_BATCH]}  # no key twice
        request = {table_name: [{"PutRequest": {"Item": item}} for item in latest.values()]}
        try:
            _until_all_done(_dynamodb().batch_write_item, request, "UnprocessedItems", "items")
        except ClientError as error:
            raise _missing_or_raise(error, table_name) from error
        written += latest.values()
    return written


def process(event: dict, to_item, table_name: str, keep_existing: bool = False) -> dict:
    """Turn each record into an item with `to_item(record)` and write them to `table_name` (see write_items), a
    hundred at a time, in order; the partial-batch response lists the first record that failed."""
    records = event.get("Records", [])
    for start in range(0, len(records), CHUNK):
        converted = []
        failed = None
        for record in records[start:start + CHUNK]:
            try:
                converted.append((record, to_item(record)))
            except MalformedRecord as error:
                log.error("skipped malformed record %s: %s", _where(record), error)
            except Exception as error:
                failed = _failure(record, error)
                break
        try:
            if converted:
                write_items(table_name, [item for _, item in converted], keep_existing)
        except Exception as error:  # none of this chunk counts as written: the retry starts at its first record
            return _failure(converted[0][0], error)
        if failed:
            return failed
    return {"batchItemFailures": []}


def _where(record: dict) -> str:
    return record.get("eventID") or record["kinesis"]["sequenceNumber"]


def _failure(record: dict, error: Exception) -> dict:
    """Log the failure; the response that makes Lambda retry from `record` on (the records before it are done)."""
    unexpected = not isinstance(error, (RetryLater, ClientError))
    log.error("record %s failed, it will be retried: %s", _where(record), error, exc_info=unexpected)
    return {"batchItemFailures": [{"itemIdentifier": record["kinesis"]["sequenceNumber"]}]}
