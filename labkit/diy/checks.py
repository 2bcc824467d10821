"""The autograder check of each DIY exercise: ✓, or CheckFailed naming the exercise, what is missing or wrong,
and a hint. Exercises 1 and 7 are code (graded on edge cases in this kernel); the others are one labkit call
each, checked on the resources they made; exercises 3 and 8 also check the code deployed is the student's."""
from __future__ import annotations

import contextlib
from typing import Callable

from ..check import CheckFailed, _quietly, passed
from ..config import DIY_WINDOW_S, NAMES, settings
from ..errors import ResourceMissing, WaitTimedOut
from ..progress import wait_until
from ..resources import apps, functions, streams, tables
from . import deployed, record_rule, window_rule
from .grading import Mistake
from .work import RECORD_RULE, REFERENCE, WINDOW_RULE, work_folder

WINDOW_SECONDS = str(DIY_WINDOW_S)  # exercise 4's windowLengthSeconds, as the runtime property holds it


def _not_done(exercise: int, problem: str, hint: str) -> CheckFailed:
    return CheckFailed(f"Exercise {exercise} is not done yet: {problem}\nHint: {hint}")


def _graded(exercise: int, grade: Callable, filename: str) -> dict:
    """The figure of the student's file passing its edge cases; CheckFailed with the first mistake."""
    try:
        return grade(work_folder() / filename)
    except Mistake as mistake:
        raise _not_done(exercise, mistake.problem, mistake.hint) from None


def window_rule_is_right() -> None:
    """Exercise 1: the student's add_reading gives the right maximum in every edge case."""
    compared = _graded(1, window_rule.grade, WINDOW_RULE)
    passed(f"Exercise 1: your add_reading gives the highest speed in all {len(compared['expected'])} edge cases",
           compared)


def stream_is_active() -> None:
    """Exercise 2: the stream MaxWindSpeed is ACTIVE."""
    try:
        stream = streams.describe(NAMES.max_speed_stream)
    except ResourceMissing:
        raise _not_done(2, f"there is no Kinesis stream {NAMES.max_speed_stream}.",
                        "notebook 01, step 1 created WindDataStream with one call to lab.streams; create "
                        f"{NAMES.max_speed_stream} the same way, with 1 shard (the name is case-sensitive).") from None
    if stream["status"] not in ("ACTIVE", "UPDATING"):
        raise _not_done(2, f"{NAMES.max_speed_stream} is {stream['status']}.", "wait a few seconds and check again.")
    passed(f"Exercise 2: stream {NAMES.max_speed_stream} is ACTIVE")


def _app_must_exist(exercise: int) -> dict:
    try:
        return apps.describe(NAMES.max_speed_app)
    except ResourceMissing:
        hint = ("notebook 02, step 2 created AnomalyDetection with lab.apps.create; create "
                f"{NAMES.max_speed_app} the same way, with modules=[work / {WINDOW_RULE!r}]: your window rule goes "
                "into its zip beside main.py.") if exercise == 3 else "do exercise 3 first."
        raise _not_done(exercise, f"there is no Flink application {NAMES.max_speed_app}.", hint) from None


def app_has_your_window_rule() -> None:
    """Exercise 3: CalculateMaxSpeed exists, and its code zip holds the student's window_max.py as it is now."""
    app = _app_must_exist(3)
    _graded(1, window_rule.grade, WINDOW_RULE)
    mine, running = (work_folder() / WINDOW_RULE).read_bytes(), deployed.app_file(NAMES.max_speed_app, WINDOW_RULE)
    if running != mine:
        whose = ("the course's window rule" if running == REFERENCE[WINDOW_RULE].read_bytes()
                 else f"another version of {WINDOW_RULE}")
        raise _not_done(3, f"{NAMES.max_speed_app}'s code has {whose}, not your {WINDOW_RULE} as it is now.",
                        f"create it again with your file: lab.apps.create({NAMES.max_speed_app!r}, "
                        f"modules=[work / {WINDOW_RULE!r}]) (an existing application takes the new code).")
    passed(f"Exercise 3: application {NAMES.max_speed_app} exists ({app['ApplicationStatus']}) with your "
           f"{WINDOW_RULE} beside main.py")


