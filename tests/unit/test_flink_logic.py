"""The Flink apps' rules without a cluster: parsing, Random Cut Forest scores, the stuck-sensor rule, and
tumbling-window maxima with their trigger and late readings."""
from __future__ import annotations

import json
import math
import pickle
import random
import statistics
import sys
from pathlib import Path

import pytest

FLINK_DIR = Path(__file__).resolve().parents[2] / "flink"
sys.path[:0] = [str(FLINK_DIR / "anomaly_detection"), str(FLINK_DIR / "max_wind_speed")]

import detector  # noqa: E402
import window_max  # noqa: E402
import windowing  # noqa: E402
from pyflink.datastream.window import TimeWindow, TriggerResult  # noqa: E402


def reading_json(**overrides) -> str:
    record = {"event_id": "e-1", "event_time": "2026-11-27T10:00:00.000Z", "location": "North Ridge",
              "turbine_id": "WT-01", "speed": 31.5, "power_kw": 812.0}
    record.update(overrides)
    return json.dumps({key: value for key, value in record.items() if value is not ...})


def wind(n: int, seed: int, level: float = 30.0) -> list[float]:
    """A wind-like series: a mean-reverting random walk in mph, rounded to 0.1 like the sensors."""
    rng = random.Random(seed)
    speed, series = level, []
    for _ in range(n):
        speed = max(0.0, speed + 0.3 * (level - speed) + rng.gauss(0, 1.5))
        series.append(round(speed, 1))
    return series


def run(det: detector.LocationDetector, speeds: list[float], first_id: int = 0) -> list[dict]:
    return [det.assess(detector.Reading(f"e-{first_id + i}", "2026-11-27T10:00:00.000Z", "North Ridge", "WT-01",
                                        speed, None))
            for i, speed in enumerate(speeds)]


# -- parsing ---------------------------------------------------------------------------------------------

def test_a_wind_reading_parses_into_its_fields():
    reading = detector.parse_reading(reading_json())
    assert reading == detector.Reading("e-1", "2026-11-27T10:00:00.000Z", "North Ridge", "WT-01", 31.5, 812.0)


def test_power_is_optional_and_integers_are_speeds():
    reading = detector.parse_reading(reading_json(power_kw=..., speed=40))
    assert reading.power_kw is None and reading.speed == 40.0


@pytest.mark.parametrize("raw, says", [
    ("not json", "not JSON"),
    ("[1, 2]", "expected a JSON object"),
    (reading_json(location=...), "'location'"),
    (reading_json(event_id=""), "'event_id'"),
    (reading_json(speed="31.5"), "'speed' must be a finite number"),
    (reading_json(speed=True), "'speed' must be a finite number"),
    ('{"event_id": "e", "event_time": "2026-11-27T10:00:00Z", "location": "A", "turbine_id": "T", '
     '"speed": NaN}', "'speed' must be a finite number"),
    (reading_json(speed=-3.0), ">= 0 mph"),
    (reading_json(event_time="27/11/2026 10:00"), "is not ISO-8601"),
    (reading_json(event_time="2026-11-27T10:00:00"), "has no time zone"),
])
def test_records_that_are_not_readings_are_rejected_with_the_reason(raw, says):
    with pytest.raises(detector.InvalidReading, match=says):
        detector.parse_reading(raw)


def test_detector_settings_come_from_the_lab_property_group():
    settings = detector.DetectorSettings.from_properties(
        {"inputStreamName": "WindDataStream", "rcf.trees": "30", "rcf.sampleSize": "128", "rcf.shingleSize": "8",
         "rcf.outputAfter": "16", "rcf.scoreThreshold": "2.5", "stuck.runLength": "6"})
    assert (settings.trees, settings.sample_size, settings.shingle_size, settings.output_after,
            settings.score_threshold, settings.stuck_run_length) == (30, 128, 8, 16, 2.5, 6)


def test_a_bad_property_value_names_the_property():
    with pytest.raises(ValueError, match="lab/rcf.trees must be a int"):
        detector.DetectorSettings.from_properties({"rcf.trees": "fifty"})
    with pytest.raises(ValueError, match="lab/stuck.runLength must be >= 2"):
        detector.DetectorSettings.from_properties({"stuck.runLength": "1"})


# -- Random Cut Forest ----------------------------------------------------------------------------------

