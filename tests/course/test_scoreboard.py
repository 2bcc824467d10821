"""The scoreboard scores alerts per fault kind against the labels, and explains the top alerts."""
from __future__ import annotations

import pandas as pd
import pytest

from labkit import scoreboard
from labkit.datasets import load_labels, load_records
from labkit.errors import BadParameter

POSITIONS = ("t-3", "t-2", "t-1", "t")


def outputs(flag: dict[str, tuple[float, str | None]]) -> pd.DataFrame:
    """AnomalyDetectionStream records for the health data set: score 0.8 and no rule, except `flag`."""
    rows = []
    for record in load_records("health"):
        score, rule = flag.get(record["event_id"], (0.8, None))
        rows.append({**record, "score": score, "rule": rule, "stuck": rule == "stuck",
                     "attribution": dict(zip(POSITIONS, (0.0, 0.0, 0.0, score)))})
    return pd.DataFrame(rows)


def fault_ids(kind: str) -> list[list[str]]:
    return [label["event_ids"] for label in load_labels("health") if label["kind"] == kind]


def test_recall_and_precision_are_per_fault_kind():
    spikes, stuck = fault_ids("spike"), fault_ids("stuck")
    flag = {ids[0]: (4.5, "rcf") for ids in spikes}
    flag.update({ids[-1]: (0.9, "stuck") for ids in stuck[:2]})  # two of three stuck sensors caught, late
    normal = next(r["event_id"] for r in load_records("health")[400:] if r["event_id"] not in
                  {i for label in load_labels("health") for i in label["event_ids"]})
    flag[normal] = (2.5, "rcf")  # one false alert
    board = scoreboard.score(outputs(flag), "health")

    assert board.loc["spike", ["faults", "caught", "alerts", "false_alerts"]].tolist() == [7, 7, 7, 1]
    assert board.loc["spike", "recall"] == 1.0 and board.loc["spike", "precision"] == pytest.approx(7 / 8)
    assert board.loc["stuck", ["caught", "recall", "rules"]].tolist() == [2, pytest.approx(2 / 3), "stuck"]
    assert board.loc["stuck", "precision"] == pytest.approx(2 / 3)
    assert board.loc["dropout", "caught"] == 0 and board.loc["dropout", "precision"] == 0
    assert board.loc["underperformance", "recall"] == 0 and board.loc["underperformance", "rules"] == "—"


def test_a_spike_and_the_readings_it_lifts_are_one_alert():
    spike = fault_ids("spike")[0][0]
    records = load_records("health")
    location = next(r["location"] for r in records if r["event_id"] == spike)
    after = [r["event_id"] for r in records if r["location"] == location]
    lifted = after[after.index(spike) + 1:after.index(spike) + 4]
    board = scoreboard.score(outputs({spike: (4.4, "rcf"), **{i: (3.9, "rcf") for i in lifted}}), "health")
    assert board.loc["spike", ["caught", "alerts", "false_alerts"]].tolist() == [1, 1, 0]


def test_top_anomalies_give_one_row_per_alert_with_its_attribution():
    spikes = fault_ids("spike")
    flag = {ids[0]: (4.0 + n / 10, "rcf") for n, ids in enumerate(spikes)}
    top = scoreboard.top_anomalies(outputs(flag), "health", n=3)
    assert list(top.index) == [spikes[6][0], spikes[5][0], spikes[4][0]]
    assert top["fault"].tolist() == ["spike"] * 3 and top["driver"].tolist() == ["t"] * 3
    assert (top[list(POSITIONS)].sum(axis=1) == top["score"]).all()


def test_scores_missing_readings_say_to_wait():
    with pytest.raises(BadParameter, match="have no score yet"):
        scoreboard.score(outputs({}).iloc[:-10], "health")
