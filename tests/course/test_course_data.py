"""The data sets keep the course's promises when sent in the course's order through the app's own detector
(flink/anomaly_detection/detector.py with its application_properties.json, no cluster): notebook 01 sends
the wind set, notebook 03 the wind set again and then the anomaly set, and notebook 05 expects three e-mails."""
from __future__ import annotations

import json
import sys

import pytest

from labkit import datasets
from labkit.config import FLINK_DIR


@pytest.fixture(scope="module")
def detector_module():
    sys.path.insert(0, str(FLINK_DIR / "anomaly_detection"))
    try:
        import detector
        yield detector
    finally:
        sys.path.remove(str(FLINK_DIR / "anomaly_detection"))


def alerts(detector, order: list[str]) -> list[str]:
    """The first reading of each run of flagged readings per location (what the e-mail function mails)."""
    groups = json.loads((FLINK_DIR / "anomaly_detection" / "application_properties.json").read_text())
    settings = detector.DetectorSettings.from_properties(
        next(g["PropertyMap"] for g in groups if g["PropertyGroupId"] == "lab"))
    forests, flagged_before, first = {}, {}, []
    for name in order:
        for record in datasets.load_records(name):
            forest = forests.setdefault(record["location"], detector.LocationDetector(settings))
            result = forest.assess(detector.parse_reading(json.dumps(record)))
            flagged = result["score"] >= settings.score_threshold or result["stuck"]
            if flagged and not flagged_before.get(record["location"]):
                first.append(record["event_id"])
            flagged_before[record["location"]] = flagged
    return first


def test_the_course_order_raises_exactly_the_three_labelled_alerts(detector_module):
    spikes = [label["event_ids"][0] for label in datasets.load_labels("anomaly")]
    assert alerts(detector_module, ["wind", "wind", "anomaly"]) == spikes
