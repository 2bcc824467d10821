"""DIYFunction's rule for one record: a window result from MaxWindSpeed becomes a DIYTable item (pure, no I/O).

diy_function.py imports `handle_record` from here. In the DIY notebook (exercise 7) students write their own
diy_record.py, and labkit zips theirs in place of this file. One item per location and window: partition key
`location`, sort key `timestamp` (the window's end), so a result delivered twice overwrites itself. The speed is
stored as a number.
"""
from __future__ import annotations

import math

from kinesis_batch import MalformedRecord, iso_time, number

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


def handle_record(result: dict, arrival_s: float) -> dict:
    """The DIYTable item for one window result, JSON or from a CSV line (which names no window: its arrival
    time stands for the window's end); raises MalformedRecord saying what is wrong."""
    item = {
        "location": _location(result.get("location")),
        "timestamp": result.get("window_end") or iso_time(arrival_s),
        "max_wind_speed": number(_speed(result.get("max_wind_speed"))),
    }
    if not isinstance(item["timestamp"], str) or len(item["timestamp"]) > 64:
        raise MalformedRecord(f"window_end must be an ISO-8601 time, got {item['timestamp']!r:.80}")
    if isinstance(result.get("window_start"), str):
        item["window_start"] = result["window_start"][:64]
    if isinstance(result.get("count"), int) and not isinstance(result["count"], bool):
        item["count"] = result["count"]
    return item
