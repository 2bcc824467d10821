"""Turbine defects through the REAL AnomalyDetection job: the turbine health data set run by Flink on a private
local stack (the app's zip, as notebooks deploy it), scored per fault kind against data/labels.json — once with
the turbines' model configured (manufacturer's curve) and once with none of them configured (every curve
learned online).

Recall and precision per kind and the normal readings flagged after warm-up come from the benchmark's scoreboard
(bench/detection_scoreboard.py, over labkit.alert_scoring's definitions). On top of it: every alert names the kind
of the fault it covers; earliness (readings from a fault's start to its first flagged reading); and the job's
outputs equal the plain-Python detector's."""
from __future__ import annotations

import json
import sys
import zipfile
from collections import defaultdict

import pytest

from bench.anomaly_job_throughput import run_job
from bench.detection_scoreboard import score
from labkit.alert_scoring import flagged, score_alerts
from labkit.config import FLINK_DIR, NAMES
from labkit.datasets import load_labels, load_records
from labkit.resources.apps import default_properties, package

sys.path[:0] = [str(FLINK_DIR / "anomaly_detection")]

import detector  # noqa: E402

pytestmark = pytest.mark.flink

APP = NAMES.anomaly_app
GOAL = 0.9  # recall and precision of every fault kind
GOAL_FALSE_ALERTS = 0.005  # flagged normal readings after warm-up
JOB_TIMEOUT_S = 1800


def replay(records: list[dict], lab: dict[str, str]) -> list[dict]:
    """The plain-Python detector over `records` with the app's properties and `lab`, one LocationDetector per
    location as the job keys them; outputs as they cross Kinesis (JSON)."""
    settings = detector.DetectorSettings.from_properties({**default_properties(APP)["lab"], **lab})
    detectors: dict[str, detector.LocationDetector] = {}
    return [json.loads(json.dumps(detectors.setdefault(r["location"], detector.LocationDetector(settings))
                                  .assess(detector.parse_reading(json.dumps(r))))) for r in records]


def per_turbine(records: list[dict]) -> dict[str, list[str]]:
    order: dict[str, list[str]] = defaultdict(list)
    for record in records:
        order[record["turbine_id"]].append(record["event_id"])
    return order


def judge(records: list[dict], outputs: list[dict], labels: list[dict]) -> dict:
    """The scoreboard (flagged normal readings included) plus kind correctness and earliness."""
    board = score(records, outputs, labels)
    by_id = {o["event_id"]: o for o in outputs}
    order = per_turbine(records)
    wrong_kind = []
    for alert in score_alerts(records, outputs, labels).alerts:
        first, kinds = by_id[alert.event_ids[0]], [labels[number]["kind"] for number in alert.faults]
        if kinds and first["fault"] != kinds[0]:
            wrong_kind.append((first["event_id"], first["fault"], kinds[0]))
    earliness = defaultdict(list)  # per kind: readings from each fault's start to its first flagged reading
    for label in labels:
        ids = order[label["turbine_id"]]
        start = ids.index(label["event_ids"][0])
        earliness[label["kind"]].append(next((n for n, i in enumerate(ids[start:start + len(label["event_ids"])])
                                              if flagged(by_id[i])), None))
    return {**board, "wrong_kind": wrong_kind,
            "earliness_readings": dict(earliness)}


@pytest.fixture(scope="module")
def health():
    records, labels = load_records("health"), load_labels("health")
    with zipfile.ZipFile(package(APP)) as archive:
        for name in ("detector.py", "power_curve.py", "main.py"):
            assert archive.read(name) == (FLINK_DIR / "anomaly_detection" / name).read_bytes(), (
                f"{package(APP)} holds an old {name}: rebuild it with `mvn -q -f flink/pom.xml package`")
    return records, labels


@pytest.fixture(scope="module", params=["manufacturer curve", "learned curves"])
def run(request, health):
    """The job's outputs on the health data set: with the app's own properties (every turbine's model configured), or
    with only a turbine that is not in the data set configured (AWS refuses an empty property value)."""
    records, labels = health
    lab = {} if request.param == "manufacturer curve" else {"turbines.model": "WT-99=E-82/2350"}
    job = run_job(records, timeout_s=JOB_TIMEOUT_S, **lab)  # a stack without AWS's per-shard limits: bulk preload
    outputs = job["outputs"]
    report = judge(records, outputs, labels)
    print(f"\n{request.param}: {json.dumps(report)}; sustained {job['sustained_rec_s']:,.0f} rec/s")
    return {"records": records, "labels": labels, "outputs": outputs, "report": report, "lab": lab,
            "curve": request.param}


def test_the_job_scores_every_reading_once(run):
    ids = [o["event_id"] for o in run["outputs"]]
    assert len(ids) == len(set(ids)) == len(run["records"])


def test_every_fault_kind_is_caught_with_recall_and_precision_of_at_least_0_9(run):
    kinds = run["report"]["kinds"]
    assert set(kinds) == {"spike", "stuck", "dropout", "underperformance"}
    for kind, figures in kinds.items():
        assert figures["recall"] >= GOAL and figures["precision"] >= GOAL, (kind, figures)


def test_false_alerts_stay_under_half_a_percent_of_normal_readings_after_warm_up(run):
    assert run["report"]["flagged_normal_rate"] < GOAL_FALSE_ALERTS, run["report"]


def test_each_alert_names_the_kind_of_its_fault_and_under_performance_reports_power_lost(run):
    assert run["report"]["wrong_kind"] == []
    expected_curve = "E-82/2350" if run["curve"] == "manufacturer curve" else "learned"
    by_id = {o["event_id"]: o for o in run["outputs"]}
    for label in run["labels"]:
        if label["kind"] != "underperformance":
            continue
        flagged = [by_id[i] for i in label["event_ids"] if by_id[i]["rule"] == "power"]
        last = flagged[-1]
        assert last["power_curve"] == expected_curve
        assert last["power_kw"] < 0.7 * last["expected_kw"]
        assert last["fault_since"] >= label["start"] and last["energy_lost_kwh"] > 0


def test_the_job_gives_exactly_the_outputs_of_the_plain_python_detector(run):
    expected = {o["event_id"]: o for o in replay(run["records"], run["lab"])}
    differ = [o["event_id"] for o in run["outputs"] if o != expected[o["event_id"]]]  # the job's order is per key
    assert differ == []
