"""Render the drills' measured figures (build/reliability/figures.json, written by tests/reliability) into
docs/RELIABILITY.md, between its `figures` markers, and the mutation checks' results
(bench/results/mutations.json, written by tests/reliability/mutations.py) between its `mutations` markers;
the rest of the document is written by hand.

    .venv/bin/python -m pytest -m flink tests/reliability      # measure
    .venv/bin/python -m tests.reliability.mutations            # each drill against its protection removed
    .venv/bin/python -m tests.reliability.report               # render
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from labkit.config import REPO_ROOT
from tests.reliability.mutations import MUTATIONS, RESULTS as MUTATION_RESULTS
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


def _counted(row: dict, figure: str) -> str:
    """A figure of the drill function's delivery counter; drills of other functions have none."""
    return f"{row[figure]:,}" if figure in row else "not counted"


def render(figures: dict) -> str:
    measured = sorted(row["measured"] for row in figures.values())
    lines = [f"Measured {measured[0]} to {measured[-1]} (UTC) by the drills in tests/reliability, on the shared "
             "local stack with real Flink.", "",
             "| fault | what the pipeline did | records in | records out | lost | written twice | delivered again |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for name in [n for n in ORDER if n in figures] + sorted(set(figures) - set(ORDER)):
        row = figures[name]
        did = row["behaviour"] + (f"; all delivered {row['all_delivered_after_s']} s after the fault"
                                  if "all_delivered_after_s" in row else "") + _replays(row)
        lines.append(f"| {_cell(row['fault'])} | {_cell(did)} | {row['records_in']:,} | {row['records_out']:,} | "
                     f"{row['lost']} | {row['duplicated']} | {_counted(row, 'delivered_again')} |")
    for name, title in ENTRY_POINTS.items():
        if name in figures and figures[name].get("kinds"):
            lines += ["", f"#### {title}: each kind and what became of it", "", "| input | outcome |", "|---|---|"]
            lines += [f"| {_cell(kind)} | {_cell(outcome)} |" for kind, outcome in figures[name]["kinds"].items()]
    return "\n".join(lines)


# ---- the mutation table: bench/results/mutations.json (tests/reliability/mutations.py) -------------------
MUTATIONS_START = "<!-- mutations:start (rendered by tests/reliability/report.py) -->"
MUTATIONS_END = "<!-- mutations:end -->"


def _measured(mutation, result: dict | None) -> str:
    """One mutation's last measured outcome, or "not run yet" (also when the mutation changed since its run)."""
    if not result:
        return "not run yet"
    if result.get("fingerprint") != mutation.fingerprint():
        return f"not run yet (the mutation changed after its run of {result['date'][:10]})"
    verdict = "as expected" if result["matched"] else "**NOT as expected**"
    when = f"{result['minutes']} min, " if "minutes" in result else ""
    line = result.get("first_failure", "").replace("`", "'")
    return (f"**{result['outcome'].capitalize()}** ({verdict}; {when}{result['date'][:10]}, at "
            f"{result['commit'][:7]})" + (f": `{line}`" if line else ""))


def render_mutations(results: dict) -> str:
    """The mutation table: every mutation of tests/reliability/mutations.py, with what its last run measured."""
    lines = ["| Mutation | Drill | Protection removed (file: edit) | Expected | Result with the mutation | Why |",
             "|---|---|---|---|---|---|"]
    for mutation in MUTATIONS:
        path, _, test = mutation.drill.partition("::")
        drill = f"`{Path(path).stem}::{test}`"
        removed = f"`{mutation.file}`: {mutation.removes}" + (" (zip rebuilt)" if mutation.rebuild_zip
                                                             and "zip rebuilt" not in mutation.removes else "")
        lines.append(f"| `{mutation.name}` | {drill} | {_cell(removed)} | {mutation.expected} | "
                     f"{_cell(_measured(mutation, results.get(mutation.name)))} | {_cell(mutation.reason)} |")
    return "\n".join(lines)


def with_mutations(document: str) -> str:
    """`document` with its mutation section rendered from bench/results/mutations.json (a document without
    the markers is returned as it is)."""
    if MUTATIONS_START not in document or MUTATIONS_END not in document:
        print("no mutation markers in the document: its mutation table is not rendered", file=sys.stderr)
        return document
    results = json.loads(MUTATION_RESULTS.read_text()) if MUTATION_RESULTS.exists() else {}
    head, rest = document.split(MUTATIONS_START, 1)
    _, tail = rest.split(MUTATIONS_END, 1)
    return f"{head}{MUTATIONS_START}\n{render_mutations(results)}\n{MUTATIONS_END}{tail}"


def render_mutation_section(path: Path = DOC) -> None:
    """Render only the mutation table into `path` (the figures section stays as it is)."""
    path.write_text(with_mutations(path.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"rendered {MUTATION_RESULTS} into {path}")


def main(output: Path = DOC) -> int:
    """Render into `output` (default docs/RELIABILITY.md itself; docs/RELIABILITY.md stays the template)."""
    if not FIGURES.exists():
        print(f"{FIGURES} is missing: run the drills first (pytest -m flink tests/reliability).", file=sys.stderr)
        return 1
    document = DOC.read_text(encoding="utf-8")
    if START not in document or END not in document:
        print(f"{DOC} has lost its figures markers; put back the lines\n{START}\n{END}", file=sys.stderr)
        return 1
    head, rest = document.split(START, 1)
    _, tail = rest.split(END, 1)
    output.write_text(with_mutations(f"{head}{START}\n{render(json.loads(FIGURES.read_text()))}\n{END}{tail}"),
                      encoding="utf-8")
    print(f"rendered {FIGURES} and {MUTATION_RESULTS} into {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
