"""The DIY notebook's autograder: the student's two pieces of code (the window rule, handle_record) get a hint
naming each mistake before they are deployed, and run in the pipeline once they are; each resource check fails
with a hint while its exercise is undone or done wrong, and passes on the reference solution. (The whole DIY
notebook passing with solution=True, Flink job and all, is test_notebooks.py's run of notebook 06.)"""
from __future__ import annotations

import base64
import io
import json
import zipfile

import nbformat
import pytest
from papermill.exceptions import PapermillExecutionError

import labkit as lab
from labkit import course, diy, results
from labkit.check import CheckFailed
from labkit.config import FLINK_DIR, NAMES
from labkit.diy import deployed, reference
from labkit.errors import BadParameter, ResourceMissing

DIY_NOTEBOOK = next(p for p in course.notebooks() if p.name.startswith("06_"))

# A student's own window rule: right, and not the course's text.
STUDENT_RULE = '''
def add_reading(maximum, speed):
    if maximum is None or speed > maximum:
        return speed
    return maximum
'''
# A student's own handle_record: right, not the course's, and it marks its items (to see it run in Lambda).
STUDENT_RECORD = '''
import math
from datetime import datetime, timezone

from kinesis_batch import MalformedRecord, number


def handle_record(result, arrival_s):
    location = result.get("location")
    if not isinstance(location, str) or not location.strip():
        raise MalformedRecord(f"no location in {result}")
    try:
        speed = float(result.get("max_wind_speed"))
    except (TypeError, ValueError):
        raise MalformedRecord(f"the speed of {result} is not a number")
    if not math.isfinite(speed) or speed < 0:
        raise MalformedRecord(f"{speed} mph is no wind speed")
    arrival = datetime.fromtimestamp(arrival_s, timezone.utc).isoformat(timespec="milliseconds")
    timestamp = result.get("window_end") or arrival.replace("+00:00", "Z")
    return {"location": location, "timestamp": timestamp, "max_wind_speed": number(speed), "written_by": "student"}
'''


def failure(exercise: int) -> str:
    with pytest.raises(CheckFailed) as raised:
        diy.check(exercise)
    return str(raised.value)


# -- the student's code, graded in the kernel (no stack) ----------------------------------------------------

@pytest.fixture
def work(tmp_path, monkeypatch):
    """An empty DIY work folder of this test's own."""
    monkeypatch.setenv("LABKIT_STATE_DIR", str(tmp_path))
    return diy.work_folder()


GLOBAL_RULE = '''
best = None


def add_reading(maximum, speed):
    global best
    best = speed if best is None else max(best, speed)
    return best
'''


@pytest.mark.parametrize("body, problem, hint", [
    ("    ...  # ✎ Exercise 1: your code here", "add_reading(None, 31.57) returned None",
     "write its body below the ✎ line"),
    ("    return max(maximum, speed)", "add_reading(None, 31.57) raised TypeError",
     "comes with maximum=None (nothing counted yet): return its speed"),
    ("    return speed", "add_reading(44.4, 38.2) gave 38.2, not 44.4 (a lower reading)", "leaves it as it is"),
    ("    return speed if maximum is None else min(maximum, speed)",
     "add_reading(31.57, 44.4) gave 31.57, not 44.4 (a higher reading)", "is the new maximum"),
    ("    return speed if maximum is None else (maximum + speed) / 2",
     "add_reading(31.57, 44.4) gave 37.985, not 44.4", "is the new maximum"),
    ("    return round(speed if maximum is None else max(maximum, speed))",
     "add_reading(None, 31.57) gave 32, not 31.57", "do not round it"),
    ("    return str(speed if maximum is None else max(maximum, speed))",
     "add_reading(None, 31.57) returned '31.57', a str", "return the speed as a number"),
])
def test_a_wrong_window_rule_gets_a_hint_naming_its_mistake(work, body, problem, hint):
    (work / "window_max.py").write_text(f"def add_reading(maximum, speed):\n{body}\n")
    message = failure(1)
    assert message.startswith(f"Exercise 1 is not done yet: {problem}"), message
    assert f"\nHint: " in message and hint in message.split("\nHint: ")[1], message


