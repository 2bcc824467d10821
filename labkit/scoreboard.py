"""How well the AnomalyDetection app catches each kind of labelled fault, and why it flagged what it flagged.

    board = scoreboard.score(scores, "health")    # one row per fault kind: recall and precision of alerts
    top = scoreboard.top_anomalies(scores, "health")
    scoreboard.draw_attribution(top)

An alert is what an operator gets: a run of consecutive flagged readings of one location (flagged = score
at or above the threshold, or the stuck-sensor rule fired), as AnomalyMessageDeliveryFunction mails them.
- recall of a kind: the share of its labelled faults that raised an alert while the fault lasted;
- precision of a kind: its alerts / (its alerts + false alerts), as if it were the only kind of fault.
  An alert belongs to a fault when it overlaps the fault's readings or the `shingle - 1` readings after it
  (with shingle 4 a spike also lifts the next 3 scores); an alert that overlaps no fault is a false alert.
Each kind is scored on its own: a pooled number would hide that the forest never sees a stuck sensor.
"""
from __future__ import annotations

from collections import defaultdict

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from .config import ALERT_THRESHOLD
from .datasets import FAULT_KINDS, load_labels, load_records
from .errors import BadParameter

SHINGLE = 4  # the app's rcf.shingleSize: a fault also lifts the scores of the next SHINGLE - 1 readings
COLUMNS = ["faults", "caught", "recall", "alerts", "false_alerts", "precision", "rules"]


def _latest(scores: pd.DataFrame, event_ids: set[str]) -> pd.DataFrame:
    """The app's output for these readings, the last score of each reading if it was sent again."""
    needed = {"event_id", "location", "score", "rule", "attribution"}
    if not needed <= set(scores.columns):
        raise BadParameter(f"scores need the columns {sorted(needed)} of AnomalyDetectionStream's records; "
                           f"got {sorted(scores.columns)}.")
    own = scores[scores["event_id"].isin(event_ids)]
    return own.drop_duplicates("event_id", keep="last").set_index("event_id")


def _fired(rule) -> bool:
    """A detection rule's name ("rcf", "stuck"); None or NaN when no rule fired."""
    return isinstance(rule, str)


def _alerts(flagged: dict[str, list[bool]]) -> list[tuple[str, int, int]]:
    """Runs of flagged readings: (location, first index, last index) in the data set's per-location order."""
    runs = []
    for location, flags in flagged.items():
        start = None
        for index, flag in enumerate([*flags, False]):
            if flag and start is None:
                start = index
            elif not flag and start is not None:
                runs.append((location, start, index - 1))
                start = None
    return runs


class _Analysis:
    """The app's flags on one data set, its alerts, and which labelled fault each alert belongs to."""

    def __init__(self, scores: pd.DataFrame, dataset: str, threshold: float):
        self.order: dict[str, list[str]] = defaultdict(list)
        for record in load_records(dataset):
            self.order[record["location"]].append(record["event_id"])
        self.latest = latest = _latest(scores, {i for ids in self.order.values() for i in ids})
        absent = sum(event_id not in latest.index for ids in self.order.values() for event_id in ids)
        if absent:
            raise BadParameter(f"{absent:,} readings of the {dataset} data set have no score yet: wait until the app "
                               "has scored the whole data set (run the plot cell again), then score.")
        self.flagged = {location: [bool(float(latest.at[i, "score"]) >= threshold or _fired(latest.at[i, "rule"]))
                                   for i in ids] for location, ids in self.order.items()}
        position = {event_id: (location, index) for location, ids in self.order.items()
                    for index, event_id in enumerate(ids)}
        self.labels = load_labels(dataset)
        self.alerts = _alerts(self.flagged)
        self.owner: dict[int, int] = {}  # alert -> the label it belongs to
        self.spans = []
        for number, label in enumerate(self.labels):
            location, first = position[label["event_ids"][0]]
            last = position[label["event_ids"][-1]][1]
            self.spans.append((location, first, last))
            for a, (where, start, end) in enumerate(self.alerts):
                if where == location and start <= last + SHINGLE - 1 and end >= first:
                    self.owner.setdefault(a, number)


