"""Autograder of exercise 7: DIYFunction's `handle_record(result, arrival_s)` on edge cases.

The rule runs in this kernel, before it goes into the function's zip, with kinesis_batch importable as in the zip.
Valid window results must become the right DIYTable item, one DynamoDB can store; records no retry can fix must
raise kinesis_batch.MalformedRecord, the one error DIYFunction skips (any other is retried, for ever).
"""
from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Callable

from boto3.dynamodb.types import TypeSerializer

from ..config import LAMBDAS_DIR
from ..results import figure
from .grading import Mistake, Runtime, importable, load

LAMBDA = Runtime("Lambda's python3.11 runtime", frozenset({"boto3", "botocore", "kinesis_batch"}),
                 "the standard library, boto3 and kinesis_batch (zipped beside your file)", LAMBDAS_DIR)
ARRIVAL_S = 1_795_773_605.25  # 2026-11-27T10:00:05.250Z
ARRIVAL = "2026-11-27T10:00:05.250Z"
WINDOW = {"location": "North Ridge", "max_wind_speed": 41.2, "window_start": "2026-11-27T10:00:00.000Z",
          "window_end": "2026-11-27T10:00:10.000Z", "count": 57}
CSV_HINT = (f"a CSV line names no window: its result has only location and max_wind_speed, both text. The "
            f"timestamp is then the arrival time arrival_s, written like the windows' ends: {ARRIVAL} (UTC, "
            "milliseconds, Z); the speed is float(...) of the text.")


@dataclass(frozen=True)
class Stored:
    """A valid window result and the item it must become."""

    what: str
    result: dict
    location: str
    timestamp: str
    speed: Decimal
    hint: str


@dataclass(frozen=True)
class Rejected:
    """A record no retry can fix, and why."""

    what: str
    result: dict
    why: str


STORED = (
    Stored("a JSON window result", WINDOW, "North Ridge", WINDOW["window_end"], Decimal("41.2"),
           "the item is location, timestamp (the window's end: result['window_end']) and max_wind_speed."),
    Stored("a CSV line of the original lab", {"location": "Quarry Hill", "max_wind_speed": "62.5"}, "Quarry Hill",
           ARRIVAL, Decimal("62.5"), CSV_HINT),
    Stored("a CSV location with quotes and a comma", {"location": 'Harbor Point, "East"', "max_wind_speed": "47"},
           'Harbor Point, "East"', ARRIVAL, Decimal("47"), CSV_HINT),
)
REJECTED = (
    Rejected("a result without a speed", {"location": "North Ridge", "window_end": WINDOW["window_end"]},
             "a window without its speed cannot be stored"),
    Rejected("a result without a location", {"max_wind_speed": 41.2, "window_end": WINDOW["window_end"]},
             "location is DIYTable's partition key: an item cannot lack it"),
    Rejected("a blank location", {"location": "  ", "max_wind_speed": "30"}, "DynamoDB refuses an empty key"),
    Rejected("a speed that is a word", {"location": "North Ridge", "max_wind_speed": "fast"}, "'fast' is no speed"),
    Rejected("a null speed", {"location": "North Ridge", "max_wind_speed": None},
             "a window without its speed cannot be stored"),
    Rejected("a negative speed", {"location": "North Ridge", "max_wind_speed": -3.0}, "wind is never below 0 mph"),
    Rejected("a NaN speed", {"location": "North Ridge", "max_wind_speed": "nan"},
             "float('nan') is not a speed: math.isfinite(speed) tells"),
    Rejected("an infinite speed", {"location": "North Ridge", "max_wind_speed": "inf"},
             "float('inf') is not a speed: math.isfinite(speed) tells"),
)
LOCATION_HINT = ("keep the location as it comes: the CSV reader has already taken the quoting off, and a comma "
                 "inside the quotes belongs to the name.")
KEYS = {"location": "DIYTable's partition key is location.",
        "timestamp": "DIYTable's sort key is timestamp: the window's end (or, for a CSV line, the arrival time).",
        "max_wind_speed": "the item's speed is max_wind_speed."}


def _summary(location: str, timestamp: str, speed: Decimal) -> str:
    return f"{location} @ {timestamp}: {float(speed):g} mph"


def _call(rule: Callable, case: Stored | Rejected):
    """(item, None) or (None, the error) of the rule on a copy of the case's result."""
    try:
        return rule(copy.deepcopy(case.result), ARRIVAL_S), None
    except Exception as error:
        return None, error


