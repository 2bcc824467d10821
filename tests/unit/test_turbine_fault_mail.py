"""Turbine faults from the job's records to the e-mail: WindDataTable items keep the fault kind and expected vs
actual power, and a power-curve fault is mailed once as a maintenance ticket."""
from __future__ import annotations

import sys
from decimal import Decimal

from labkit.config import LAMBDAS_DIR

sys.path.insert(0, str(LAMBDAS_DIR))
import analytics_destination  # noqa: E402
import anomaly_message_delivery as delivery  # noqa: E402

SINCE = "2024-06-04T06:09:36.200Z"


def record(second: int, **fields) -> dict:
    """A record as AnomalyDetection writes it: a turbine under-performing unless `fields` say otherwise."""
    return {"event_id": f"health-{second}", "event_time": f"2024-06-04T06:10:{second:02d}.200Z",
            "location": "Lakeshore", "turbine_id": "WT-02", "speed": 28.1, "score": 0.7,
            "attribution": {"t-3": 0.1, "t-2": 0.1, "t-1": 0.2, "t": 0.3}, "stuck": False, "rule": "power",
            "power_kw": 1050.0, "expected_kw": 2050.0, "power_curve": "E-82/2350", "fault": "underperformance",
            "fault_since": SINCE, "energy_lost_kwh": 10.0 + second, **fields}


def item(second: int, **fields) -> dict:
    return analytics_destination.handle_record(record(second, **fields), "x", 0.0)


def test_an_item_keeps_the_fault_kind_and_expected_vs_actual_power_as_numbers():
    stored = item(5)
    assert (stored["rule"], stored["fault"], stored["fault_since"], stored["power_curve"]) == (
        "power", "underperformance", SINCE, "E-82/2350")
    assert (stored["power_kw"], stored["expected_kw"], stored["energy_lost_kwh"]) == (
        Decimal("1050.0"), Decimal("2050.0"), Decimal("15.0"))


def test_a_reading_without_a_fault_stores_no_fault_fields():
    stored = item(5, rule=None, fault=None, fault_since=None, energy_lost_kwh=None)
    assert not {"rule", "fault", "fault_since", "energy_lost_kwh"} & set(stored)


def test_an_under_performing_turbine_is_one_event_whatever_its_low_scores():
    events = delivery.anomaly_events([item(s) for s in range(10)] + [item(10, rule=None, fault=None)], threshold=2)
    assert [len(event) for event in events] == [10]


def test_the_mail_for_a_power_fault_reads_like_a_maintenance_ticket():
    body = delivery.message([item(s) for s in range(10)], threshold=2)
    first = body.splitlines()[0]
    assert "WT-02" in first and "Lakeshore" in first and "under-performance" in first
    assert f"Since (UTC):   {SINCE}" in body
    assert "1,050.0 kW delivered, 2,050.0 kW expected (E-82/2350 curve)" in body
    assert "Energy lost:   19.0 kWh so far" in body, "the latest reading's energy lost"
    assert "Maintenance:" in body


def test_a_stop_is_named_a_stop():
    body = delivery.message([item(s, fault="stop", power_kw=0.0) for s in range(3)], threshold=2)
    assert "stop at good wind" in body and "0.0 kW delivered" in body


def test_the_mail_for_a_spike_names_the_kind_the_reading_behind_the_score_and_the_power_that_contradicts_it():
    spike = item(1, rule="rcf", fault="spike", speed=84.8, score=4.6, expected_kw=0.0, power_kw=2350.0,
                 fault_since=None, energy_lost_kwh=None, attribution={"t-3": 0.01, "t-2": 0.01, "t-1": 0.1, "t": 4.4})
    body = delivery.message([spike], threshold=2)
    assert body.startswith("Abnormal wind turbine speed detected at Lakeshore (turbine WT-02).")
    assert "Kind:          spike" in body
    assert "Why:           the forest's score came from this reading (97% of the score)" in body
    assert "2,350.0 kW delivered; the power curve gives 0.0 kW at the reported speed" in body


def test_an_attribution_that_is_not_the_detectors_is_left_out_of_the_mail():
    for attribution in ({"x": 3.0}, {"t": "high"}, "t", {}):
        spike = {**item(1, rule="rcf", fault="spike", score=4.6), "attribution": attribution}
        assert "Why:" not in delivery.message([spike], threshold=2)
