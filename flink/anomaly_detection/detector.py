"""Anomaly rules for the AnomalyDetection app, in plain Python (no Flink): unit-tested without a cluster.

One `LocationDetector` per location holds a Random Cut Forest (krcf, a port of AWS's RCF) and the current
run of identical readings. For every reading it scores first, then updates the forest, like the AWS sample,
and reports which rule fired:

- "rcf":   the forest's anomaly score reached the threshold (spikes, most drop-outs), unless the turbine's power
           confirms the wind (power_curve.py: a gust the turbine really felt is weather, not a fault);
- "stuck": the same speed arrived `stuck_run_length` times in a row (a stuck anemometer, which no forest
           catches: repeated identical shingles soon look normal; a run of zeros is a drop-out);
- "power": the turbine's power stayed below its power curve at the measured wind (power_curve.py: under-
           performance or a stop at good wind, judged over time).

Each output names the fault kind: "spike" or "dropout" (the forest's attribution says whether the reading was
above or below what it expected), "stuck", "underperformance" or "stop", with expected vs actual power.
The Flink job keeps each location's detector in keyed state, so a snapshot restores the forest, the run and
the learned power curves.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone

import krcf

from power_curve import PowerSettings, TurbineMonitor, parse_models

RULE_RCF = "rcf"
RULE_STUCK = "stuck"
RULE_POWER = "power"
EXAMPLE_EVENT_TIME = "2026-11-27T10:00:00.000Z"
MAX_TEXT_BYTES = 256  # a text field's UTF-8 size: the ids and location become DynamoDB keys downstream
MAX_SPEED_MPH = 300.0  # the fastest gust ever measured is 253 mph: more is a sensor or encoding fault


class InvalidReading(ValueError):
    """A record that is not a wind reading; the message says what is wrong with it."""


@dataclass(frozen=True)
class Reading:
    event_id: str
    event_time: str  # as sent, ISO-8601 UTC
    location: str
    turbine_id: str
    speed: float  # mph
    power_kw: float | None


def _text(record: dict, field: str) -> str:
    value = record.get(field)
    if not isinstance(value, str) or not value.strip():
        raise InvalidReading(f"field {field!r} must be a non-empty string, got {value!r:.80}")
    if not value.isprintable() or "\ufffd" in value or len(value.encode("utf-8", "replace")) > MAX_TEXT_BYTES:
        raise InvalidReading(f"field {field!r} must be printable UTF-8 text of at most {MAX_TEXT_BYTES} bytes, "
                             f"got {value!r:.80}")
    return value


def _number(record: dict, field: str) -> float:
    value = record.get(field)
    try:
        number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
    except OverflowError:  # an integer with hundreds of digits
        number = math.inf
    if not math.isfinite(number):
        raise InvalidReading(f"field {field!r} must be a finite number, got {value!r:.80}")
    return number


def parse_event_time(value: str) -> datetime:
    """ISO-8601 with a time zone, e.g. 2026-11-27T10:00:00.000Z, as an aware UTC datetime."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidReading(f"event_time {value!r} is not ISO-8601; send UTC like {EXAMPLE_EVENT_TIME}") from None
    if moment.tzinfo is None:
        raise InvalidReading(f"event_time {value!r} has no time zone; send UTC like {EXAMPLE_EVENT_TIME}")
    return moment.astimezone(timezone.utc)


def parse_reading(raw: str | bytes, locations: tuple[str, ...] = ()) -> Reading:
    """One Kinesis record's data as a Reading; raises InvalidReading saying what is wrong. With `locations`,
    a reading from any other location is refused (each location costs a forest in the job's state)."""
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError) as error:  # not UTF-8, not JSON, nested too deep, a 5,000-digit number
        raise InvalidReading(f"not JSON: {error}") from None
    if not isinstance(record, dict):
        raise InvalidReading(f"expected a JSON object, got {type(record).__name__}")
    event_time = _text(record, "event_time")
    parse_event_time(event_time)
    speed = _number(record, "speed")
    if not 0 <= speed <= MAX_SPEED_MPH:
        raise InvalidReading(f"field 'speed' must be >= 0 mph and <= {MAX_SPEED_MPH:g} mph (more than any wind ever "
                             f"measured), got {speed!r}")
    location = _text(record, "location")
    if locations and location not in locations:
        raise InvalidReading(f"location {location!r} is not one of this app's ({', '.join(locations)}); add it to "
                             "the runtime property lab/locations")
    return Reading(
        event_id=_text(record, "event_id"),
        event_time=event_time,
        location=location,
        turbine_id=_text(record, "turbine_id"),
        speed=speed,
        power_kw=_number(record, "power_kw") if record.get("power_kw") is not None else None,
    )


