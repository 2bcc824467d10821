"""The course can be run again: Run All twice on one stack passes, each run judged by what it sent; after
`labkit down` / `labkit up` the notebooks wait for the resumed application; the live pace is watchable."""
from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell

import labkit
from labkit import course
from labkit.config import ALERT_SUBJECT
from labkit.inbox import inbox
from labkit.resources import apps

pytestmark = pytest.mark.flink

EMAIL = "you@example.com"  # notebook 05's default address
FIRST_SIX = [n for n in course.notebooks() if n.name[:2] in ("00", "01", "02", "03", "04", "05")]


def notebook(number: str):
    return next(n for n in course.notebooks() if n.name.startswith(number))


def alerts() -> list[dict]:
    """Notebook 05's anomaly mail (not SNS's subscription confirmation, sent once per new subscription)."""
    return [m for m in inbox(to=EMAIL) if m["subject"] == ALERT_SUBJECT]


def test_notebooks_00_to_05_pass_twice_in_a_row_on_one_stack(stack, tmp_path):
    mails = [len(alerts())]
    for run in (1, 2):
        for path in FIRST_SIX:
            course.execute(path, tmp_path / f"run{run}", course.HEADLESS)  # a failing check raises
        mails.append(len(alerts()))
    assert [after - before for before, after in zip(mails, mails[1:])] == [3, 3], \
        "each run mails its own three anomalies, once"


def anomaly_detection_running(folder) -> None:
    """The course up to a running AnomalyDetection (notebooks 00-02), unless earlier tests left it so."""
    if not apps.exists("AnomalyDetection") or apps.status("AnomalyDetection") != "RUNNING":
        for number in ("00", "01", "02"):
            course.execute(notebook(number), folder, course.HEADLESS)
    assert apps.status("AnomalyDetection") == "RUNNING"


def test_notebook_02_waits_for_the_resumed_application_after_a_restart(stack, tmp_path):
    anomaly_detection_running(tmp_path / "before")
    labkit.down(quiet=True)
    labkit.up(quiet=True)
    course.execute(notebook("02"), tmp_path, course.HEADLESS)
    assert apps.status("AnomalyDetection") == "RUNNING"


def test_live_pace_of_notebook_03_shows_at_least_30_seconds_of_event_time(stack, tmp_path):
    anomaly_detection_running(tmp_path / "before")
    source = nbformat.read(notebook("03"), as_version=4)
    source.cells.append(new_code_cell(  # a probe after the notebook's own cells: how long the plot's data spans
        'sent_ids = set(sent)\nshown = scores[scores["event_id"].isin(sent_ids)]\n'
        'times = pd.to_datetime(shown["event_time"], utc=True, format="ISO8601")\n'
        'print("event-time span s", (times.max() - times.min()).total_seconds())'))
    source.cells.insert(1, new_code_cell("import pandas as pd"))
    copy = tmp_path / notebook("03").name
    nbformat.write(source, copy)
    executed = course.execute(copy, tmp_path / "executed", {**course.HEADLESS, "pace": "live"})
    printed = "".join(o.get("text", "") for c in nbformat.read(executed, as_version=4).cells
                      if c.cell_type == "code" for o in c.get("outputs", []))
    span = float(printed.split("event-time span s", 1)[1].split()[0])
    assert span >= 30, f"the live plot covered only {span:.0f} s of event time"
