"""How well the AnomalyDetection app catches each kind of labelled fault, and why it flagged what it flagged.

    board = scoreboard.score(scores, "health")    # one row per fault kind: recall and precision of alerts
    top = scoreboard.top_anomalies(scores, "health")
    scoreboard.draw_attribution(top)

Flagged readings, alerts and the figures per fault kind are defined in labkit.alert_scoring, which the detection
benchmark scores with too. Each kind is scored on its own: a pooled number would hide that the forest never sees
a stuck sensor.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from .alert_scoring import AlertScores, flagged, score_alerts
from .datasets import load_labels, load_records
from .errors import BadParameter

COLUMNS = ["faults", "caught", "recall", "alerts", "false_alerts", "precision", "rules"]


def _scored(scores: pd.DataFrame, dataset: str) -> AlertScores:
    """labkit.alert_scoring's figures for `scores`, AnomalyDetectionStream's records for the data set."""
    needed = {"event_id", "location", "score", "rule", "attribution"}
    if not needed <= set(scores.columns):
        raise BadParameter(f"scores need the columns {sorted(needed)} of AnomalyDetectionStream's records; "
                           f"got {sorted(scores.columns)}.")
    return score_alerts(load_records(dataset), scores.to_dict("records"), load_labels(dataset))


def score(scores: pd.DataFrame, dataset: str = "health") -> pd.DataFrame:
    """The scoreboard: per fault kind, faults, caught, recall, alerts, false alerts, precision and the
    rules that fired; `scores` are AnomalyDetectionStream's records (event_id, location, score, rule, ...)."""
    scored = _scored(scores, dataset)
    rows = {}
    for kind, figures in scored.kinds.items():
        outputs = [scored.outputs[i] for label in scored.labels if label["kind"] == kind for i in label["event_ids"]]
        rows[kind] = {**figures, "false_alerts": scored.false_alerts,
                      "rules": ", ".join(sorted({o["rule"] for o in outputs if flagged(o)})) or "—"}
    board = pd.DataFrame.from_dict(rows, orient="index", columns=COLUMNS).astype({"recall": float, "precision": float})
    board.index.name = "fault kind"
    return board


def top_anomalies(scores: pd.DataFrame, dataset: str = "health", n: int = 10) -> pd.DataFrame:
    """The `n` alerts with the highest peak score, one row per alert (its peak reading): where, when, speed,
    score, rule, the RCF attribution of the peak (how much each shingle position, oldest t-3 to newest t,
    added to the score), the position that drove it, and the labelled fault the alert belongs to, if any."""
    scored = _scored(scores, dataset)
    columns = ["event_time", "location", "speed", "score", "rule", "fault", "readings"]
    peaks = [{**max((scored.outputs[i] for i in alert.event_ids), key=lambda o: float(o["score"])),
              "fault": scored.labels[alert.faults[0]]["kind"] if alert.faults else "false alert",
              "readings": len(alert.event_ids)} for alert in scored.alerts]
    if not peaks:
        return pd.DataFrame(columns=columns)
    found = pd.DataFrame(peaks).set_index("event_id")
    top = found.assign(score=found["score"].astype(float)).nlargest(n, "score")
    attribution = pd.DataFrame(list(top["attribution"]), index=top.index).astype(float)
    table = top[columns].join(attribution)
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
