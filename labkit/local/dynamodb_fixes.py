"""DynamoDB answers that carry items, written as JSON directly.

moto 5.2.5 writes every DynamoDB answer through its generic, shape-driven serializer, which walks each attribute
of each item against the service model: about 2 ms per item of the lab's shape, so a Scan of WindDataTable after
the course's data sets (12,000 items) took 33 s, beyond AnomalyMessageDeliveryFunction's 30 s timeout, where AWS
answers in about a second. The answers of the operations that return items (Scan, Query, GetItem, BatchGetItem)
are plain DynamoDB JSON, so they are written with json.dumps: the same document, the same headers. And a
ProjectionExpression converted the whole item once per projected attribute (16 times for the delivery
function's projection); it is converted once.
"""
from __future__ import annotations

import base64
import json
from datetime import datetime

from botocore.utils import merge_dicts
from moto.core.responses import ActionResult
from moto.dynamodb.models.dynamo_type import Item, serializer
from moto.dynamodb.models.utilities import find_nested_key
from moto.dynamodb.responses import DynamoResult

from .moto_patches import Patch

ITEM_OPERATIONS = frozenset({"Scan", "Query", "GetItem", "BatchGetItem"})


def _json_value(value):
    """What json.dumps cannot write itself, as DynamoDB's JSON protocol writes it."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not part of an item answer")


def execute_result(self: DynamoResult, context) -> tuple[int, dict, str]:
    """An item answer as JSON at once; any other answer (and every error) through moto's serializer."""
    if context.operation_model.name not in ITEM_OPERATIONS or isinstance(self.result, Exception):
        return ActionResult.execute_result(self, context)
    body = json.dumps(self.result, separators=(",", ":"), default=_json_value)
    content_type = f"application/x-amz-json-{context.service_model.metadata['jsonVersion']}"
    return 200, {"Content-Type": content_type}, body


def project(self: Item, projection_expressions: list[list[str]]) -> Item:
    """The item with only the projected attributes (moto's Item.project, converting the item once)."""
    regular, result = self.to_regular_json(), {}
    for expression in projection_expressions:
        merge_dicts(result, find_nested_key(expression, regular))
    return Item(hash_key=self.hash_key, range_key=self.range_key, attrs=serializer.serialize(result)["M"])


def patches() -> list[Patch]:
    return [Patch(DynamoResult, "execute_result", execute_result,
                  "moto writes each item of an answer through its generic serializer, ~2 ms an item: a Scan of the "
                  "course's WindDataTable outlasts the delivery function's 30 s timeout",
                  "test_an_item_answer_is_the_serializers_document_without_the_serializer"),
            Patch(Item, "project", project,
                  "a ProjectionExpression converts the whole item (deep copies) once per projected attribute",
                  "test_a_projection_converts_each_item_once")]
