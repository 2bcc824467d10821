"""The DIY notebook's autograder: each check fails with a hint while its exercise is undone or done wrong,
and passes on the reference solution. (The whole DIY notebook passing with solution=True, Flink job and
all, is test_notebooks.py's run of notebook 06.)"""
from __future__ import annotations

import nbformat
import pytest
from papermill.exceptions import PapermillExecutionError

import labkit as lab
from labkit import course, diy
from labkit.check import CheckFailed
from labkit.config import NAMES
from labkit.errors import ResourceMissing

DIY_NOTEBOOK = next(p for p in course.notebooks() if p.name.startswith("06_"))


def remove_diy_pipeline() -> None:
    lab.functions.delete(NAMES.diy_function)
    lab.tables.delete(NAMES.diy_table, quiet=True)
    lab.apps.delete(NAMES.max_speed_app)
    lab.streams.delete(NAMES.max_speed_stream, quiet=True)


@pytest.fixture
def nothing_built(stack):
    """No DIY resource exists, before and after the test (WindDataStream does: the app reads it)."""
    lab.streams.create(NAMES.wind_stream, quiet=True)
    remove_diy_pipeline()
    yield
    remove_diy_pipeline()


def failure(exercise: int) -> str:
    with pytest.raises(CheckFailed) as raised:
        diy.check(exercise)
    return str(raised.value)


def test_unsolved_notebook_stops_at_exercise_1_with_a_hint(nothing_built, tmp_path):
    with pytest.raises(PapermillExecutionError):
        course.execute(DIY_NOTEBOOK, tmp_path, {"target": "local", "solution": False})
    cells = nbformat.read(tmp_path / DIY_NOTEBOOK.name, as_version=4).cells
    errors = [o for c in cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert [e.ename for e in errors] == ["CheckFailed"]
    assert "Exercise 1 is not done yet: there is no Kinesis stream MaxWindSpeed." in errors[0].evalue
    assert "Hint: notebook 01, step 1 created WindDataStream" in errors[0].evalue
    failing_cell = next(c for c in cells if any(o.output_type == "error" for o in c.get("outputs", [])))
    assert failing_cell.source == "diy.check(1)"
    with pytest.raises(ResourceMissing):
        lab.streams.describe(NAMES.max_speed_stream)


@pytest.mark.parametrize("exercise, undone", [
    (1, "there is no Kinesis stream MaxWindSpeed"),
    (2, "there is no Flink application CalculateMaxSpeed"),
    (5, "there is no DynamoDB table DIYTable"),
    (6, "there is no Lambda function DIYFunction"),
])
def test_a_missing_resource_fails_with_a_hint_and_passes_once_solved(nothing_built, capsys, exercise, undone):
    message = failure(exercise)
    assert f"Exercise {exercise} is not done yet: {undone}" in message and "\nHint: " in message
    diy.solve(exercise)
    diy.check(exercise)
    assert f"✓ Exercise {exercise}: " in capsys.readouterr().out


def test_properties_left_at_their_defaults_name_the_wrong_ones_and_pass_once_configured(nothing_built, capsys):
    assert "Exercise 3 is not done yet: there is no Flink application" in failure(3)
    lab.apps.create(NAMES.max_speed_app)
    lab.apps.configure(NAMES.max_speed_app, group="lab", outputStreamName=NAMES.anomaly_stream)
    message = failure(3)
    assert "outputStreamName is 'AnomalyDetectionStream'" in message
    assert "windowLengthSeconds is '60'" in message
    assert "outputStreamName=MaxWindSpeed" in message and "windowLengthSeconds=10" in message
    assert "inputStreamName" not in message, "a right value is not called wrong"
    diy.solve(3)
    diy.check(3)
    assert "✓ Exercise 3: CalculateMaxSpeed reads WindDataStream, writes MaxWindSpeed, windows of 10 s" in \
        capsys.readouterr().out


def test_an_application_that_is_not_running_fails_with_how_to_run_it(nothing_built):
    lab.apps.create(NAMES.max_speed_app)
    message = failure(4)
    assert "Exercise 4 is not done yet: CalculateMaxSpeed is READY, not RUNNING." in message
    assert "lab.apps.run(name, from_latest_snapshot=True)" in message


def test_a_table_with_other_keys_fails_with_how_to_recreate_it(nothing_built, capsys):
    lab.tables.create(NAMES.diy_table, partition_key="location", sort_key="window_end", quiet=True)
    message = failure(5)
    assert "DIYTable has the keys ('location', 'window_end'), but DIYFunction writes location + timestamp" in message
    assert "sort_key='timestamp'" in message
    lab.tables.delete(NAMES.diy_table, quiet=True)
    diy.solve(5)
    diy.check(5)
    assert "✓ Exercise 5: table DIYTable" in capsys.readouterr().out


def test_a_trigger_on_the_wrong_stream_is_named_and_the_right_one_passes(nothing_built, capsys):
    diy.solve(6)
    assert "Exercise 7 is not done yet: DIYFunction has no Kinesis trigger on MaxWindSpeed." in failure(7)
    lab.functions.add_trigger(NAMES.diy_function, NAMES.wind_stream, starting_position="LATEST", quiet=True)
    assert "no Kinesis trigger on MaxWindSpeed (it has one on WindDataStream)" in failure(7)
    diy.solve(1)
    diy.solve(7)
    diy.check(7)
    assert "✓ Exercise 7: trigger MaxWindSpeed -> DIYFunction is Enabled" in capsys.readouterr().out


def test_the_results_check_names_the_first_unfinished_exercise(nothing_built):
    diy.solve(1)
    with pytest.raises(CheckFailed, match="Exercise 2 is not done yet"):
        diy.check_results(timeout_s=1)


def test_every_reference_solution_is_one_labkit_call():
    for exercise in diy.SOLUTIONS:
        code = diy.solution_code(exercise)
        assert code.startswith("lab.") and code.count("lab.") - code.count("lab.settings()") == 1, code
    with pytest.raises(ValueError, match="exercises 1 to 7"):
        diy.check(8)
