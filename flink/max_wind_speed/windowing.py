"""Windowing rules for the CalculateMaxSpeed app, in plain Python: unit-tested without a cluster.

Each location's readings fall into event-time tumbling windows [start, start + length). A window reports its
maximum speed (by the window rule `add_reading` of window_max.py) and how many readings it saw. It is reported
when the watermark passes its end, or, if its readings stop coming (the simulator was stopped, the input went
quiet), once no reading has arrived for it for the idle timeout, so the last window of a run does not wait
forever for a watermark that no longer moves. A reading that reaches an already reported (but not yet closed)
window reports it again, complete. Readings whose window the watermark has closed are late: they are reported on
their own, never silently dropped.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone

from pyflink.common import Types
from pyflink.datastream.state import ValueStateDescriptor
from pyflink.datastream.window import TimeWindow, Trigger, TriggerResult
from window_max import add_reading

EXAMPLE_EVENT_TIME = "2026-11-27T10:00:00.000Z"
MAX_SPEED_MPH = 300.0  # the fastest gust ever measured is 253 mph: more is a sensor or encoding fault


class InvalidReading(ValueError):
    """A record that is not a wind reading; the message says what is wrong with it."""


@dataclass(frozen=True)
class WindReading:
    location: str
    speed: float  # mph
    event_time_ms: int  # epoch milliseconds, UTC


def parse_reading(raw: str | bytes) -> WindReading:
    """The fields this app needs from one Kinesis record; raises InvalidReading saying what is wrong."""
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError) as error:  # not UTF-8, not JSON, nested too deep, a 5,000-digit number
        raise InvalidReading(f"not JSON: {error}") from None
    if not isinstance(record, dict):
        raise InvalidReading(f"expected a JSON object, got {type(record).__name__}")
    location, speed, event_time = record.get("location"), record.get("speed"), record.get("event_time")
    if isinstance(speed, int) and not isinstance(speed, bool) and abs(speed) > MAX_SPEED_MPH:
        speed = math.inf  # an integer of hundreds of digits does not fit a float
    if not isinstance(location, str) or not location.strip():
        raise InvalidReading(f"field 'location' must be a non-empty string, got {location!r}")
    if (isinstance(speed, bool) or not isinstance(speed, (int, float)) or not math.isfinite(speed)
            or not 0 <= speed <= MAX_SPEED_MPH):
        raise InvalidReading(f"field 'speed' must be a number >= 0 mph and <= {MAX_SPEED_MPH:g} mph, "
                             f"got {record.get('speed')!r:.80}")
    if not isinstance(event_time, str):
        raise InvalidReading(f"field 'event_time' must be a string like {EXAMPLE_EVENT_TIME}, got {event_time!r}")
    try:
        moment = datetime.fromisoformat(event_time)
    except ValueError:
        raise InvalidReading(f"event_time {event_time!r} is not ISO-8601; send UTC like {EXAMPLE_EVENT_TIME}") \
            from None
    if moment.tzinfo is None:
        raise InvalidReading(f"event_time {event_time!r} has no time zone; send UTC like {EXAMPLE_EVENT_TIME}")
    return WindReading(location=location, speed=float(speed), event_time_ms=round(moment.timestamp() * 1000))


def iso_time(epoch_ms: int) -> str:
    """An epoch in milliseconds as the lab writes every time: UTC, ISO-8601 with milliseconds, e.g.
    2026-11-27T10:00:00.000Z (labkit.config.iso_time's format: the app's zip cannot import labkit)."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def window_start(event_time_ms: int, length_ms: int) -> int:
    """Start of the tumbling window (aligned to the epoch, like Flink's) that holds `event_time_ms`."""
    return event_time_ms - event_time_ms % length_ms


# A window's result so far: (its highest speed by the window rule, None while it is empty; readings counted).
def new_window() -> tuple[float | None, int]:
    return (None, 0)


def count_reading(window: tuple[float | None, int], speed: float) -> tuple[float, int]:
    return (add_reading(window[0], speed), window[1] + 1)


def merge_windows(a: tuple[float | None, int], b: tuple[float | None, int]) -> tuple[float | None, int]:
    """Two partial results of one window (Flink merges only merging windows: tumbling ones never do)."""
    return (a[0] if b[0] is None else add_reading(a[0], b[0]), a[1] + b[1])


def window_report(location: str, window: tuple[float, int], start_ms: int, end_ms: int) -> dict:
    """The record written to MaxWindSpeed for one location's window."""
    return {
        "location": location,
        "max_wind_speed": window[0],
        "window_start": iso_time(start_ms),
        "window_end": iso_time(end_ms),
        "count": window[1],
    }


def late_report(reading: WindReading, length_ms: int) -> dict:
    """What to say about a reading that arrived after its window had closed."""
    start = window_start(reading.event_time_ms, length_ms)
    return {
        "reason": f"late: its window [{iso_time(start)}, {iso_time(start + length_ms)}) had already closed",
        "location": reading.location,
        "speed": reading.speed,
        "event_time": iso_time(reading.event_time_ms),
    }


class WatermarkOrIdleTrigger(Trigger):
    """Report a window when the watermark passes its end, or after `idle_ms` of wall-clock time without a
    new reading for it; report it again only if readings arrived since the last report."""

    IDLE_DEADLINE = ValueStateDescriptor("idle-deadline", Types.LONG())  # set while unreported readings wait

    def __init__(self, idle_ms: int):
        self.idle_ms = idle_ms

    def on_element(self, element, timestamp: int, window: TimeWindow, ctx: Trigger.TriggerContext) -> TriggerResult:
        ctx.register_event_time_timer(window.max_timestamp())
        deadline = ctx.get_partitioned_state(self.IDLE_DEADLINE)
        if deadline.value() is not None:
            ctx.delete_processing_time_timer(deadline.value())
        next_deadline = ctx.get_current_processing_time() + self.idle_ms
        ctx.register_processing_time_timer(next_deadline)
        deadline.update(next_deadline)
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: TimeWindow, ctx: Trigger.TriggerContext) -> TriggerResult:
        return self._report_waiting(ctx) if time == window.max_timestamp() else TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: TimeWindow, ctx: Trigger.TriggerContext) -> TriggerResult:
        return self._report_waiting(ctx)

    def _report_waiting(self, ctx: Trigger.TriggerContext) -> TriggerResult:
        deadline = ctx.get_partitioned_state(self.IDLE_DEADLINE)
        if deadline.value() is None:
            return TriggerResult.CONTINUE
        ctx.delete_processing_time_timer(deadline.value())
        deadline.clear()
        return TriggerResult.FIRE

    def on_merge(self, window: TimeWindow, ctx: Trigger.OnMergeContext) -> None:
        """Tumbling windows never merge (can_merge() is False), so Flink never calls this."""

    def clear(self, window: TimeWindow, ctx: Trigger.TriggerContext) -> None:
        ctx.delete_event_time_timer(window.max_timestamp())
        deadline = ctx.get_partitioned_state(self.IDLE_DEADLINE)
        if deadline.value() is not None:
            ctx.delete_processing_time_timer(deadline.value())
        deadline.clear()