def _speed(case: Stored, value) -> None:
    """Mistake unless the item's max_wind_speed is the case's speed as a number DynamoDB stores."""
    wrote = f"handle_record wrote max_wind_speed as {value!r} for {case.what}"
    use_number = "use number(float(...)) from kinesis_batch: a Decimal of the printed value, which DynamoDB stores."
    if isinstance(value, str):
        raise Mistake(f"{wrote}, a string: DynamoDB should get a number.", use_number)
    if isinstance(value, float):
        raise Mistake(f"{wrote}, a float: boto3 refuses floats for DynamoDB.", use_number)
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise Mistake(f"{wrote}, a {type(value).__name__}.", use_number)
    if value == Decimal(float(case.speed)) and value != case.speed:
        raise Mistake(f"{wrote}: Decimal of a float keeps its binary error, and DynamoDB refuses it (Inexact).",
                      use_number)
    if value != case.speed:
        raise Mistake(f"handle_record wrote max_wind_speed {value} for {case.what}, not {case.speed}.",
                      "store the window's speed as it comes: do not round or cut it.")


def _stored(rule: Callable, case: Stored) -> str:
    item, error = _call(rule, case)
    if error is not None:
        raise Mistake(f"handle_record raised {type(error).__name__}: {error} for {case.what} ({case.result!r}).",
                      f"this is a valid window result: {case.hint}")
    if not isinstance(item, dict):
        raise Mistake(f"handle_record returned {item!r:.80} for {case.what}.",
                      "return the DIYTable item: a dict of location, timestamp and max_wind_speed (write the body "
                      "below the ✎ line).")
    for key, hint in KEYS.items():
        if key not in item:
            raise Mistake(f"the item for {case.what} has no {key!r} (its keys: {', '.join(map(str, item))}).", hint)
    if item["location"] != case.location:
        raise Mistake(f"handle_record wrote location {item['location']!r} for {case.location!r} ({case.what}).",
                      LOCATION_HINT)
    _speed(case, item["max_wind_speed"])
    if item["timestamp"] != case.timestamp:
        raise Mistake(f"handle_record wrote timestamp {item['timestamp']!r} for {case.what}, not {case.timestamp!r}.",
                      case.hint)
    for key, value in item.items():
        try:
            TypeSerializer().serialize(value)
        except Exception as refused:
            raise Mistake(f"DynamoDB cannot store the item's {key} = {value!r:.60} ({case.what}): {refused}",
                          "give DynamoDB text, ints or Decimals: a float goes in as number(...).") from None
    return _summary(item["location"], item["timestamp"], item["max_wind_speed"])


def _rejected(rule: Callable, case: Rejected, malformed: type[Exception]) -> str:
    item, error = _call(rule, case)
    if isinstance(error, malformed):
        return "MalformedRecord"
    if error is None:
        raise Mistake(f"handle_record stored {case.what} ({case.result!r}) instead of rejecting it.",
                      f"{case.why}. Raise MalformedRecord('what is wrong') for it: DIYFunction logs why and skips it.")
    if type(error).__name__ == malformed.__name__:
        raise Mistake(f"handle_record raised a MalformedRecord of its own for {case.what}.",
                      "raise kinesis_batch's (from kinesis_batch import MalformedRecord): DIYFunction skips only "
                      "that one.")
    raise Mistake(f"handle_record raised {type(error).__name__}: {error} for {case.what} ({case.result!r}).",
                  f"{case.why}. Raise MalformedRecord('what is wrong') instead: DIYFunction skips a MalformedRecord "
                  "and logs why; any other error makes Lambda retry the batch from this record, for ever, and the "
                  "shard stops there.")


def grade(path: Path) -> dict:
    """Run the student's handle_record on every edge case; the figure of what was compared. Mistake names the
    first case it gets wrong."""
    rule = load(path, "handle_record", LAMBDA)
    with importable(LAMBDAS_DIR):
        malformed = importlib.import_module("kinesis_batch").MalformedRecord
    expected = {**{c.what: _summary(c.location, c.timestamp, c.speed) for c in STORED},
                **{c.what: "MalformedRecord" for c in REJECTED}}
    actual = {**{c.what: _stored(rule, c) for c in STORED}, **{c.what: _rejected(rule, c, malformed) for c in REJECTED}}
    return figure("handle_record on edge cases (the DIYTable item, or rejected)", expected, actual)