@pytest.mark.parametrize("source, problem, hint", [
    (GLOBAL_RULE, "adding the readings [20.0, 23.5] one by one to an empty window gave 44.4, not 23.5 (the next "
                  "window, on its own)", "keep nothing between calls (no global variable)"),
    ("import numpy\n" + STUDENT_RULE, "window_max.py imports numpy, which Managed Flink's Python does not have",
     "offers the standard library and pyflink"),
    ("def add_reading(maximum, speed)\n    return speed\n", "window_max.py line 1 is not valid Python",
     "fix that line in the cell and run the cell again"),
    ("def highest(maximum, speed):\n    return speed\n", "window_max.py defines no function add_reading",
     "keep the line `def add_reading(...)`"),
    ("LIMIT = 1 / 0\n" + STUDENT_RULE, "window_max.py fails when it is imported: ZeroDivisionError",
     "the code outside the function runs on import"),
])
def test_a_window_rule_file_that_cannot_work_is_named_with_why(work, source, problem, hint):
    (work / "window_max.py").write_text(source)
    message = failure(1)
    assert message.startswith(f"Exercise 1 is not done yet: {problem}") and hint in message, message


def test_a_missing_file_asks_to_run_the_writefile_cell(work):
    message = failure(7)
    assert f"Exercise 7 is not done yet: there is no diy_record.py in {work} yet." in message
    assert "run the exercise's %%writefile cell" in message
    with pytest.raises(BadParameter, match="there is no file .*window_max.py: write it first"):
        lab.apps.create(NAMES.max_speed_app, modules=[work / "window_max.py"])


def test_the_students_file_replaces_the_courses_in_the_functions_zip(work):
    (work / "diy_record.py").write_text(STUDENT_RECORD)
    archive = zipfile.ZipFile(io.BytesIO(lab.functions.package("diy_function.py", [work / "diy_record.py"])))
    assert sorted(archive.namelist()) == ["diy_function.py", "diy_record.py", "kinesis_batch.py"]
    assert archive.read("diy_record.py") == STUDENT_RECORD.encode()


def variant(*replacements: tuple[str, str]) -> str:
    source = STUDENT_RECORD
    for old, new in replacements:
        assert old in source, old
        source = source.replace(old, new)
    return source


SPEED = '"max_wind_speed": number(speed)'
TIMESTAMP = 'result.get("window_end") or arrival.replace("+00:00", "Z")'
PARSE = '''    try:
        speed = float(result.get("max_wind_speed"))
    except (TypeError, ValueError):
        raise MalformedRecord(f"the speed of {result} is not a number")
'''
RANGE = "not math.isfinite(speed) or speed < 0"


