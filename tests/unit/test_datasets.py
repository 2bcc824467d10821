"""The shipped wind data sets (data/) keep their promises: reproducible, well-formed, and every injected
fault labelled, so the course can score detection per fault kind."""
from __future__ import annotations

import functools
import itertools
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from labkit import datasets
from labkit.errors import BadParameter

REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATOR = REPO_ROOT / "data" / "generate.py"
KEYS = ["event_id", "event_time", "location", "turbine_id", "speed", "power_kw"]
EVENT_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
TURBINE_TYPE = "E-82/2350"  # the windpowerlib power curve data/README.md names
MPS_PER_MPH = 0.44704
WARM_UP = 150  # readings of a turbine an RCF with shingle 4, sample 256 sees before the first fault
RCF_THRESHOLD = 2.0  # the lab's anomaly-score threshold


def run_generator(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(GENERATOR), *args], capture_output=True, text=True, timeout=300)


def parse_time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def by_location(records: list[dict]) -> dict[str, list[dict]]:
    readings = defaultdict(list)
    for record in records:
        readings[record["location"]].append(record)
    return readings


@functools.cache
def power_curve_w() -> tuple[np.ndarray, np.ndarray]:
    """The turbine type's real power curve, (m/s, W), from the data windpowerlib ships."""
    from windpowerlib import WindTurbine

    curve = WindTurbine(hub_height=98, turbine_type=TURBINE_TYPE).power_curve
    return curve["wind_speed"].to_numpy(float), curve["value"].to_numpy(float)


def curve_power_kw(speed_mph) -> np.ndarray:
    """What the power curve gives at `speed_mph`, in kW."""
    from windpowerlib.power_output import power_curve

    return power_curve(np.asarray(speed_mph, float) * MPS_PER_MPH, *power_curve_w()) / 1000.0


def rcf_scores(records: list[dict], random_seed: int = 7) -> dict[str, float]:
    """Anomaly score of every reading from one Random Cut Forest per location, scored before it learns
    the reading, as the lab's AnomalyDetection app does (50 trees, sample 256, shingle 4)."""
    import krcf

    scores = {}
    for readings in by_location(records).values():
        forest = krcf.RandomCutForest({"dimensions": 1, "shingle_size": 4, "num_trees": 50,
                                       "sample_size": 256, "random_seed": random_seed})
        for record in readings:
            scores[record["event_id"]] = forest.score([record["speed"]])
            forest.update([record["speed"]])
    return scores


@pytest.fixture(scope="module")
def records() -> dict[str, list[dict]]:
    return {name: datasets.load_records(name) for name in datasets.DATASETS}


@pytest.fixture(scope="module")
def labels() -> dict[str, list[dict]]:
    return {name: datasets.load_labels(name) for name in datasets.DATASETS}


# --- reproducible ------------------------------------------------------------------------------------