def app_is_configured() -> None:
    """Exercise 4: the 'lab' property group names the streams, the region and windows of DIY_WINDOW_S."""
    _app_must_exist(4)
    group = apps.properties(NAMES.max_speed_app).get("lab")
    if group is None:
        raise _not_done(4, f"{NAMES.max_speed_app} has no runtime property group 'lab'.",
                        "lab.apps.configure(name, group='lab', key=value, ...) adds it (notebook 02, step 3).")
    expected = {"inputStreamName": NAMES.wind_stream, "outputStreamName": NAMES.max_speed_stream,
                "region": settings().region, "windowLengthSeconds": WINDOW_SECONDS}
    wrong = {key: value for key, value in expected.items() if group.get(key) != value}
    if wrong:
        details = "; ".join(f"{key} is {group.get(key)!r}" for key in wrong)
        hints = {
            "inputStreamName": f"the app reads the wind readings: inputStreamName={NAMES.wind_stream}",
            "outputStreamName": f"the results go to the stream of exercise 2: "
                                f"outputStreamName={NAMES.max_speed_stream}",
            "region": f"region={settings().region}, where your streams are (lab.settings().region)",
            "windowLengthSeconds": f"one window every {WINDOW_SECONDS} seconds: windowLengthSeconds={WINDOW_SECONDS}",
        }
        raise _not_done(4, f"in the 'lab' group {details}.", "; ".join(hints[key] for key in wrong) + ".")
    passed(f"Exercise 4: {NAMES.max_speed_app} reads {NAMES.wind_stream}, writes {NAMES.max_speed_stream}, "
           f"windows of {WINDOW_SECONDS} s")


def app_is_running() -> None:
    """Exercise 5: CalculateMaxSpeed is RUNNING (waits while it starts)."""
    _app_must_exist(5)
    state = apps.status(NAMES.max_speed_app)
    if state == "STARTING":
        with contextlib.suppress(WaitTimedOut):
            wait_until(lambda: apps.status(NAMES.max_speed_app) != "STARTING", apps.START_TIMEOUT_S,
                       f"{NAMES.max_speed_app} to start")
        state = apps.status(NAMES.max_speed_app)
    if state != "RUNNING":
        raise _not_done(5, f"{NAMES.max_speed_app} is {state}, not RUNNING.",
                        "lab.apps.run(name, from_latest_snapshot=True) is the console's Run (notebook 02, step 4); "
                        f"if it stops again, lab.apps.logs({NAMES.max_speed_app!r}) says why.")
    passed(f"Exercise 5: {NAMES.max_speed_app} is RUNNING")


def table_has_its_keys() -> None:
    """Exercise 6: DIYTable exists with partition key location and sort key timestamp."""
    try:
        table = tables.describe(NAMES.diy_table)
    except ResourceMissing:
        raise _not_done(6, f"there is no DynamoDB table {NAMES.diy_table}.",
                        "notebook 04, step 1 created WindDataTable with lab.tables.create; DIYTable needs partition "
                        "key location and sort key timestamp (one item per location and window).") from None
    keys = (table["partition_key"], table["sort_key"])
    if keys != ("location", "timestamp"):
        raise _not_done(6, f"{NAMES.diy_table} has the keys {keys}, but DIYFunction writes location + timestamp.",
                        f"delete it (lab.tables.delete({NAMES.diy_table!r})) and create it with "
                        "partition_key='location', sort_key='timestamp'.")
    passed(f"Exercise 6: table {NAMES.diy_table} is {table['status']} (location + timestamp)")


def handle_record_is_right() -> None:
    """Exercise 7: the student's handle_record stores valid results right and rejects malformed ones."""
    compared = _graded(7, record_rule.grade, RECORD_RULE)
    passed(f"Exercise 7: your handle_record stores the {len(record_rule.STORED)} valid window results right and "
           f"rejects the {len(record_rule.REJECTED)} malformed ones with MalformedRecord", compared)


