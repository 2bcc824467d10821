"""The power-curve rules of AnomalyDetection without a cluster: expected power from the manufacturer's or a learned
curve, under-performance and stops judged over time, the energy lost, and the anemometer cross-check."""
from __future__ import annotations

import json
import pickle
import random
import sys
from datetime import datetime, timedelta, timezone

import pytest

from labkit.config import FLINK_DIR
from labkit.turbine import power_curve_kw

sys.path[:0] = [str(FLINK_DIR / "anomaly_detection")]

import detector  # noqa: E402
import power_curve  # noqa: E402

MODEL = "E-82/2350"
START = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)
SETTINGS = power_curve.PowerSettings()


def curve_kw(speed_mph: float) -> float:
    return power_curve.ManufacturerCurve(MODEL).expected_kw(speed_mph)


def winds(n: int, seed: int = 3, level: float = 25.0) -> list[float]:
    """Turbulent wind in mph around `level`, rounded like the sensors."""
    rng = random.Random(seed)
    return [round(max(0.0, level + rng.gauss(0, 4)), 1) for _ in range(n)]


def judge(monitor: power_curve.TurbineMonitor, speeds: list[float], factor=1.0, first: int = 0,
          suspect: bool = False) -> list[dict]:
    """Feed readings 1 s apart whose power is `factor` (a number or a function of the index) times the curve."""
    rng, results = random.Random(first), []
    for i, speed in enumerate(speeds, first):
        share = factor(i) if callable(factor) else factor
        power = round(curve_kw(speed) * share * (1 + 0.01 * rng.gauss(0, 1)), 1)
        moment = START + timedelta(seconds=i)
        results.append({**monitor.assess(speed, power, moment.isoformat(), moment, suspect), "fault": monitor.fault})
    return results


def test_the_shipped_curve_is_windpowerlibs_curve_the_data_sets_are_generated_with():
    speeds, power = power_curve_kw()
    assert power_curve.MANUFACTURER_CURVES[MODEL] == tuple(zip(speeds.tolist(), power.tolist()))


@pytest.mark.parametrize("mph, kw", [(1.0, 0.0), (40.0, 2350.0), (55.5, 2350.0), (56.5, 0.0), (90.0, 0.0)])
def test_no_power_below_cut_in_or_above_cut_out_and_rated_power_in_between(mph, kw):
    assert curve_kw(mph) == kw


def test_between_two_points_of_the_curve_power_is_interpolated():
    mps = 20.0 * 0.44704  # 8.94 m/s: between 815 kW at 8 m/s and 1,180 kW at 9 m/s
    assert curve_kw(20.0) == pytest.approx(815.0 + 365.0 * (mps - 8.0))


def test_a_turbine_on_its_curve_raises_nothing():
    results = judge(power_curve.TurbineMonitor(SETTINGS, MODEL), winds(3000))
    assert not any(r["fault"] for r in results)


def test_a_short_dip_below_the_curve_is_not_a_fault():
    monitor = power_curve.TurbineMonitor(SETTINGS, MODEL)
    results = judge(monitor, winds(200), factor=lambda i: 0.5 if 100 <= i < 115 else 1.0)
    assert not any(r["fault"] for r in results)


def test_lasting_under_performance_is_raised_within_the_window_with_expected_power_and_energy_lost():
    monitor = power_curve.TurbineMonitor(SETTINGS, MODEL)
    speeds = winds(600, level=30.0)
    results = judge(monitor, speeds, factor=lambda i: 0.55 if 200 <= i < 500 else 1.0)
    flagged = [i for i, r in enumerate(results) if r["fault"]]
    assert {results[i]["fault"] for i in flagged} == {"underperformance"}
    assert 200 + SETTINGS.persistence * SETTINGS.window - 1 <= flagged[0] <= 200 + SETTINGS.window
    assert 499 <= flagged[-1] < 500 + SETTINGS.recover + 1, "the fault ends once the turbine is back on its curve"
    assert flagged == list(range(flagged[0], flagged[-1] + 1)), "one fault, not a flickering one"
    raised = results[flagged[0]]
    assert raised["fault_since"] == (START + timedelta(seconds=200)).isoformat()
    assert raised["power_kw"] == pytest.approx(0.55 * raised["expected_kw"], rel=0.05)
    last = results[499]
    shortfall_kwh = sum(curve_kw(s) * 0.45 / 3600 for s in speeds[200:500] if curve_kw(s) >= 0.05 * 2350)
    assert last["energy_lost_kwh"] == pytest.approx(shortfall_kwh, rel=0.05)
    assert results[-1]["energy_lost_kwh"] is None


def test_a_turbine_standing_still_at_good_wind_is_a_stop_but_not_below_cut_in_or_above_cut_out():
    good = judge(power_curve.TurbineMonitor(SETTINGS, MODEL), winds(100, level=30.0), factor=0.0)
    assert good[-1]["fault"] == "stop"
    calm = judge(power_curve.TurbineMonitor(SETTINGS, MODEL), [3.0] * 100, factor=0.0)
    storm = judge(power_curve.TurbineMonitor(SETTINGS, MODEL), [60.0 + i % 5 for i in range(100)], factor=0.0)
    assert not any(r["fault"] for r in calm + storm)


