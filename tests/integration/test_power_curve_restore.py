"""A turbine's learned power curve lives in Flink keyed state: the real AnomalyDetection job stopped with a savepoint
and run again from it judges an unconfigured turbine by the curve it learned before the stop.

Uses the Flink cluster, local endpoint and Kinesis helpers of test_flink_kinesis (fresh instances for this module)."""
from __future__ import annotations

import json
import random
import sys
from datetime import datetime, timedelta, timezone

import pytest

from labkit.config import FLINK_DIR

from .test_flink_kinesis import ANOMALY_APP, cluster, endpoint, kinesis, properties_file, put, read_stream  # noqa: F401

sys.path[:0] = [str(FLINK_DIR / "anomaly_detection")]

import detector  # noqa: E402
import power_curve  # noqa: E402

pytestmark = pytest.mark.flink

LOCATION, TURBINE = "Harbor Point", "WT-77"  # a turbine of no configured model: its curve is learned
HEALTHY, FAULTY = 600, 200
START = datetime(2026, 11, 28, 8, 0, tzinfo=timezone.utc)
E82 = power_curve.ManufacturerCurve("E-82/2350")


def readings(first: int, count: int, share: float) -> list[dict]:
    """Readings 1 s apart of turbulent wind around 28 mph, delivering `share` of the E-82's power."""
    records = []
    for i in range(first, first + count):
        rng = random.Random(i)
        speed = round(max(0.0, 28 + rng.gauss(0, 4)), 1)
        records.append({"event_id": f"restore-{i}", "location": LOCATION, "turbine_id": TURBINE, "speed": speed,
                        "event_time": (START + timedelta(seconds=i)).isoformat(timespec="milliseconds")
                        .replace("+00:00", "Z"),
                        "power_kw": round(E82.expected_kw(speed) * share * (1 + 0.01 * rng.gauss(0, 1)), 1)})
    return records


def replay(records: list[dict]) -> list[dict]:
    location = detector.LocationDetector(detector.DetectorSettings())
    return [json.loads(json.dumps(location.assess(detector.parse_reading(json.dumps(r))))) for r in records]


def test_an_unconfigured_turbine_is_judged_by_the_curve_it_learned_before_a_stop_and_restore(
        cluster, kinesis, endpoint, tmp_path):
    healthy, faulty = readings(0, HEALTHY, 1.0), readings(HEALTHY, FAULTY, 0.5)
    properties = properties_file(tmp_path, ANOMALY_APP, endpoint, {})
    job_id = cluster.submit(ANOMALY_APP, properties, quiet=True)
    put(kinesis, healthy)
    before = [json.loads(d) for d in read_stream(kinesis, "AnomalyDetectionStream", HEALTHY)]
    savepoint = cluster.stop_with_savepoint(job_id, quiet=True)

    put(kinesis, faulty)  # arrives while the job is stopped
    job_id = cluster.submit(ANOMALY_APP, properties, savepoint_path=savepoint, quiet=True)
    try:
        outputs = [json.loads(d) for d in read_stream(kinesis, "AnomalyDetectionStream", HEALTHY + FAULTY,
                                                       timeout_s=180)]
    finally:
        cluster.cancel(job_id, quiet=True)

    assert not any(o["fault"] for o in before) and before[-1]["power_curve"] == "learned"
    after = {o["event_id"]: o for o in outputs}
    judged = [after[r["event_id"]] for r in faulty]
    assert judged == replay(healthy + faulty)[HEALTHY:], "the job forgot what it learned before the stop"
    raised = [n for n, o in enumerate(judged) if o["fault"] == "underperformance"]
    assert raised and raised[0] < power_curve.PowerSettings().window, "under-performance raised from the restored curve"
    assert judged[-1]["power_kw"] == pytest.approx(0.5 * judged[-1]["expected_kw"], rel=0.1)
    # Without the restored curve the same readings are learned as normal: nothing would be raised.
    assert not any(o["fault"] for o in replay(faulty))
