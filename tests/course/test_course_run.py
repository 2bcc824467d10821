"""`make lab` runs the course on a private, fresh local stack and leaves nothing behind: not the stack, not one
of its processes, not its state folder, also when a notebook fails or the run is interrupted; the test
session's own stack (like a student's) is never touched."""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
import psutil
import pytest
from bs4 import BeautifulSoup
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import labkit
from labkit import course
from tests.conftest import _stack_family

SETUP = 'import labkit as lab\nlab.use_target(target)\nlab.up(quiet=True)\nlab.check.stack_is_healthy()'
SIMULATE = 'lab.streams.create("WindDataStream", quiet=True)\nlab.simulate.start("WindDataStream", "wind", rate=5)'
STACK_VARIABLES = ("LABKIT_TARGET", "LABKIT_STATE_DIR", "LABKIT_AWS_PORT", "LABKIT_SERVICE_PORT",
                   "LABKIT_FLINK_PORT")


def fake_notebook(path: Path, title: str, *cells: str) -> None:
    nbformat.write(new_notebook(cells=[
        new_markdown_cell(f"# {title}"),
        new_code_cell('target = "local"', metadata={"tags": ["parameters"]}),
        *(new_code_cell(source) for source in cells),
    ], metadata={"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}), path)


@pytest.fixture
def fake_course(tmp_path) -> Path:
    """Three notebooks: the first starts the simulator (a child process of the stack), the second fails on
    purpose, so the third never runs."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    fake_notebook(folder / "00_setup.ipynb", "Setup", SETUP, SIMULATE)
    fake_notebook(folder / "01_breaks.ipynb", "Breaks", SETUP, 'raise RuntimeError("the turbine fell over")')
    fake_notebook(folder / "02_never.ipynb", "Never runs", SETUP)
    return folder


def watch(monkeypatch, interrupt: bool = False) -> dict:
    """Around each notebook the run executes, note the settings it runs with and every process of its stack;
    with `interrupt`, the first notebook stops the run as Ctrl-C would."""
    seen = {"settings": [], "family": []}
    execute = course.execute

    def note() -> None:
        seen["settings"].append(labkit.settings())
        seen["family"] += _stack_family(labkit.status())

    def watching(*args, **kwargs):
        note()
        if interrupt:
            raise KeyboardInterrupt
        try:
            return execute(*args, **kwargs)
        finally:
            note()

    monkeypatch.setattr(course, "execute", watching)
    return seen


def stack_variables() -> dict:
    return {name: os.environ.get(name) for name in STACK_VARIABLES}


def assert_left_nothing(seen: dict, shared: dict) -> None:
    private, own = seen["settings"][0], labkit.settings()
    assert private.state_dir != own.state_dir and not private.state_dir.exists()
    assert {private.aws_port, private.service_port, private.flink_port}.isdisjoint(
        {4566, 4567, 8081, own.aws_port, own.service_port, own.flink_port})
    left = [p for p in seen["family"] if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, f"the course run left processes running: {[' '.join(p.cmdline()[:4]) for p in left]}"
    assert stack_variables() == shared
    assert labkit.status()["running"], "the test session's own stack still runs"


def test_a_failing_notebook_stops_the_run_and_its_private_stack_and_the_preview_names_it(
        stack, fake_course, tmp_path, monkeypatch):
    shared, seen = stack_variables(), watch(monkeypatch)

    index, results = course.run(build=tmp_path / "build", course=fake_course)

    assert [r.notebook.name for r in results] == ["00_setup.ipynb", "01_breaks.ipynb"]
    assert results[0].error == "" and [c["check"] for c in results[0].recorded] == ["stack_is_healthy"]
    assert "RuntimeError: the turbine fell over" in results[1].error
    assert len({p.pid for p in seen["family"]}) >= 2, "the stack and the simulator it started were watched"
    assert_left_nothing(seen, shared)
    sections = BeautifulSoup(index.read_text(), "html.parser").select("section.notebook")
    assert [s.h2.get_text() for s in sections] == ["00_setup · Setup", "01_breaks · Breaks"]
    assert "RuntimeError: the turbine fell over" in sections[1].get_text()
    assert "local stack running" in sections[0].select_one("table.checks").get_text()


def test_an_interrupted_run_still_stops_its_private_stack(stack, fake_course, tmp_path, monkeypatch):
    shared, seen = stack_variables(), watch(monkeypatch, interrupt=True)

    with pytest.raises(KeyboardInterrupt):
        course.run(build=tmp_path / "build", course=fake_course)

    assert seen["family"], "the run's stack was running when the run was interrupted"
    assert_left_nothing(seen, shared)