def test_readings_of_a_suspect_anemometer_are_neither_judged_nor_learned():
    monitor = power_curve.TurbineMonitor(SETTINGS, None)
    judge(monitor, winds(100), factor=0.0, suspect=True)
    assert monitor.curve.bins == {} and monitor.fault is None


def test_an_unconfigured_turbine_learns_its_curve_from_healthy_readings_and_is_judged_by_it():
    monitor = power_curve.TurbineMonitor(SETTINGS, None)
    speeds = winds(2400, level=28.0, seed=8)
    results = judge(monitor, speeds, factor=lambda i: 0.5 if 1500 <= i < 1800 else 1.0)
    assert results[-1]["power_curve"] == "learned"
    assert monitor.curve.expected_kw(28.0) == pytest.approx(curve_kw(28.0), rel=0.05)
    flagged = [i for i, r in enumerate(results) if r["fault"]]
    assert flagged and 1500 < flagged[0] <= 1500 + SETTINGS.window and flagged[-1] < 1800 + SETTINGS.recover + 1
    assert {results[i]["fault"] for i in flagged} == {"underperformance"}
    assert monitor.curve.expected_kw(28.0) == pytest.approx(curve_kw(28.0), rel=0.05), "it did not learn the fault"


def test_a_learned_curve_judges_nothing_where_it_has_not_seen_the_wind():
    monitor = power_curve.TurbineMonitor(SETTINGS, None)
    judge(monitor, winds(500, level=20.0))
    assert monitor.curve.expected_kw(20.0) is not None
    assert monitor.curve.expected_kw(50.0) is None


def test_power_that_matches_the_reported_wind_confirms_it_and_power_from_other_wind_does_not():
    monitor = power_curve.TurbineMonitor(SETTINGS, MODEL)
    assert monitor.confirms(20.0, curve_kw(20.0) * 1.05)
    assert not monitor.confirms(90.0, 2350.0)  # a spike: the turbine runs at rated power, not at cut-out
    assert not monitor.confirms(0.0, curve_kw(12.0))  # a drop-out while 12 mph blow
    assert not monitor.confirms(20.0, None)


def test_turbine_models_come_from_a_property_and_an_unknown_model_is_refused_with_a_sentence():
    settings = detector.DetectorSettings.from_properties(
        {"turbines.model": "WT-01=E-82/2350, WT-02 = E-82/2350", "power.window": "60", "power.lowRatio": "0.7"})
    assert settings.power.model_of("WT-02") == MODEL and settings.power.model_of("WT-09") is None
    assert (settings.power.window, settings.power.low_ratio) == (60, 0.7)
    with pytest.raises(ValueError, match=r"turbines.model: 'WT-01=V90' must be turbine_id=model"):
        detector.DetectorSettings.from_properties({"turbines.model": "WT-01=V90"})


def reading(i: int, speed: float, power: float | None, turbine: str = "WT-07") -> str:
    moment = START + timedelta(seconds=i)
    return json.dumps({"event_id": f"e-{i}", "event_time": moment.isoformat().replace("+00:00", "Z"),
                       "location": "New Site", "turbine_id": turbine, "speed": speed, "power_kw": power})


def test_the_detector_names_the_fault_kind_and_a_gust_the_turbine_felt_is_not_a_fault():
    location = detector.LocationDetector(detector.DetectorSettings.from_properties({"turbines.model": "WT-07=E-82/2350"}))
    speeds = winds(400, level=25.0, seed=2)
    speeds[300], speeds[350] = 95.0, 60.0  # a spike of the anemometer; a real gust to 60 mph (turbine cut out)
    outputs = [location.assess(detector.parse_reading(reading(i, s, 0.0 if i == 350 else curve_kw(25.0 if i == 300
                                                                                                     else s))))
               for i, s in enumerate(speeds)]
    assert (outputs[300]["rule"], outputs[300]["fault"]) == ("rcf", "spike")
    assert outputs[350]["score"] >= 2 and outputs[350]["rule"] is None, "the turbine's power confirms the gust"
    assert outputs[300]["expected_kw"] == 0.0 and outputs[300]["power_kw"] == pytest.approx(curve_kw(25.0))


def test_a_restored_detector_keeps_its_learned_curve_and_its_open_fault():
    location = detector.LocationDetector(detector.DetectorSettings())
    speeds = winds(1300, level=27.0, seed=5)
    for i, speed in enumerate(speeds[:1200]):
        location.assess(detector.parse_reading(reading(i, speed, curve_kw(speed) * (0.5 if i >= 1150 else 1.0))))
    restored = pickle.loads(pickle.dumps(location))
    tail = [reading(i, s, curve_kw(s) * 0.5) for i, s in enumerate(speeds[1200:], 1200)]
    original = [location.assess(detector.parse_reading(r)) for r in tail]
    again = [restored.assess(detector.parse_reading(r)) for r in tail]
    assert again == original
    assert again[0]["fault"] == "underperformance" and again[0]["power_curve"] == "learned"
