"""Kinesis batch plumbing shared by the stream handlers (zipped next to each of them).

`process(event, handle)` runs `handle` on every record of a Kinesis event, in order, and returns the
partial-batch response of an event source mapping with ReportBatchItemFailures:
- a record that can never succeed (MalformedRecord) is logged with its reason and skipped;
- any other error (a missing table, throttling, a bug) is logged, the record is reported as the first
  failure and the batch stops there: Lambda retries from that record on, so nothing valid is lost and
  the order of the shard is kept.
"""
from __future__ import annotations

import base64
import logging
from decimal import Decimal, DecimalException

import boto3
from boto3.dynamodb.types import DYNAMODB_CONTEXT
from botocore.exceptions import ClientError

log = logging.getLogger()
log.setLevel(logging.INFO)

_tables: dict = {}


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


def put_item(table_name: str, item: dict, unless: str | None = None) -> None:
    """Write one item; a replayed record overwrites its own item. With `unless`, an existing item that
    has that attribute is kept as it is (e.g. the alert mark another function added). A missing table
    becomes an error that says how to fix it."""
    if table_name not in _tables:
        _tables[table_name] = boto3.resource("dynamodb").Table(table_name)
    request: dict = {"Item": item}
    if unless:
        request.update(ConditionExpression="attribute_not_exists(#keep)", ExpressionAttributeNames={"#keep": unless})
    try:
        _tables[table_name].put_item(**request)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "ConditionalCheckFailedException":
            return
        if code == "ResourceNotFoundException":
            raise RetryLater(
                f"the DynamoDB table {table_name!r} does not exist. Create it (or fix OUTPUT_TABLE_NAME); "
                "the event source mapping retries this record."
            ) from error
        raise


def process(event: dict, handle) -> dict:
    """Run `handle(record)` on each record in order; the response lists the first record that failed."""
    for record in event.get("Records", []):
        where = record.get("eventID") or record["kinesis"]["sequenceNumber"]
        try:
            handle(record)
        except MalformedRecord as error:
            log.error("skipped malformed record %s: %s", where, error)
        except Exception as error:  # reported, not raised: the records before it stay processed
            unexpected = not isinstance(error, (RetryLater, ClientError))
            log.error("record %s failed, it will be retried: %s", where, error, exc_info=unexpected)
            return {"batchItemFailures": [{"itemIdentifier": record["kinesis"]["sequenceNumber"]}]}
    return {"batchItemFailures": []}
