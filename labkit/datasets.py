"""The wind data sets shipped in data/ and their fault labels (see data/README.md).

    from labkit import datasets
    records = datasets.load_records("anomaly")   # list of {"event_id", "event_time", "location", ...}
    faults = datasets.load_labels("anomaly")     # the three labelled spikes

Standard library only, so importing this module costs nothing.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from .config import DATA_DIR
from .errors import BadParameter, ResourceMissing

DATASETS = {
    "wind": "wind_speed.jsonl",
    "anomaly": "wind_speed_anomaly.jsonl",
    "health": "turbine_health.jsonl",
}
TITLES = {  # the names the lab's simulator page gives the data sets
    "wind": "Wind speed data set",
    "anomaly": "Wind speed anomaly data set",
    "health": "Turbine health data set",
}
LABELS_FILE = "labels.json"
FAULT_KINDS = ("spike", "stuck", "dropout", "underperformance")

def dataset_path(name: str) -> Path:
    """Path of the JSON-lines file of data set `name` ("wind", "anomaly" or "health")."""
    return _existing(DATA_DIR / _filename(name))


def iter_records(name: str) -> Iterator[dict]:
    """The readings of data set `name`, one dict per line, in event-time order."""
    with open(dataset_path(name), encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def load_records(name: str) -> list[dict]:
    """All readings of data set `name`, in event-time order."""
    return list(iter_records(name))


def load_labels(name: str | None = None) -> list[dict]:
    """The labelled faults of data set `name` (all data sets if None), ordered by start time.

    Each fault: {"dataset", "kind", "location", "turbine_id", "start", "end", "event_ids"}.
    """
    if name is not None:
        _filename(name)  # an unknown name fails here, with the valid names
    labels = json.loads(_existing(DATA_DIR / LABELS_FILE).read_text(encoding="utf-8"))
    return [fault for fault in labels if name is None or fault["dataset"] == name]


def _filename(name: str) -> str:
    if name not in DATASETS:
        raise BadParameter(f"there is no data set {name!r}: choose one of {', '.join(DATASETS)}.")
    return DATASETS[name]


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise ResourceMissing("data file", str(path), "Rebuild the data sets with `python data/generate.py`.")
    return path


def locations(name: str = "wind") -> list[str]:
    """The turbines' locations in data set `name`, sorted."""
    return sorted({record["location"] for record in iter_records(name)})
