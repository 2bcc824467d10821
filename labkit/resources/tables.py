"""DynamoDB tables: create / describe / delete (idempotent, tagged) and the console's "Explore items".

    tables.create("WindDataTable")        # DynamoDB > Tables > Create table (the lab's keys by default)
    tables.items("WindDataTable")         # Explore items: every item, numbers as numbers

The lab's tables have keys that cannot collide, so a replayed record finds its own item (AnalyticsDestinationFunction
then leaves it as it is; DIYFunction's result overwrites itself):
- WindDataTable: partition key `location`, sort key `reading_id` ("<event_time>#<event_id>");
- DIYTable: partition key `location`, sort key `timestamp` (the end of the window).
"""
from __future__ import annotations

from decimal import Decimal

from botocore.exceptions import ClientError

from ..clients import client, pages
from ..config import NAMES
from ..errors import BadParameter, LabError, ResourceMissing
from ..progress import wait_until
from . import tags
from .errors import explained

LAB_KEYS = {NAMES.wind_table: ("location", "reading_id"), NAMES.diy_table: ("location", "timestamp")}
TIMEOUT_S = 120


def missing(name: str) -> ResourceMissing:
    return ResourceMissing("DynamoDB table", name,
                           f"Create it with `labkit.resources.tables.create({name!r})` and try again.")


def _dynamodb_errors(name: str, keep: tuple[str, ...] = ()):
    return explained("DynamoDB", f"table {name!r}", lambda: missing(name), keep)


def _status(name: str) -> str | None:
    try:
        with _dynamodb_errors(name):
            return client("dynamodb").describe_table(TableName=name)["Table"]["TableStatus"]
    except ResourceMissing:
        return None


def describe(name: str) -> dict:
    """Name, ARN, status, keys, item count (approximate on AWS) and tags; ResourceMissing if absent."""
    dynamodb = client("dynamodb")
    with _dynamodb_errors(name):
        table = dynamodb.describe_table(TableName=name)["Table"]
        found = dynamodb.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags", [])
    keys = {k["KeyType"]: k["AttributeName"] for k in table["KeySchema"]}
    return {
        "name": name,
        "arn": table["TableArn"],
        "status": table["TableStatus"],
        "partition_key": keys["HASH"],
        "sort_key": keys.get("RANGE"),
        "item_count": table.get("ItemCount", 0),
        "tags": {t["Key"]: t["Value"] for t in found},
    }


def create(name: str = NAMES.wind_table, partition_key: str | None = None, sort_key: str | None = None,
           quiet: bool = False) -> dict:
    """Create an on-demand table with string keys (or keep the existing one), wait until it is ACTIVE,
    tag it and return `describe(name)`. The lab's tables get the lab's keys unless others are given.

    An existing table with other keys is an error: its items would not fit what the functions write."""
    partition_key, sort_key = (partition_key, sort_key) if partition_key else LAB_KEYS.get(name, (None, None))
    if not partition_key:
        raise BadParameter(f"table {name!r} is not one of the lab's ({', '.join(LAB_KEYS)}): give its partition_key.")
    wanted = (partition_key, sort_key)
    if _status(name) is None:
        schema = [{"AttributeName": partition_key, "KeyType": "HASH"}]
        if sort_key:
            schema.append({"AttributeName": sort_key, "KeyType": "RANGE"})
        try:
            with _dynamodb_errors(name, keep=("ResourceInUseException",)):
                client("dynamodb").create_table(
                    TableName=name, KeySchema=schema, BillingMode="PAY_PER_REQUEST", Tags=tags.as_list(),
                    AttributeDefinitions=[{"AttributeName": a["AttributeName"], "AttributeType": "S"} for a in schema])
        except ClientError:
            pass  # created meanwhile: it is checked below like an existing one
    wait_until(lambda: _status(name) == "ACTIVE", TIMEOUT_S, f"table {name} to become ACTIVE", quiet=quiet,
               interval_s=0.5, on_timeout="Look at the table in the DynamoDB console and try again.")
    table = describe(name)
    if (table["partition_key"], table["sort_key"]) != wanted:
        raise LabError(f"table {name!r} exists with keys ({table['partition_key']}, {table['sort_key']}), not "
                       f"{wanted}. Delete it with `labkit.resources.tables.delete({name!r})` and create it again.")
    with _dynamodb_errors(name):
        client("dynamodb").tag_resource(ResourceArn=table["arn"], Tags=tags.as_list())
    return describe(name)


def delete(name: str, quiet: bool = False) -> bool:
    """Delete the table and wait until it is gone; False when there was none."""
    if _status(name) is None:
        return False
    try:
        with _dynamodb_errors(name):
            client("dynamodb").delete_table(TableName=name)
    except ResourceMissing:
        return False
    wait_until(lambda: _status(name) is None, TIMEOUT_S, f"table {name} to be deleted", quiet=quiet, interval_s=0.5)
    return True


def _plain(value):
    """DynamoDB's Decimal numbers as int or float, inside lists and maps too."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_plain(v) for v in value]
    return value


def items(name: str = NAMES.wind_table, partition: str | None = None, limit: int | None = None,
          after: str | None = None) -> list[dict]:
    """The table's items, numbers as int/float, in key order per partition: all of them (every page), only
    those whose partition key is `partition` (e.g. one location; a Query, much cheaper than a Scan) and, with
    `after`, whose sort key is above it (what arrived since the last read), or the first `limit`."""
    from boto3.dynamodb.types import TypeDeserializer

    deserialize = TypeDeserializer().deserialize
    request: dict = {"TableName": name}
    if partition is not None:
        table = describe(name)
        request.update(KeyConditionExpression="#p = :p", ExpressionAttributeValues={":p": {"S": partition}},
                       ExpressionAttributeNames={"#p": table["partition_key"]})
        if after is not None:
            request["KeyConditionExpression"] += " AND #s > :s"
            request["ExpressionAttributeValues"][":s"] = {"S": after}
            request["ExpressionAttributeNames"]["#s"] = table["sort_key"]
    found: list[dict] = []
    with _dynamodb_errors(name):
        for page in pages("dynamodb", "scan" if partition is None else "query", **request):
            found += [{k: _plain(deserialize(v)) for k, v in item.items()} for item in page["Items"]]
            if limit is not None and len(found) >= limit:
                break
    keys = LAB_KEYS.get(name)
    if keys:
        found.sort(key=lambda item: tuple(str(item.get(k, "")) for k in keys))
    return found[:limit] if limit is not None else found


def count(name: str = NAMES.wind_table) -> int:
    """How many items the table holds now (an exact scan, not DynamoDB's six-hourly estimate)."""
    with _dynamodb_errors(name):
        return sum(page["Count"] for page in pages("dynamodb", "scan", TableName=name, Select="COUNT"))