def test_regenerating_rebuilds_the_shipped_files_byte_for_byte():
    result = run_generator("--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_names_a_file_that_differs_from_a_fresh_build(tmp_path):
    assert run_generator("--out", str(tmp_path)).returncode == 0
    written = {p.name for p in tmp_path.iterdir()}
    assert written == set(datasets.DATASETS.values()) | {datasets.LABELS_FILE}

    anomaly_file = tmp_path / datasets.DATASETS["anomaly"]
    anomaly_file.write_bytes(anomaly_file.read_bytes().replace(b'"speed": ', b'"speed": 1', 1))
    result = run_generator("--check", "--out", str(tmp_path))
    assert result.returncode == 1
    assert datasets.DATASETS["anomaly"] in result.stderr
    assert datasets.DATASETS["wind"] not in result.stderr


# --- well-formed -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(datasets.DATASETS))
def test_every_line_is_one_record_with_the_schema_in_order(name):
    with open(datasets.dataset_path(name), encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            assert list(record) == KEYS, line
            assert isinstance(record["event_id"], str) and record["event_id"]
            assert EVENT_TIME.fullmatch(record["event_time"]), line
            assert isinstance(record["location"], str) and isinstance(record["turbine_id"], str)
            for field in ("speed", "power_kw"):
                value = record[field]
                assert isinstance(value, float) and value >= 0 and round(value, 1) == value, line


def test_files_are_small_and_sized_as_documented(records):
    assert all(datasets.dataset_path(name).stat().st_size < 3_000_000 for name in datasets.DATASETS)
    assert 1_500 <= len(records["wind"]) <= 2_500
    assert 1_500 <= len(records["anomaly"]) <= 2_500
    assert 10_000 <= len(records["health"]) <= 20_000


def test_event_ids_are_unique_across_all_files(records):
    ids = [r["event_id"] for r in itertools.chain.from_iterable(records.values())]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("name", list(datasets.DATASETS))
def test_each_turbine_reports_once_a_second_in_event_time_order(records, name):
    readings = by_location(records[name])
    assert len(readings) >= 5
    times = [parse_time(r["event_time"]) for r in records[name]]
    assert times == sorted(times), "the file interleaves locations in event-time order"
    for location, rows in readings.items():
        assert len({r["turbine_id"] for r in rows}) == 1, location
        gaps = {(parse_time(b["event_time"]) - parse_time(a["event_time"])).total_seconds()
                for a, b in zip(rows, rows[1:])}
        assert gaps == {1.0}, location


@pytest.mark.parametrize("name", list(datasets.DATASETS))
def test_normal_wind_is_mostly_within_5_to_50_mph(records, labels, name):
    faulty = {e for fault in labels[name] for e in fault["event_ids"]}
    speeds = np.array([r["speed"] for r in records[name] if r["event_id"] not in faulty])
    assert np.mean((speeds >= 5) & (speeds <= 50)) >= 0.95
    assert speeds.max() < 70  # above ~70 mph turbines shut down: only spikes go there


# --- labelled ----------------------------------------------------------------------------------------

def test_normal_set_has_no_faults(labels):
    assert labels["wind"] == []


def test_anomaly_set_has_exactly_three_spikes_at_three_places_after_warm_up(records, labels):
    spikes = labels["anomaly"]
    assert [fault["kind"] for fault in spikes] == ["spike"] * 3
    assert len({fault["location"] for fault in spikes}) == 3
    starts = [parse_time(fault["start"]) for fault in spikes]
    assert all((b - a).total_seconds() >= 60 for a, b in zip(starts, starts[1:]))
    readings = by_location(records["anomaly"])
    for fault in spikes:
        rows = readings[fault["location"]]
        at = [r["event_id"] for r in rows].index(fault["event_ids"][0])
        assert at >= WARM_UP
        assert 80 <= rows[at]["speed"] <= 110
        assert rows[at]["speed"] >= max(r["speed"] for r in rows[at - 20:at]) + 30


def test_health_set_has_every_fault_kind_several_times(labels):
    counts = Counter(fault["kind"] for fault in labels["health"])
    assert all(counts[kind] >= 3 for kind in datasets.FAULT_KINDS), counts


@pytest.mark.parametrize("name", list(datasets.DATASETS))
def test_each_label_names_a_run_of_one_turbines_readings_and_shows_its_fault(records, labels, name):
    readings = by_location(records[name])
    for fault in labels[name]:
        assert list(fault) == ["dataset", "kind", "location", "turbine_id", "start", "end", "event_ids"]
        assert fault["kind"] in datasets.FAULT_KINDS
        ids = [r["event_id"] for r in readings[fault["location"]]]
        first = ids.index(fault["event_ids"][0])
        assert first >= WARM_UP
        rows = readings[fault["location"]][first:first + len(fault["event_ids"])]
        assert [r["event_id"] for r in rows] == fault["event_ids"], "consecutive readings of one turbine"
        assert {r["turbine_id"] for r in rows} == {fault["turbine_id"]}
        assert (rows[0]["event_time"], rows[-1]["event_time"]) == (fault["start"], fault["end"])

        speeds = [r["speed"] for r in rows]
        power = np.array([r["power_kw"] for r in rows])
        if fault["kind"] == "spike":
            assert len(rows) == 1 and speeds[0] >= 80
        elif fault["kind"] == "stuck":
            assert len(rows) >= 20 and len(set(speeds)) == 1
        elif fault["kind"] == "dropout":
            assert len(rows) >= 20 and set(speeds) == {0.0}
            assert (power > 0).all(), "the wind blows: the turbine keeps producing while its sensor reads 0"
        else:
            assert len(rows) >= 100
            assert (power < 0.7 * curve_power_kw(speeds)).all()


@pytest.mark.parametrize("name", list(datasets.DATASETS))
def test_no_fault_hides_outside_the_labels(records, labels, name):
    faulty = {e for fault in labels[name] for e in fault["event_ids"]}
    for location, rows in by_location(records[name]).items():
        normal = [r for r in rows if r["event_id"] not in faulty]
        speeds = np.array([r["speed"] for r in normal])
        power = np.array([r["power_kw"] for r in normal])
        assert speeds.max() < 70 and speeds.min() > 0, location
        assert np.allclose(power, curve_power_kw(speeds), rtol=0.05, atol=1.0), location
        longest_repeat = max(len(list(run)) for _, run in itertools.groupby(speeds))
        assert longest_repeat < 5, f"{location}: a stuck sensor would repeat one reading"


# --- detectable, as the lab promises -----------------------------------------------------------------

def test_random_cut_forest_scores_each_anomaly_set_spike_high_and_nothing_else(records, labels):
    scores = rcf_scores(records["anomaly"])
    spike_ids = {fault["event_ids"][0] for fault in labels["anomaly"]}
    assert all(scores[e] >= RCF_THRESHOLD for e in spike_ids), {e: scores[e] for e in spike_ids}
    # with shingle 4 a spike also lifts the next 3 readings of its turbine; every other reading stays low
    echoes = set()
    for rows in by_location(records["anomaly"]).values():
        for i, row in enumerate(rows):
            if row["event_id"] in spike_ids:
                echoes.update(r["event_id"] for r in rows[i + 1:i + 4])
    high = [e for e, s in scores.items() if s >= RCF_THRESHOLD and e not in spike_ids | echoes]
    assert high == []


def test_random_cut_forest_finds_nothing_in_the_normal_set(records):
    assert max(rcf_scores(records["wind"]).values()) < RCF_THRESHOLD


def test_random_cut_forest_scores_every_health_set_spike_high(records, labels):
    scores = rcf_scores(records["health"])
    spikes = [fault["event_ids"][0] for fault in labels["health"] if fault["kind"] == "spike"]
    assert min(scores[e] for e in spikes) >= RCF_THRESHOLD
    normal = [s for e, s in scores.items() if e not in {i for f in labels["health"] for i in f["event_ids"]}]
    assert np.mean(np.array(normal) >= RCF_THRESHOLD) < 0.005


# --- loader ------------------------------------------------------------------------------------------

def test_loader_rejects_an_unknown_data_set_with_the_valid_names():
    with pytest.raises(BadParameter, match="wind, anomaly, health"):
        datasets.load_records("windy")
    with pytest.raises(BadParameter):
        datasets.load_labels("windy")


def test_loader_returns_all_labels_without_a_name(labels):
    assert datasets.load_labels() == labels["wind"] + labels["anomaly"] + labels["health"]
