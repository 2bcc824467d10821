"""Alert scoring, defined once for notebook 07's scoreboard (labkit/scoreboard.py) and the detection benchmark
(bench/detection_scoreboard.py): what is flagged, what one alert is, and how alerts score against labelled faults.

- Flagged: the AnomalyDetection job named a rule for the reading (`rule` "rcf", "stuck" or "power"). A high score
  whose wind the turbine's power confirms gets no rule: weather, not a fault. (AnomalyMessageDeliveryFunction
  still mails such a score: it tests the score, not `rule`.)
- Alert: a run of consecutive flagged readings of one location, in the data set's order; the delivery function
  groups the readings it mails the same way, one e-mail per run.
- A fault's reach: its readings and the SHINGLE - 1 readings after them at its location (their shingle still
  holds the faulty value). An alert covers each fault whose reach it overlaps; covering none, it is a false alert.
- Per fault kind: caught = its faults that an alert covers; recall = caught / faults; reading recall = its faults'
  flagged readings / their readings; alerts = the alerts covering one of its faults; precision = alerts /
  (alerts + every false alert), as if it were the only kind. A ratio of nothing is None.
- Normal readings: after the first WARMUP_READINGS of their location (the forest and the learned power curves
  warm up; every labelled fault starts later) and in no fault's reach. Flagged normal rate = flagged normal
  readings / normal readings; beside it, the share scoring at least ALERT_THRESHOLD (the forest alone, before
  the power cross-check). Alerts during the warm-up still count.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby

from .config import ALERT_THRESHOLD
from .datasets import FAULT_KINDS
from .errors import BadParameter

SHINGLE = 4  # the app's rcf.shingleSize: a fault also lifts the scores of the next SHINGLE - 1 readings
WARMUP_READINGS = 150  # per location (data/README.md: every fault starts after at least 150 readings)


@dataclass(frozen=True)
class Alert:
    location: str
    event_ids: tuple[str, ...]  # its flagged readings, in order
    faults: tuple[int, ...]  # the labels (indexes) it covers; none: a false alert


@dataclass(frozen=True)
class AlertScores:
    outputs: dict[str, dict]  # event id -> the job's output (the last one of a reading sent again)
    labels: list[dict]
    alerts: list[Alert]
    kinds: dict[str, dict]  # fault kind -> faults, caught, recall, reading_recall, alerts, precision
    false_alerts: int
    normal_readings: int
    flagged_normal_rate: float | None
    high_score_normal_rate: float | None


def flagged(output: dict) -> bool:
    """The job named a rule for this reading (None, or NaN in a table, when it named none)."""
    return isinstance(output.get("rule"), str)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def score_alerts(records: list[dict], outputs: Iterable[dict], labels: list[dict]) -> AlertScores:
    """Score the job's `outputs` for the data set's `records` against its `labels` (see the module doc)."""
    latest = {output["event_id"]: output for output in outputs}
    series: dict[str, list[str]] = defaultdict(list)  # location -> event ids in order
    for record in records:
        series[record["location"]].append(record["event_id"])
    absent = sum(event_id not in latest for ids in series.values() for event_id in ids)
    if absent:
        raise BadParameter(f"{absent:,} of the {len(records):,} readings have no score yet: wait until the app has "
                           "scored the whole data set (run the plot cell again), then score.")
    faults_of = defaultdict(set)  # event id -> its labels
    for number, label in enumerate(labels):
        for event_id in label["event_ids"]:
            faults_of[event_id].add(number)
    reach = defaultdict(set)  # event id -> the labels whose reach holds it
    for ids in series.values():
        for position, event_id in enumerate(ids):
            if event_id in faults_of:
                for after in ids[position:position + SHINGLE]:
                    reach[after] |= faults_of[event_id]

    alerts = []
    for location, ids in series.items():
        for is_flagged, run in groupby(ids, key=lambda event_id: flagged(latest[event_id])):
            if is_flagged:
                run = tuple(run)
                alerts.append(Alert(location, run, tuple(sorted(set().union(*(reach.get(i, ()) for i in run))))))
    false_alerts = sum(not alert.faults for alert in alerts)
    covered = set().union(*(alert.faults for alert in alerts))

    kinds = {}
    for kind in FAULT_KINDS:
        mine = {number for number, label in enumerate(labels) if label["kind"] == kind}
        on_mine = [alert for alert in alerts if mine.intersection(alert.faults)]
        caught = mine & covered
        readings = [event_id for number in mine for event_id in labels[number]["event_ids"]]
        kinds[kind] = {
            "faults": len(mine), "caught": len(caught), "recall": _ratio(len(caught), len(mine)),
            "reading_recall": _ratio(sum(flagged(latest[i]) for i in readings), len(readings)),
            "alerts": len(on_mine), "precision": _ratio(len(on_mine), len(on_mine) + false_alerts),
        }
    normal = [event_id for ids in series.values() for event_id in ids[WARMUP_READINGS:] if event_id not in reach]
    return AlertScores(latest, labels, alerts, kinds, false_alerts, len(normal),
                       _ratio(sum(flagged(latest[i]) for i in normal), len(normal)),
                       _ratio(sum(float(latest[i]["score"]) >= ALERT_THRESHOLD for i in normal), len(normal)))