def score(scores: pd.DataFrame, dataset: str = "health", threshold: float = ALERT_THRESHOLD) -> pd.DataFrame:
    """The scoreboard: per fault kind, faults, caught, recall, alerts, false alerts, precision and the
    rules that fired; `scores` are AnomalyDetectionStream's records (event_id, location, score, rule, ...)."""
    run = _Analysis(scores, dataset, threshold)
    false_alerts = len(run.alerts) - len(run.owner)
    rows = {}
    for kind in FAULT_KINDS:
        mine = [n for n, label in enumerate(run.labels) if label["kind"] == kind]
        caught = [n for n in mine if any(run.flagged[run.spans[n][0]][run.spans[n][1]:run.spans[n][2] + 1])]
        alerts = sum(1 for label in run.owner.values() if label in mine)
        rules = sorted({run.latest.at[i, "rule"] for n in mine for i in run.labels[n]["event_ids"]
                        if _fired(run.latest.at[i, "rule"])})
        rows[kind] = {
            "faults": len(mine), "caught": len(caught), "recall": len(caught) / len(mine) if mine else float("nan"),
            "alerts": alerts, "false_alerts": false_alerts,
            "precision": alerts / (alerts + false_alerts) if alerts + false_alerts else float("nan"),
            "rules": ", ".join(rules) or "—",
        }
    board = pd.DataFrame.from_dict(rows, orient="index", columns=COLUMNS)
    board.index.name = "fault kind"
    return board


def top_anomalies(scores: pd.DataFrame, dataset: str = "health", n: int = 10,
                  threshold: float = ALERT_THRESHOLD) -> pd.DataFrame:
    """The `n` alerts with the highest peak score, one row per alert (its peak reading): where, when, speed,
    score, rule, the RCF attribution of the peak (how much each shingle position, oldest t-3 to newest t,
    added to the score), the position that drove it, and the labelled fault the alert belongs to, if any."""
    run = _Analysis(scores, dataset, threshold)
    peaks = []
    for number, (location, start, end) in enumerate(run.alerts):
        ids = run.order[location][start:end + 1]
        peak = max(ids, key=lambda i: float(run.latest.at[i, "score"]))
        owner = run.owner.get(number)
        peaks.append((peak, run.labels[owner]["kind"] if owner is not None else "false alert", end - start + 1))
    if not peaks:
        return pd.DataFrame(columns=["event_time", "location", "speed", "score", "rule", "fault", "readings"])
    found = run.latest.loc[[p for p, _, _ in peaks]].assign(
        fault=[kind for _, kind, _ in peaks], readings=[length for _, _, length in peaks])
    top = found.assign(score=found["score"].astype(float)).nlargest(n, "score")
    attribution = pd.DataFrame(list(top["attribution"]), index=top.index).astype(float)
    table = top[["event_time", "location", "speed", "score", "rule", "fault", "readings"]].join(attribution)
    table["driver"] = attribution.idxmax(axis=1)
    return table


def draw_attribution(top: pd.DataFrame, ax: plt.Axes | None = None) -> None:
    """A bar per alert, split into what each shingle position contributed to its peak score; drawn on `ax`,
    or shown as a figure of its own (a picture that stays in the executed notebook)."""
    if ax is None:
        figure, ax = plt.subplots(figsize=(10, 0.45 * len(top) + 1.2))
        draw_attribution(top, ax)
        display(figure)
        plt.close(figure)
        return
    positions = [c for c in top.columns if c == "t" or c.startswith("t-")]
    labels = [f"{row.location} {str(row.event_time)[11:19]} · {row.fault} · {row.speed:g} mph"
              for row in top.itertuples()]
    left = pd.Series(0.0, index=top.index)
    for column in positions:
        ax.barh(labels, top[column], left=left, label=column)
        left += top[column]
    ax.invert_yaxis()
    ax.set_xlabel("anomaly score, split by shingle position (t = the newest reading)")
    ax.legend(title="attribution", fontsize="small", loc="lower right")
    ax.figure.tight_layout()