@pytest.mark.parametrize("source, problem, hint", [
    (STUDENT_RECORD.split("def ")[0] + "def handle_record(result, arrival_s):\n    ...  # ✎ your code here\n",
     "handle_record returned None for a JSON window result", "write the body below the ✎ line"),
    (variant((SPEED, '"max_wind_speed": str(speed)')),
     "handle_record wrote max_wind_speed as '41.2' for a JSON window result, a string: DynamoDB should get a number",
     "use number(float(...)) from kinesis_batch"),
    (variant((SPEED, '"max_wind_speed": speed')),
     "wrote max_wind_speed as 41.2 for a JSON window result, a float: boto3 refuses floats", "use number(float(...))"),
    (variant((SPEED, '"max_wind_speed": Decimal(speed)'), ("import math", "from decimal import Decimal\nimport math")),
     "Decimal of a float keeps its binary error, and DynamoDB refuses it", "use number(float(...))"),
    (variant((SPEED, '"max_wind_speed": number(int(speed))')),
     "handle_record wrote max_wind_speed 41.0 for a JSON window result, not 41.2", "do not round or cut it"),
    (variant(('"timestamp": timestamp', '"time": timestamp')),
     "the item for a JSON window result has no 'timestamp'", "DIYTable's sort key is timestamp"),
    (variant((TIMESTAMP, 'result["window_end"]')),
     "handle_record raised KeyError: 'window_end' for a CSV line of the original lab",
     "a CSV line names no window"),
    (variant((TIMESTAMP, 'result.get("window_end") or datetime.now(timezone.utc).isoformat()')),
     "handle_record wrote timestamp", "the arrival time arrival_s, written like the windows' ends"),
    (variant(('"location": location', '"location": location.split(",")[0]')),
     "handle_record wrote location 'Harbor Point' for 'Harbor Point, \"East\"'",
     "a comma inside the quotes belongs to the name"),
    (variant((PARSE, '    speed = float(result.get("max_wind_speed"))\n')),
     "handle_record raised TypeError: float() argument must be a string or a real number, not 'NoneType' for a "
     "result without a speed", "Raise MalformedRecord('what is wrong') instead: DIYFunction skips a MalformedRecord"),
    (variant(("not isinstance(location, str) or not location.strip()", "not isinstance(location, str)")),
     "handle_record stored a blank location", "DynamoDB refuses an empty key. Raise MalformedRecord"),
    (variant((RANGE, "not math.isfinite(speed)")), "handle_record stored a negative speed",
     "wind is never below 0 mph"),
    (variant((RANGE, "speed < 0")), "handle_record stored a NaN speed", "math.isfinite(speed) tells"),
    (variant(("from kinesis_batch import MalformedRecord, number",
              "from kinesis_batch import number\n\n\nclass MalformedRecord(ValueError):\n    pass")),
     "handle_record raised a MalformedRecord of its own for a result without a speed",
     "from kinesis_batch import MalformedRecord"),
    (variant(("import math\n", "import math\nimport pandas\n")),
     "diy_record.py imports pandas, which Lambda's python3.11 runtime does not have",
     "offers the standard library, boto3 and kinesis_batch"),
])
def test_a_wrong_handle_record_gets_a_hint_naming_its_mistake(work, source, problem, hint):
    (work / "diy_record.py").write_text(source)
    message = failure(7)
    assert message.startswith("Exercise 7 is not done yet: ") and problem in message.split("\nHint: ")[0], message
    assert hint in message.split("\nHint: ")[1], message


def test_a_students_own_right_code_passes_with_what_was_compared(work, tmp_path, monkeypatch, capsys):
    (work / "window_max.py").write_text(STUDENT_RULE)
    (work / "diy_record.py").write_text(STUDENT_RECORD)
    kept = tmp_path / "checks.jsonl"
    monkeypatch.setenv(results.RESULTS_FILE_VARIABLE, str(kept))
    diy.check(1)
    diy.check(7)
    out = capsys.readouterr().out
    assert "✓ Exercise 1: your add_reading gives the highest speed in all 8 edge cases" in out
    assert "✓ Exercise 7: your handle_record stores the 3 valid window results right and rejects the 8 malformed " \
           "ones with MalformedRecord" in out
    rule, record = (check["figures"][0] for check in results.read(kept))
    assert rule["expected"] == rule["actual"] and rule["actual"]["the same readings in reverse"] == 44.4
    assert record["expected"] == record["actual"] and record["actual"]["a NaN speed"] == "MalformedRecord"
    assert record["actual"]["a CSV line of the original lab"] == "Quarry Hill @ 2026-11-27T10:00:05.250Z: 62.5 mph"


def test_the_reference_code_passes_and_is_what_solve_writes(work, capsys):
    for exercise, filename in reference.CODE.items():
        diy.solve(exercise)
        diy.check(exercise)
        assert (work / filename).read_text() == diy.solution_code(exercise) + "\n"
    assert capsys.readouterr().out.count("✓ Exercise") == 2


def test_every_other_reference_solution_is_one_labkit_call():
    for exercise in reference.CALLS:
        code = diy.solution_code(exercise)
        assert code.startswith("lab.") and code.count("lab.") - code.count("lab.settings()") == 1, code
    assert set(reference.CALLS) | set(reference.CODE) == set(diy.CHECKS)
    with pytest.raises(ValueError, match="exercises 1 to 9"):
        diy.check(10)


# -- the resources, on the local stack -----------------------------------------------------------------------

def remove_diy_pipeline() -> None:
    lab.functions.delete(NAMES.diy_function)
    lab.tables.delete(NAMES.diy_table, quiet=True)
    lab.apps.delete(NAMES.max_speed_app)
    lab.streams.delete(NAMES.max_speed_stream, quiet=True)