def function_runs_your_handle_record() -> None:
    """Exercise 8: DIYFunction writes to DIYTable and runs the student's diy_record.py as it is now."""
    try:
        function = functions.describe(NAMES.diy_function)
    except ResourceMissing:
        raise _not_done(8, f"there is no Lambda function {NAMES.diy_function}.",
                        "notebook 04, step 2 deployed AnalyticsDestinationFunction with lab.functions.deploy; deploy "
                        f"{NAMES.diy_function} the same way, with modules=[work / {RECORD_RULE!r}]: your "
                        "handle_record goes into its zip beside diy_function.py.") from None
    table = function["environment"].get("OUTPUT_TABLE_NAME")
    if table != NAMES.diy_table:
        raise _not_done(8, f"{NAMES.diy_function} writes to {table!r}, not {NAMES.diy_table}.",
                        f"deploy it again with environment={{'OUTPUT_TABLE_NAME': {NAMES.diy_table!r}}}.")
    _graded(7, record_rule.grade, RECORD_RULE)
    handler = functions.LAB_FUNCTIONS[NAMES.diy_function].handler_file
    if not deployed.function_runs(NAMES.diy_function, handler, [work_folder() / RECORD_RULE]):
        raise _not_done(8, f"{NAMES.diy_function}'s code is not {handler} with your {RECORD_RULE} as it is now.",
                        f"deploy it again with your file: lab.functions.deploy({NAMES.diy_function!r}, "
                        f"modules=[work / {RECORD_RULE!r}]).")
    passed(f"Exercise 8: function {NAMES.diy_function} is {function['state']}, runs your handle_record and writes "
           f"to {NAMES.diy_table}")


def trigger_is_enabled() -> None:
    """Exercise 9: DIYFunction has an enabled Kinesis trigger on MaxWindSpeed."""
    try:
        found = functions.triggers(NAMES.diy_function)
    except ResourceMissing:
        raise _not_done(9, f"there is no Lambda function {NAMES.diy_function}.", "do exercise 8 first.") from None
    mine = [t for t in found if t["stream"] == NAMES.max_speed_stream]
    if not mine:
        elsewhere = f" (it has one on {', '.join(t['stream'] for t in found)})" if found else ""
        raise _not_done(9, f"{NAMES.diy_function} has no Kinesis trigger on {NAMES.max_speed_stream}{elsewhere}.",
                        "lab.functions.add_trigger(function, stream) is the console's Add trigger > Kinesis "
                        "(notebook 04, step 3); the function reads the app's results, so the stream is "
                        f"{NAMES.max_speed_stream}.")
    if mine[0]["state"] != "Enabled":
        raise _not_done(9, f"the trigger is {mine[0]['state']}.", "add it again: that enables it.")
    passed(f"Exercise 9: trigger {NAMES.max_speed_stream} -> {NAMES.diy_function} is Enabled")


CHECKS: dict[int, Callable[[], None]] = {
    1: window_rule_is_right, 2: stream_is_active, 3: app_has_your_window_rule, 4: app_is_configured,
    5: app_is_running, 6: table_has_its_keys, 7: handle_record_is_right, 8: function_runs_your_handle_record,
    9: trigger_is_enabled,
}


def exercise_number(exercise: int) -> int:
    """`exercise`, if the DIY notebook has it; ValueError naming the range otherwise."""
    if exercise not in CHECKS:
        raise ValueError(f"there is no exercise {exercise!r}: the DIY notebook has exercises 1 to {len(CHECKS)}.")
    return exercise


def check(exercise: int) -> None:
    """The autograder check of `exercise`: ✓, or CheckFailed with what is missing or wrong and a hint."""
    CHECKS[exercise_number(exercise)]()


def first_unfinished() -> None:
    """CheckFailed of the first exercise not done (the checks that pass print and record nothing)."""
    for exercise in CHECKS:
        _quietly(CHECKS[exercise])
