"""The reliability drills as a step of `make bench` (and `make reliability`): tests/reliability run with real
Flink, the whole-stack crash drill with `kills` kills, then their figures rendered into docs/RELIABILITY.md by
tests/reliability/report.py.

    .venv/bin/python -m pytest -m flink tests/reliability -p no:cacheprovider   # LABKIT_CRASH_DRILL_KILLS=kills
    .venv/bin/python -m tests.reliability.report

A quick run (`python -m bench --quick`) renders into build/bench-quick/RELIABILITY.md instead, from the figures of
its own drills alone, and leaves build/reliability/figures.json as it found it (the full run's figures). A drill
that fails stops the step with DrillsFailed, which names the failed drills.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from .common import ROOT

DRILLS = "tests/reliability"
KILLS = 10
MALFORMED = "tests/reliability/test_malformed_input.py"  # the catalogue of malformed inputs: full runs only
QUICK = {"kills": 1, "malformed": False}  # `python -m bench --quick`: run()'s sizes for a CI-sized check
DOC = ROOT / "docs" / "RELIABILITY.md"


class DrillsFailed(RuntimeError):
    """A reliability drill failed (or none ran); the message names them."""


def failed_drills(junit: Path) -> tuple[list[str], int]:
    """The drills that failed or erred (as file::test), and how many passed, from pytest's JUnit XML."""
    failed, passed = [], 0
    for case in ElementTree.parse(junit).iter("testcase"):
        outcome = {child.tag for child in case}
        if outcome & {"failure", "error"}:
            failed.append(f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}")
        elif "skipped" not in outcome:
            passed += 1
    return failed, passed


@contextlib.contextmanager
def figures_set_aside(figures: Path):
    """The drills write into an empty `figures`; afterwards the file is put back as it was."""
    with tempfile.TemporaryDirectory(prefix="bench-reliability-") as folder:
        kept = Path(folder) / "figures.json"
        if figures.exists():
            shutil.move(figures, kept)
        try:
            yield
        finally:
            figures.unlink(missing_ok=True)
            if kept.exists():
                shutil.move(kept, figures)


def run(kills: int = KILLS, report: Path = DOC, malformed: bool = True) -> dict:
    """Run the drills (without the malformed-input catalogue when `malformed` is false), render their figures
    into `report`; what they measured. A report other than docs/RELIABILITY.md (a quick run's) gets only this
    run's figures and leaves the full run's in place."""
    from tests.reliability import report as reliability_report
    from tests.reliability.pipeline import FIGURES

    command = [sys.executable, "-m", "pytest", "-m", "flink", DRILLS, "-p", "no:cacheprovider", "-rfE",
               *([] if malformed else [f"--ignore={MALFORMED}"])]
    print(f"reliability drills: {' '.join(command[1:])} with LABKIT_CRASH_DRILL_KILLS={kills}", flush=True)
    own_figures = figures_set_aside(FIGURES) if report != DOC else contextlib.nullcontext()
    with tempfile.TemporaryDirectory(prefix="bench-drills-") as folder, own_figures:
        junit = Path(folder) / "drills.xml"
        done = subprocess.run([*command, f"--junitxml={junit}"], cwd=ROOT,
                              env={**os.environ, "LABKIT_CRASH_DRILL_KILLS": str(kills)}, stdin=subprocess.DEVNULL)
        failed, passed = failed_drills(junit) if junit.exists() else (["(pytest wrote no report)"], 0)
        if done.returncode or failed or not passed:
            raise DrillsFailed(f"the reliability drills failed (pytest exit code {done.returncode}): "
                               f"{', '.join(failed) or 'no drill passed'}; {report.name} was not rewritten.")
        report.parent.mkdir(parents=True, exist_ok=True)
        if reliability_report.main(report) != 0:
            raise DrillsFailed(f"the drills passed but their figures could not be rendered into {report}")
        figures = json.loads(FIGURES.read_text())
    return {"kills": kills, "malformed_catalogue": malformed, "drills_passed": passed, "report": str(report.relative_to(ROOT)), "figures": figures}