@pytest.fixture
def nothing_built(stack):
    """No DIY resource exists, before and after the test (WindDataStream does: the app reads it); the student's
    two files are the reference code."""
    lab.streams.create(NAMES.wind_stream, quiet=True)
    remove_diy_pipeline()
    for exercise in reference.CODE:
        diy.solve(exercise)
    yield diy.work_folder()
    remove_diy_pipeline()


def test_unsolved_notebook_stops_at_exercise_1_with_a_hint(nothing_built, tmp_path):
    with pytest.raises(PapermillExecutionError):
        course.execute(DIY_NOTEBOOK, tmp_path, {"target": "local", "solution": False})
    cells = nbformat.read(tmp_path / DIY_NOTEBOOK.name, as_version=4).cells
    errors = [o for c in cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert [e.ename for e in errors] == ["CheckFailed"]
    assert errors[0].evalue == ("Exercise 1 is not done yet: add_reading(None, 31.57) returned None (an empty window "
                                "gets its first reading).\nHint: add_reading must return the window's highest speed "
                                "so far: write its body below the ✎ line (or is a `return` missing?).")
    failing_cell = next(c for c in cells if any(o.output_type == "error" for o in c.get("outputs", [])))
    assert failing_cell.source == "diy.check(1)"
    assert "...  # ✎ Exercise 1" in (nothing_built / "window_max.py").read_text(), "the cell saved the stub"
    with pytest.raises(ResourceMissing):
        lab.streams.describe(NAMES.max_speed_stream)


@pytest.mark.parametrize("exercise, undone", [
    (2, "there is no Kinesis stream MaxWindSpeed"),
    (3, "there is no Flink application CalculateMaxSpeed"),
    (6, "there is no DynamoDB table DIYTable"),
    (8, "there is no Lambda function DIYFunction"),
])
def test_a_missing_resource_fails_with_a_hint_and_passes_once_solved(nothing_built, capsys, exercise, undone):
    message = failure(exercise)
    assert f"Exercise {exercise} is not done yet: {undone}" in message and "\nHint: " in message
    diy.solve(exercise)
    diy.check(exercise)
    assert f"✓ Exercise {exercise}: " in capsys.readouterr().out


def test_the_application_runs_the_students_window_rule_not_the_courses(nothing_built, capsys):
    (nothing_built / "window_max.py").write_text(STUDENT_RULE)
    lab.apps.create(NAMES.max_speed_app)
    message = failure(3)
    assert ("Exercise 3 is not done yet: CalculateMaxSpeed's code has the course's window rule, not your "
            "window_max.py as it is now.") in message
    assert "lab.apps.create('CalculateMaxSpeed', modules=[work / 'window_max.py'])" in message
    lab.apps.create(NAMES.max_speed_app, modules=[nothing_built / "window_max.py"])
    diy.check(3)
    out = capsys.readouterr().out
    assert "✓ Exercise 3: application CalculateMaxSpeed exists (READY) with your window_max.py beside main.py" in out
    assert deployed.app_file(NAMES.max_speed_app, "window_max.py") == STUDENT_RULE.encode()
    assert deployed.app_file(NAMES.max_speed_app, "main.py") == (FLINK_DIR / "max_wind_speed" / "main.py").read_bytes()
    (nothing_built / "window_max.py").write_text("def add_reading(maximum, speed):\n    return speed\n")
    assert "Exercise 1 is not done yet: add_reading(44.4, 38.2) gave 38.2" in failure(3), "graded before it runs"


def kinesis_event(*payloads: str) -> dict:
    return {"Records": [{"kinesis": {"data": base64.b64encode(data.encode()).decode(), "sequenceNumber": str(n),
                                     "partitionKey": "p", "approximateArrivalTimestamp": 1_795_773_605.25},
                         "eventID": f"shardId-000000000000:{n}"} for n, data in enumerate(payloads, start=1)]}


def test_the_function_runs_the_students_handle_record(nothing_built, capsys):
    (nothing_built / "diy_record.py").write_text(STUDENT_RECORD)
    diy.solve(6)
    lab.functions.deploy(NAMES.diy_function, quiet=True)
    assert ("Exercise 8 is not done yet: DIYFunction's code is not diy_function.py with your diy_record.py as it is "
            "now.") in failure(8)
    lab.functions.deploy(NAMES.diy_function, modules=[nothing_built / "diy_record.py"], quiet=True)
    diy.check(8)
    window = {"location": "North Ridge", "max_wind_speed": 41.5, "window_start": "2026-11-27T10:00:00.000Z",
              "window_end": "2026-11-27T10:00:10.000Z", "count": 60}
    answer = lab.functions.invoke(NAMES.diy_function, kinesis_event(json.dumps(window), '"Quarry Hill, ""East""",62.5'))
    assert answer["ok"] and answer["result"] == {"batchItemFailures": []}, answer
    items = {item["location"]: item for item in lab.tables.items(NAMES.diy_table)}
    assert set(items) == {"North Ridge", 'Quarry Hill, "East"'}
    assert all(item["written_by"] == "student" for item in items.values())
    assert items['Quarry Hill, "East"']["timestamp"] == "2026-11-27T10:00:05.250Z"
    assert items["North Ridge"]["max_wind_speed"] == 41.5 and items["North Ridge"]["timestamp"] == window["window_end"]
    (nothing_built / "diy_record.py").write_text(variant((SPEED, '"max_wind_speed": speed')))
    assert "Exercise 7 is not done yet: handle_record wrote max_wind_speed as 41.2" in failure(8)


def test_properties_left_at_their_defaults_name_the_wrong_ones_and_pass_once_configured(nothing_built, capsys):
    assert "Exercise 4 is not done yet: there is no Flink application" in failure(4)
    diy.solve(3)
    lab.apps.configure(NAMES.max_speed_app, group="lab", outputStreamName=NAMES.anomaly_stream)
    message = failure(4)
    assert "outputStreamName is 'AnomalyDetectionStream'" in message
    assert "windowLengthSeconds is '60'" in message
    assert "outputStreamName=MaxWindSpeed" in message and "windowLengthSeconds=10" in message
    assert "inputStreamName" not in message, "a right value is not called wrong"
    diy.solve(4)
    diy.check(4)
    assert "✓ Exercise 4: CalculateMaxSpeed reads WindDataStream, writes MaxWindSpeed, windows of 10 s" in \
        capsys.readouterr().out


def test_an_application_that_is_not_running_fails_with_how_to_run_it(nothing_built):
    diy.solve(3)
    message = failure(5)
    assert "Exercise 5 is not done yet: CalculateMaxSpeed is READY, not RUNNING." in message
    assert "lab.apps.run(name, from_latest_snapshot=True)" in message


def test_a_table_with_other_keys_fails_with_how_to_recreate_it(nothing_built, capsys):
    lab.tables.create(NAMES.diy_table, partition_key="location", sort_key="window_end", quiet=True)
    message = failure(6)
    assert "DIYTable has the keys ('location', 'window_end'), but DIYFunction writes location + timestamp" in message
    assert "sort_key='timestamp'" in message
    lab.tables.delete(NAMES.diy_table, quiet=True)
    diy.solve(6)
    diy.check(6)
    assert "✓ Exercise 6: table DIYTable" in capsys.readouterr().out


def test_a_trigger_on_the_wrong_stream_is_named_and_the_right_one_passes(nothing_built, capsys):
    diy.solve(8)
    assert "Exercise 9 is not done yet: DIYFunction has no Kinesis trigger on MaxWindSpeed." in failure(9)
    lab.functions.add_trigger(NAMES.diy_function, NAMES.wind_stream, starting_position="LATEST", quiet=True)
    assert "no Kinesis trigger on MaxWindSpeed (it has one on WindDataStream)" in failure(9)
    diy.solve(2)
    diy.solve(9)
    diy.check(9)
    assert "✓ Exercise 9: trigger MaxWindSpeed -> DIYFunction is Enabled" in capsys.readouterr().out


def test_the_results_check_names_the_first_unfinished_exercise(nothing_built):
    diy.solve(2)
    with pytest.raises(CheckFailed, match="Exercise 3 is not done yet"):
        diy.check_results(timeout_s=1)