def test_spikes_score_at_least_2_after_warm_up_and_normal_wind_stays_below():
    speeds = wind(700, seed=3)
    spikes = {300: 95.0, 450: 104.2, 600: 88.7}
    for index, speed in spikes.items():
        speeds[index] = speed
    results = run(detector.LocationDetector(detector.DetectorSettings()), speeds)

    assert all(results[i]["score"] >= 2 and results[i]["rule"] == "rcf" for i in spikes)
    normal = [r["score"] for i, r in enumerate(results[200:], start=200)
              if not any(0 <= i - spike < 4 for spike in spikes)]  # a spike lifts the next 3 shingles too
    assert statistics.median(normal) < 1.2
    assert sum(score >= 2 for score in normal) <= len(normal) * 0.01


def test_the_forest_scores_nothing_during_warm_up():
    settings = detector.DetectorSettings(output_after=64)
    results = run(detector.LocationDetector(settings), wind(100, seed=4))
    assert all(r["score"] == 0 and r["rule"] is None for r in results[:60])
    assert all(r["score"] > 0 for r in results[70:])


def test_attribution_names_each_shingle_position_and_adds_up_to_the_score():
    speeds = wind(300, seed=5)
    speeds[250] = 99.0
    spike = run(detector.LocationDetector(detector.DetectorSettings()), speeds)[250]
    assert list(spike["attribution"]) == ["t-3", "t-2", "t-1", "t"]
    assert math.isclose(sum(spike["attribution"].values()), spike["score"], rel_tol=1e-6)
    assert max(spike["attribution"], key=spike["attribution"].get) == "t"  # the newest reading is the odd one


def test_a_restored_detector_scores_exactly_like_the_one_that_was_saved():
    speeds = wind(400, seed=6)
    live = detector.LocationDetector(detector.DetectorSettings())
    run(live, speeds[:200])
    restored = pickle.loads(pickle.dumps(live))
    assert run(restored, speeds[200:]) == run(live, speeds[200:])


# -- stuck sensor ---------------------------------------------------------------------------------------

def test_the_same_reading_n_times_is_a_stuck_sensor():
    settings = detector.DetectorSettings(stuck_run_length=10)
    speeds = wind(150, seed=7) + [33.3] * 15 + wind(20, seed=8)
    results = run(detector.LocationDetector(settings), speeds)

    stuck = [r["stuck"] for r in results[150:165]]
    assert stuck == [False] * 9 + [True] * 6
    assert all(r["rule"] == "stuck" for r in results[159:165])
    assert not any(r["stuck"] for r in results[165:])


def test_normal_wind_never_looks_stuck():
    results = run(detector.LocationDetector(detector.DetectorSettings()), wind(2000, seed=9))
    assert not any(r["stuck"] for r in results)


def test_every_output_keeps_the_reading_and_says_which_rule_fired():
    record = run(detector.LocationDetector(detector.DetectorSettings()), [30.0])[0]
    assert set(record) == {"event_id", "event_time", "location", "turbine_id", "speed", "score", "attribution",
                           "stuck", "rule", "power_kw", "expected_kw", "power_curve", "fault_since", "energy_lost_kwh",
                           "fault"}
    assert (record["location"], record["speed"], record["rule"], record["stuck"]) == ("North Ridge", 30.0, None,
                                                                                    False)


# -- windows --------------------------------------------------------------------------------------------

MINUTE = 60_000


def test_readings_parse_for_windowing_with_event_time_in_milliseconds():
    reading = windowing.parse_reading(reading_json(event_time="2026-11-27T10:00:01.250Z"))
    assert reading == windowing.WindReading("North Ridge", 31.5, 1_795_773_601_250)
    with pytest.raises(windowing.InvalidReading, match="no time zone"):
        windowing.parse_reading(reading_json(event_time="2026-11-27T10:00:01"))
    with pytest.raises(windowing.InvalidReading, match="'speed'"):
        windowing.parse_reading(reading_json(speed=None))


def test_the_window_rule_keeps_the_highest_speed_whatever_the_order():
    assert window_max.add_reading(None, 31.5) == 31.5  # an empty window's first reading
    assert window_max.add_reading(31.5, 44.4) == 44.4 and window_max.add_reading(44.4, 38.2) == 44.4
    assert window_max.add_reading(44.4, 44.4) == 44.4 and window_max.add_reading(None, 0.0) == 0.0
    for order in ((38.2, 12.5, 44.4, 31.0), (31.0, 44.4, 12.5, 38.2)):
        maximum = None
        for speed in order:
            maximum = window_max.add_reading(maximum, speed)
        assert maximum == 44.4


