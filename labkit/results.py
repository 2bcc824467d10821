"""What a check saw, kept for the instructor preview: expected beside actual.

A headless course run sets LABKIT_RESULTS_FILE before it starts each notebook's kernel; every check that
passes appends one JSON line there (the check's name, its sentence, and the figures it compared). In
JupyterLab the variable is unset and nothing is written.

    {"check": "inbox_has_emails", "message": "...", "figures": [{"what": "e-mails", "expected": 3, "actual": 3}]}
"""
from __future__ import annotations

import json
import os
from pathlib import Path

RESULTS_FILE_VARIABLE = "LABKIT_RESULTS_FILE"


def figure(what: str, expected, actual) -> dict:
    """One compared figure: what it is, what the lab expects, what this run produced (JSON values)."""
    return {"what": what, "expected": expected, "actual": actual}


def record(check: str, message: str, figures: list[dict] | None = None) -> None:
    """Append one passed check to the run's results file, if the run keeps one."""
    path = os.environ.get(RESULTS_FILE_VARIABLE)
    if not path:
        return
    line = json.dumps({"check": check, "message": message, "figures": figures or []}, default=str)
    with open(path, "a", encoding="utf-8") as results:
        results.write(line + "\n")


def read(path: Path) -> list[dict]:
    """The checks a notebook's run recorded, in order (none if it kept no file)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