@dataclass(frozen=True)
class DetectorSettings:
    trees: int = 50
    sample_size: int = 256
    shingle_size: int = 4
    output_after: int = 64  # readings per location before the forest scores (AWS's default: sample_size / 4)
    score_threshold: float = 2.0  # labkit.config.ALERT_THRESHOLD, which labkit passes in as rcf.scoreThreshold
    stuck_run_length: int = 10  # identical readings in a row that mean a stuck sensor
    random_seed: int = 42
    locations: tuple[str, ...] = ()  # the locations the app watches (property "locations", comma-separated); () any
    power: PowerSettings = PowerSettings()

    @classmethod
    def from_properties(cls, lab: dict[str, str]) -> "DetectorSettings":
        """Settings from the `lab` property group (all values are strings there); absent keys keep defaults."""
        values = _typed(lab, {
            "rcf.trees": ("trees", int),
            "rcf.sampleSize": ("sample_size", int),
            "rcf.shingleSize": ("shingle_size", int),
            "rcf.outputAfter": ("output_after", int),
            "rcf.scoreThreshold": ("score_threshold", float),
            "stuck.runLength": ("stuck_run_length", int),
        })
        power = _typed(lab, {
            "power.window": ("window", int),
            "power.persistence": ("persistence", float),
            "power.lowRatio": ("low_ratio", float),
            "power.recover": ("recover", int),
            "power.judgeFrom": ("judge_from", float),
            "power.stopShare": ("stop_share", float),
            "power.maxGapSeconds": ("max_gap_s", float),
        })
        if "turbines.model" in lab:
            power["models"] = parse_models(lab["turbines.model"])
        if "locations" in lab:
            values["locations"] = tuple(name.strip() for name in lab["locations"].split(",") if name.strip())
        settings = cls(**values, power=PowerSettings(**power))
        if settings.stuck_run_length < 2:
            raise ValueError(f"property lab/stuck.runLength must be >= 2, got {settings.stuck_run_length}")
        if settings.power.window < 1 or settings.power.recover < 1:
            raise ValueError("properties lab/power.window and lab/power.recover must be >= 1")
        return settings


def _typed(lab: dict[str, str], names: dict[str, tuple[str, type]]) -> dict:
    """{field: value} for the property keys present in `lab`, each converted to its type."""
    values = {}
    for key, (field, kind) in names.items():
        if key in lab:
            try:
                values[field] = kind(lab[key])
            except ValueError:
                raise ValueError(f"property lab/{key} must be a {kind.__name__}, got {lab[key]!r}") from None
    return values


def attribution_labels(shingle_size: int) -> list[str]:
    """Names of the shingle's positions, oldest first: t-3, t-2, t-1, t for a shingle of 4."""
    return [f"t-{age}" if age else "t" for age in range(shingle_size - 1, -1, -1)]


class LocationDetector:
    """Random Cut Forest, the stuck-sensor rule and each turbine's power curve for the readings of one location."""

    def __init__(self, settings: DetectorSettings):
        self.settings = settings
        self.forest = krcf.RandomCutForest({
            "dimensions": 1,
            "shingle_size": settings.shingle_size,
            "internal_shingling": True,
            "num_trees": settings.trees,
            "sample_size": settings.sample_size,
            "output_after": settings.output_after,
            "random_seed": settings.random_seed,
        })
        self.last_speed: float | None = None
        self.run_length = 0
        self.turbines: dict[str, TurbineMonitor] = {}

    def assess(self, reading: Reading) -> dict:
        """Score the reading, then learn from it; the output record for AnomalyDetectionStream."""
        point = [reading.speed]
        score = self.forest.score(point)
        directions = self.forest.attribution(point)
        self.forest.update(point)

        self.run_length = self.run_length + 1 if reading.speed == self.last_speed else 1
        self.last_speed = reading.speed
        stuck = self.run_length >= self.settings.stuck_run_length

        turbine = self.turbines.get(reading.turbine_id)
        if turbine is None:
            turbine = self.turbines[reading.turbine_id] = TurbineMonitor(
                self.settings.power, self.settings.power.model_of(reading.turbine_id))
        if stuck:
            rule, fault = RULE_STUCK, "dropout" if reading.speed == 0 else "stuck"
        elif score >= self.settings.score_threshold and not turbine.confirms(reading.speed, reading.power_kw):
            rule, fault = RULE_RCF, "spike" if sum(directions["high"]) >= sum(directions["low"]) else "dropout"
        else:
            rule, fault = None, None
        power = turbine.assess(reading.speed, reading.power_kw, reading.event_time,
                               parse_event_time(reading.event_time), sensor_suspect=rule is not None)
        if rule is None and turbine.fault:
            rule, fault = RULE_POWER, turbine.fault
        labels = attribution_labels(self.settings.shingle_size)
        attribution = {
            label: high + low for label, high, low in zip(labels, directions["high"], directions["low"])
        }
        return {
            "event_id": reading.event_id,
            "event_time": reading.event_time,
            "location": reading.location,
            "turbine_id": reading.turbine_id,
            "speed": reading.speed,
            "score": score,
            "attribution": attribution,
            "stuck": stuck,
            "rule": rule,
            **power,
            "fault": fault,
        }