def test_a_window_reports_the_maximum_speed_and_the_count_of_its_readings():
    start = windowing.window_start(1_795_773_630_000, MINUTE)
    first, second = windowing.new_window(), windowing.new_window()
    for speed in (31.0, 44.4, 38.2):
        first = windowing.count_reading(first, speed)
    second = windowing.count_reading(second, 41.0)
    assert windowing.merge_windows(first, windowing.new_window()) == first
    assert windowing.merge_windows(windowing.new_window(), second) == second
    report = windowing.window_report("Lakeshore", windowing.merge_windows(first, second), start, start + MINUTE)
    assert report == {"location": "Lakeshore", "max_wind_speed": 44.4, "window_start": "2026-11-27T10:00:00.000Z",
                      "window_end": "2026-11-27T10:01:00.000Z", "count": 4}


def test_a_late_reading_is_reported_with_the_window_it_missed():
    late = windowing.WindReading("Quarry Hill", 52.0, 1_795_773_659_999)
    report = windowing.late_report(late, MINUTE)
    assert report["reason"] == ("late: its window [2026-11-27T10:00:00.000Z, 2026-11-27T10:01:00.000Z) "
                                "had already closed")
    assert (report["location"], report["speed"], report["event_time"]) == ("Quarry Hill", 52.0,
                                                                           "2026-11-27T10:00:59.999Z")


class FakeState:
    def __init__(self):
        self._value = None

    def value(self):
        return self._value

    def update(self, value):
        self._value = value

    def clear(self):
        self._value = None


class FakeTriggerContext:
    """What Flink's window operator offers a trigger: clocks, timers and per-window state."""

    def __init__(self):
        self.now, self.watermark = 1_000_000, -1
        self.event_timers, self.processing_timers = set(), set()
        self.states = {}

    def get_current_processing_time(self):
        return self.now

    def get_current_watermark(self):
        return self.watermark

    def register_event_time_timer(self, time):
        self.event_timers.add(time)

    def delete_event_time_timer(self, time):
        self.event_timers.discard(time)

    def register_processing_time_timer(self, time):
        self.processing_timers.add(time)

    def delete_processing_time_timer(self, time):
        self.processing_timers.discard(time)

    def get_partitioned_state(self, descriptor):
        return self.states.setdefault(descriptor.name, FakeState())


def test_a_window_is_reported_once_when_the_watermark_passes_its_end():
    trigger, ctx, window = windowing.WatermarkOrIdleTrigger(idle_ms=10_000), FakeTriggerContext(), TimeWindow(0, MINUTE)
    for _ in range(3):
        assert trigger.on_element(None, 5, window, ctx) == TriggerResult.CONTINUE
    assert ctx.event_timers == {MINUTE - 1} and len(ctx.processing_timers) == 1

    assert trigger.on_event_time(MINUTE - 1, window, ctx) == TriggerResult.FIRE
    assert ctx.processing_timers == set()  # the idle fallback is no longer needed
    trigger.clear(window, ctx)
    assert ctx.event_timers == set()


def test_a_window_whose_readings_stop_is_reported_after_the_idle_timeout():
    trigger, ctx, window = windowing.WatermarkOrIdleTrigger(idle_ms=10_000), FakeTriggerContext(), TimeWindow(0, MINUTE)
    trigger.on_element(None, 5, window, ctx)
    ctx.now += 4_000
    trigger.on_element(None, 6, window, ctx)
    assert ctx.processing_timers == {ctx.now + 10_000}  # each reading pushes the deadline back

    assert trigger.on_processing_time(ctx.now + 10_000, window, ctx) == TriggerResult.FIRE
    # the watermark reaches the end later: nothing new arrived, so no second report
    assert trigger.on_event_time(MINUTE - 1, window, ctx) == TriggerResult.CONTINUE


def test_a_reading_after_an_idle_report_reports_the_window_again_complete():
    trigger, ctx, window = windowing.WatermarkOrIdleTrigger(idle_ms=10_000), FakeTriggerContext(), TimeWindow(0, MINUTE)
    trigger.on_element(None, 5, window, ctx)
    assert trigger.on_processing_time(ctx.now + 10_000, window, ctx) == TriggerResult.FIRE
    trigger.on_element(None, 7, window, ctx)
    assert trigger.on_event_time(MINUTE - 1, window, ctx) == TriggerResult.FIRE  # FIRE keeps earlier readings


def test_timers_of_other_windows_do_not_fire_this_one():
    trigger, ctx, window = windowing.WatermarkOrIdleTrigger(idle_ms=10_000), FakeTriggerContext(), TimeWindow(0, MINUTE)
    trigger.on_element(None, 5, window, ctx)
    assert trigger.on_event_time(2 * MINUTE - 1, window, ctx) == TriggerResult.CONTINUE
