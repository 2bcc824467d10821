"""`python -m bench --quick` (`make bench BENCH_ARGS=--quick`): every step runs with its module's QUICK sizes,
smaller than the full run's, and the quick run writes only under build/bench-quick/ (bench/results, BENCHMARKS.md
and docs/RELIABILITY.md stay as they are). Nothing heavy runs here: each step's run() is replaced by one that
checks the sizes it gets and answers with the committed full result."""
from __future__ import annotations

import importlib
import inspect
import json
from datetime import date
from pathlib import Path

import pytest

import bench.__main__ as bench
from bench import common, reliability

WHOLE = {"course_run"}  # the course is the unit: one whole run in both modes, so no smaller size
MEASURED_BY_SAVE = ("measured_at", "machine", "load_average_1_5_15_min", "quick")


def _module(name: str):
    return importlib.import_module(f"bench.{name}")


def _size(value):
    """A number as it is; a (start, end) period of ISO dates as its days."""
    if isinstance(value, tuple):
        start, end = (date.fromisoformat(day) for day in value)
        return (end - start).days
    return value


@pytest.mark.parametrize("name", bench.STEPS)
def test_every_step_takes_its_quick_sizes_as_arguments_of_run(name):
    module = _module(name)
    inspect.signature(module.run).bind(**module.QUICK)  # TypeError names a size run() does not take
    assert module.QUICK or name in WHOLE, f"bench/{name}.py has no QUICK sizes"


@pytest.mark.parametrize("name", bench.STEPS)
def test_quick_sizes_are_smaller_than_the_full_runs(name):
    module = _module(name)
    full = {key: parameter.default for key, parameter in inspect.signature(module.run).parameters.items()}
    bigger = {key: (quick, full[key]) for key, quick in module.QUICK.items() if not _size(quick) < _size(full[key])}
    assert not bigger, f"bench/{name}.py: quick sizes not smaller than the full run's (quick, full): {bigger}"


@pytest.fixture
def fake_steps(monkeypatch, tmp_path):
    """Every step's run() answers at once with the committed full result (the drills: the report they render);
    bench's folders point into tmp_path. Returns the sizes each step was run with."""
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    monkeypatch.setattr(bench, "RESULTS", tmp_path / "bench" / "results")
    monkeypatch.setattr(bench, "QUICK_DIR", tmp_path / "build" / "bench-quick")
    calls: dict[str, dict] = {}
    for name in bench.STEPS:
        module = _module(name)

        def run(_name=name, _signature=inspect.signature(module.run), **sizes):
            _signature.bind(**sizes)
            calls[_name] = sizes
            if _name == "reliability":
                Path(sizes["report"]).write_text("# Reliability\n")
                return {"kills": sizes["kills"], "drills_passed": 1}
            committed = json.loads((common.RESULTS / f"{_name}.json").read_text())
            return {key: value for key, value in committed.items() if key not in MEASURED_BY_SAVE}

        monkeypatch.setattr(module, "run", run)
        if hasattr(module, "prepare"):
            monkeypatch.setattr(module, "prepare", lambda: None)
    return calls


def test_a_quick_run_writes_only_under_build_bench_quick_and_marks_every_result_quick(fake_steps, tmp_path):
    assert bench.main(["--quick"]) == 0

    written = sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*") if path.is_file())
    quick_dir = "build/bench-quick/"
    assert written and all(path.startswith(quick_dir) for path in written), written
    assert {name: {k: v for k, v in sizes.items() if k != "report"} for name, sizes in fake_steps.items()} == \
        {name: _module(name).QUICK for name in bench.STEPS}
    results = {path.stem: json.loads(path.read_text()) for path in (tmp_path / quick_dir / "results").glob("*.json")}
    assert set(results) == set(bench.STEPS) and all(result["quick"] is True for result in results.values())
    report = (tmp_path / quick_dir / "BENCHMARKS.md").read_text()
    assert "Not measured yet" not in report and report.count("A quick run") == len(bench.BENCHMARKS)
    assert (tmp_path / quick_dir / "RELIABILITY.md").is_file()


def test_a_full_run_writes_bench_results_and_benchmarks_md_unmarked(fake_steps, tmp_path):
    assert bench.main(["stack_startup"]) == 0

    assert json.loads((tmp_path / "bench" / "results" / "stack_startup.json").read_text())["quick"] is False
    assert "A quick run" not in (tmp_path / "BENCHMARKS.md").read_text()
    assert fake_steps == {"stack_startup": {}}  # the full sizes: run()'s defaults
    assert not (tmp_path / "build").exists()


def test_failed_drills_fail_the_run_by_name_and_the_other_steps_still_run(fake_steps, monkeypatch, capsys):
    def drills_fail(**sizes):
        raise reliability.DrillsFailed("the reliability drills failed: tests/reliability/test_crash_drill.py::"
                                       "test_acknowledged_records_survive_kill_9")

    monkeypatch.setattr(reliability, "run", drills_fail)
    assert bench.main(["--quick", "reliability", "stack_startup"]) == 1
    assert "stack_startup" in fake_steps
    assert "FAILED: reliability: the reliability drills failed: tests/reliability/test_crash_drill.py::" \
           "test_acknowledged_records_survive_kill_9" in capsys.readouterr().err


def test_the_drills_outcome_is_read_from_pytests_report(tmp_path):
    junit = tmp_path / "drills.xml"
    junit.write_text(
        '<testsuites><testsuite>'
        '<testcase classname="tests.reliability.test_crash_drill" name="test_kills"><failure message="lost"/></testcase>'
        '<testcase classname="tests.reliability.test_flink_failure" name="test_restores"/>'
        '<testcase classname="tests.reliability.test_stack_restart" name="test_skip"><skipped/></testcase>'
        '</testsuite></testsuites>')
    assert reliability.failed_drills(junit) == (["tests/reliability/test_crash_drill.py::test_kills"], 1)


def test_a_quick_drills_run_leaves_the_full_runs_figures_as_they_were(tmp_path):
    figures = tmp_path / "figures.json"
    figures.write_text('{"crash": "full run"}')
    with reliability.figures_set_aside(figures):
        assert not figures.exists()
        figures.write_text('{"crash": "quick run"}')
    assert figures.read_text() == '{"crash": "full run"}'
