"""Render the drills' measured figures (build/reliability/figures.json, written by tests/reliability) into
docs/RELIABILITY.md, between its `figures` markers; the rest of the document is written by hand.

    .venv/bin/python -m pytest -m flink tests/reliability      # measure
    .venv/bin/python -m tests.reliability.report               # render
"""
from __future__ import annotations

import json
import sys

from labkit.config import REPO_ROOT
from tests.reliability.pipeline import FIGURES

DOC = REPO_ROOT / "docs" / "RELIABILITY.md"
START, END = "<!-- figures:start (rendered by tests/reliability/report.py) -->", "<!-- figures:end -->"
ORDER = ["producers4", "kill9", "restart", "crash", "transient", "poison", "malformed-flink", "malformed-analytics",
         "malformed-diy", "malformed-delivery", "malformed-simulator-api"]
ENTRY_POINTS = {"malformed-flink": "Kinesis records reaching Flink (AnomalyDetection)",
                "malformed-analytics": "Kinesis records reaching AnalyticsDestinationFunction",
                "malformed-diy": "Kinesis records reaching DIYFunction",
                "malformed-simulator-api": "The simulator's JSON API"}


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _replays(row: dict) -> str:
    """What a crash drill repeated, beside the window it states (absent for drills that count no deliveries)."""
    if "replay_window" not in row:
        return ""
    return (f"; {row['kills']} kills, down {min(row['downtime_s'])}-{max(row['downtime_s'])} s each; "
            f"{row['acknowledged_records']:,} acknowledged records all kept; {row['repeated_deliveries']:,} repeated "
            f"deliveries, within the stated window of {row['replay_window']:,} (per kill: {row['rate']} readings/s "
            f"× (checkpoint interval + downtime) + one trigger batch)")


def render(figures: dict) -> str:
    measured = sorted(row["measured"] for row in figures.values())
    lines = [f"Measured {measured[0]} to {measured[-1]} (UTC) by the drills in tests/reliability, on the shared "
             "local stack with real Flink.", "",
             "| fault | what the pipeline did | records in | records out | lost | duplicated |",
             "|---|---|---:|---:|---:|---:|"]
    for name in [n for n in ORDER if n in figures] + sorted(set(figures) - set(ORDER)):
        row = figures[name]
        did = row["behaviour"] + (f"; all delivered {row['all_delivered_after_s']} s after the fault"
                                  if "all_delivered_after_s" in row else "") + _replays(row)
        lines.append(f"| {_cell(row['fault'])} | {_cell(did)} | {row['records_in']:,} | {row['records_out']:,} | "
                     f"{row['lost']} | {row['duplicated']} |")
    for name, title in ENTRY_POINTS.items():
        if name in figures and figures[name].get("kinds"):
            lines += ["", f"#### {title}: each kind and what became of it", "", "| input | outcome |", "|---|---|"]
            lines += [f"| {_cell(kind)} | {_cell(outcome)} |" for kind, outcome in figures[name]["kinds"].items()]
    return "\n".join(lines)


def main() -> int:
    if not FIGURES.exists():
        print(f"{FIGURES} is missing: run the drills first (pytest -m flink tests/reliability).", file=sys.stderr)
        return 1
    document = DOC.read_text(encoding="utf-8")
    if START not in document or END not in document:
        print(f"{DOC} has lost its figures markers; put back the lines\n{START}\n{END}", file=sys.stderr)
        return 1
    head, rest = document.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{START}\n{render(json.loads(FIGURES.read_text()))}\n{END}{tail}", encoding="utf-8")
    print(f"rendered {FIGURES} into {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
