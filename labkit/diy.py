"""The DIY exercise (notebook 06): build CalculateMaxSpeed -> MaxWindSpeed -> DIYFunction -> DIYTable yourself.

Each exercise has an autograder check that prints ✓, or raises CheckFailed naming the exercise, what is
missing or wrong, and a hint; and a reference solution (one labkit call, as the console action it stands for)
that the headless run uses:

    diy.check(1)        # Exercise 1 · the stream MaxWindSpeed
    diy.solve(1)        # run (and show) the reference solution of exercise 1
"""
from __future__ import annotations

import contextlib
import inspect
import io
import textwrap
from typing import Callable

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd

import labkit as lab

from .check import CheckFailed, passed
from .config import NAMES, settings
from .errors import ResourceMissing, WaitTimedOut
from .progress import wait_until
from .resources import apps, functions, streams, tables

WINDOW_SECONDS = "10"  # exercise 3: a window every 10 s, so results arrive while you watch
RESULTS_TIMEOUT_S = 300


def _expected_properties() -> dict[str, str]:
    return {"inputStreamName": NAMES.wind_stream, "outputStreamName": NAMES.max_speed_stream,
            "region": settings().region, "windowLengthSeconds": WINDOW_SECONDS}


# -- reference solutions: one labkit call each --------------------------------------------------------------

def _solution_1():
    return lab.streams.create("MaxWindSpeed", shards=1)


def _solution_2():
    return lab.apps.create("CalculateMaxSpeed")


def _solution_3():
    return lab.apps.configure(
        "CalculateMaxSpeed", group="lab", inputStreamName="WindDataStream", outputStreamName="MaxWindSpeed",
        region=lab.settings().region, windowLengthSeconds=10)


def _solution_4():
    return lab.apps.run("CalculateMaxSpeed", from_latest_snapshot=True)


def _solution_5():
    return lab.tables.create("DIYTable", partition_key="location", sort_key="timestamp")


def _solution_6():
    return lab.functions.deploy("DIYFunction")


def _solution_7():
    return lab.functions.add_trigger("DIYFunction", "MaxWindSpeed", batch_size=100, starting_position="TRIM_HORIZON")


SOLUTIONS: dict[int, Callable] = {1: _solution_1, 2: _solution_2, 3: _solution_3, 4: _solution_4, 5: _solution_5,
                                  6: _solution_6, 7: _solution_7}


def solution_code(exercise: int) -> str:
    """The reference solution of `exercise`, as code."""
    source = inspect.getsource(SOLUTIONS[_number(exercise)])
    return textwrap.dedent(source.split("\n", 1)[1]).strip().removeprefix("return ")


def solve(exercise: int):
    """Run the reference solution of `exercise` (the headless run does, with solution=True) and show its code."""
    print(f"reference solution of exercise {exercise}:\n{textwrap.indent(solution_code(exercise), '    ')}")
    return SOLUTIONS[_number(exercise)]()


def _number(exercise: int) -> int:
    if exercise not in SOLUTIONS:
        raise ValueError(f"there is no exercise {exercise!r}: the DIY notebook has exercises 1 to {len(SOLUTIONS)}.")
    return exercise


# -- autograder checks -------------------------------------------------------------------------------------

def _not_done(exercise: int, problem: str, hint: str) -> CheckFailed:
    return CheckFailed(f"Exercise {exercise} is not done yet: {problem}\nHint: {hint}")


def _check_1() -> None:
    try:
        stream = streams.describe(NAMES.max_speed_stream)
    except ResourceMissing:
        raise _not_done(1, f"there is no Kinesis stream {NAMES.max_speed_stream}.",
                        "notebook 01, step 1 created WindDataStream with one call to lab.streams; create "
                        f"{NAMES.max_speed_stream} the same way, with 1 shard (the name is case-sensitive).") from None
    if stream["status"] not in ("ACTIVE", "UPDATING"):
        raise _not_done(1, f"{NAMES.max_speed_stream} is {stream['status']}.", "wait a few seconds and check again.")
    passed(f"Exercise 1: stream {NAMES.max_speed_stream} is ACTIVE")


def _check_2() -> None:
    try:
        app = apps.describe(NAMES.max_speed_app)
    except ResourceMissing:
        raise _not_done(2, f"there is no Flink application {NAMES.max_speed_app}.",
                        "notebook 02, step 2 created AnomalyDetection with lab.apps.create; the max-speed code is "
                        f"the application named {NAMES.max_speed_app}.") from None
    passed(f"Exercise 2: application {NAMES.max_speed_app} exists ({app['ApplicationStatus']})")


def _app_must_exist(exercise: int) -> None:
    try:
        apps.describe(NAMES.max_speed_app)
    except ResourceMissing:
        raise _not_done(exercise, f"there is no Flink application {NAMES.max_speed_app}.",
                        "do exercise 2 first.") from None


def _check_3() -> None:
    _app_must_exist(3)
    group = apps.properties(NAMES.max_speed_app).get("lab")
    if group is None:
        raise _not_done(3, f"{NAMES.max_speed_app} has no runtime property group 'lab'.",
                        "lab.apps.configure(name, group='lab', key=value, ...) adds it (notebook 02, step 3).")
    wrong = {key: value for key, value in _expected_properties().items() if group.get(key) != value}
    if wrong:
        details = "; ".join(f"{key} is {group.get(key)!r}" for key in wrong)
        hints = {
            "inputStreamName": f"the app reads the wind readings: inputStreamName={NAMES.wind_stream}",
            "outputStreamName": f"the results go to the stream of exercise 1: "
                                f"outputStreamName={NAMES.max_speed_stream}",
            "region": f"region={settings().region}, where your streams are (lab.settings().region)",
            "windowLengthSeconds": f"one window every {WINDOW_SECONDS} seconds: windowLengthSeconds={WINDOW_SECONDS}",
        }
        raise _not_done(3, f"in the 'lab' group {details}.", "; ".join(hints[key] for key in wrong) + ".")
    passed(f"Exercise 3: {NAMES.max_speed_app} reads {NAMES.wind_stream}, writes {NAMES.max_speed_stream}, "
           f"windows of {WINDOW_SECONDS} s")


def _check_4() -> None:
    _app_must_exist(4)
    state = apps.status(NAMES.max_speed_app)
    if state == "STARTING":
        try:
            wait_until(lambda: apps.status(NAMES.max_speed_app) != "STARTING", apps.START_TIMEOUT_S,
                       f"{NAMES.max_speed_app} to start")
        except WaitTimedOut:
            pass
        state = apps.status(NAMES.max_speed_app)
    if state != "RUNNING":
        raise _not_done(4, f"{NAMES.max_speed_app} is {state}, not RUNNING.",
                        "lab.apps.run(name, from_latest_snapshot=True) is the console's Run (notebook 02, step 4); "
                        f"if it stops again, lab.apps.logs({NAMES.max_speed_app!r}) says why.")
    passed(f"Exercise 4: {NAMES.max_speed_app} is RUNNING")


def _check_5() -> None:
    try:
        table = tables.describe(NAMES.diy_table)
    except ResourceMissing:
        raise _not_done(5, f"there is no DynamoDB table {NAMES.diy_table}.",
                        "notebook 04, step 1 created WindDataTable with lab.tables.create; DIYTable needs partition "
                        "key location and sort key timestamp (one item per location and window).") from None
    keys = (table["partition_key"], table["sort_key"])
    if keys != ("location", "timestamp"):
        raise _not_done(5, f"{NAMES.diy_table} has the keys {keys}, but DIYFunction writes location + timestamp.",
                        f"delete it (lab.tables.delete({NAMES.diy_table!r})) and create it with "
                        "partition_key='location', sort_key='timestamp'.")
    passed(f"Exercise 5: table {NAMES.diy_table} is {table['status']} (location + timestamp)")


def _check_6() -> None:
    try:
        function = functions.describe(NAMES.diy_function)
    except ResourceMissing:
        raise _not_done(6, f"there is no Lambda function {NAMES.diy_function}.",
                        "notebook 04, step 2 deployed AnalyticsDestinationFunction with lab.functions.deploy; "
                        f"deploy {NAMES.diy_function} the same way (its code is lambdas/diy_function.py).") from None
    table = function["environment"].get("OUTPUT_TABLE_NAME")
    if table != NAMES.diy_table:
        raise _not_done(6, f"{NAMES.diy_function} writes to {table!r}, not {NAMES.diy_table}.",
                        f"deploy it again with environment={{'OUTPUT_TABLE_NAME': {NAMES.diy_table!r}}}.")
    passed(f"Exercise 6: function {NAMES.diy_function} is {function['state']} and writes to {NAMES.diy_table}")


def _check_7() -> None:
    try:
        found = functions.triggers(NAMES.diy_function)
    except ResourceMissing:
        raise _not_done(7, f"there is no Lambda function {NAMES.diy_function}.", "do exercise 6 first.") from None
    mine = [t for t in found if t["stream"] == NAMES.max_speed_stream]
    if not mine:
        elsewhere = f" (it has one on {', '.join(t['stream'] for t in found)})" if found else ""
        raise _not_done(7, f"{NAMES.diy_function} has no Kinesis trigger on {NAMES.max_speed_stream}{elsewhere}.",
                        "lab.functions.add_trigger(function, stream) is the console's Add trigger > Kinesis "
                        "(notebook 04, step 3); the function reads the app's results, so the stream is "
                        f"{NAMES.max_speed_stream}.")
    if mine[0]["state"] != "Enabled":
        raise _not_done(7, f"the trigger is {mine[0]['state']}.", "add it again: that enables it.")
    passed(f"Exercise 7: trigger {NAMES.max_speed_stream} -> {NAMES.diy_function} is Enabled")


CHECKS: dict[int, Callable[[], None]] = {1: _check_1, 2: _check_2, 3: _check_3, 4: _check_4, 5: _check_5,
                                          6: _check_6, 7: _check_7}


def check(exercise: int) -> None:
    """The autograder check of `exercise`: ✓, or CheckFailed with what is missing and a hint."""
    CHECKS[_number(exercise)]()


def _iso(epoch_ms: int) -> str:
    return pd.Timestamp(epoch_ms, unit="ms", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _expected_windows() -> Callable[[], dict[tuple[str, str], float]]:
    """The highest speed per (location, window end) of every reading in WindDataStream so far, with the
    exercise's window length; each call reads only what is new."""
    from .ui.feeds import StreamFeed

    feed = StreamFeed(NAMES.wind_stream)
    length_ms = int(WINDOW_SECONDS) * 1000

    def windows() -> dict[tuple[str, str], float]:
        readings = feed()
        if not len(readings):
            return {}
        epoch_ms = pd.to_datetime(readings["event_time"], utc=True, format="ISO8601").astype("int64") // 10**6
        ends = (epoch_ms - epoch_ms % length_ms + length_ms).map(_iso)
        return readings.groupby([readings["location"], ends])["speed"].max().astype(float).to_dict()

    return windows


def _differences(expected: dict[tuple[str, str], float], items: pd.DataFrame) -> list[str]:
    """The expected windows that DIYTable lacks or holds with another maximum."""
    got = ({(row.location, row.timestamp): float(row.max_wind_speed) for row in items.itertuples()}
           if len(items) else {})
    return [f"{location} window ending {end[11:19]}: " + (f"{got[(location, end)]:g} mph, not {speed:g}"
                                                         if (location, end) in got else f"missing ({speed:g} mph)")
            for (location, end), speed in sorted(expected.items()) if got.get((location, end)) != speed]


def until_results_complete() -> Callable[[pd.DataFrame], bool]:
    """For `until` of the live DIYTable plot: every window of the readings sent so far is in DIYTable with
    its highest speed."""
    expected = _expected_windows()

    def complete(items: pd.DataFrame) -> bool:
        wanted = expected()
        return bool(wanted) and not _differences(wanted, items)

    return complete


def check_results(timeout_s: float = RESULTS_TIMEOUT_S) -> None:
    """The whole DIY pipeline works: for every location and 10-second window of the readings in
    WindDataStream, DIYTable holds the window's highest speed (waits while windows close and the function
    catches up)."""
    for exercise in CHECKS:
        with contextlib.redirect_stdout(io.StringIO()):  # only the first unfinished exercise speaks
            CHECKS[exercise]()
    expected = _expected_windows()
    state: dict = {}

    def complete() -> bool:
        state["wanted"] = expected()
        state["items"] = pd.DataFrame(tables.items(NAMES.diy_table))
        state["off"] = _differences(state["wanted"], state["items"])
        return bool(state["wanted"]) and not state["off"]

    try:
        wait_until(complete, timeout_s, f"{NAMES.diy_table} to hold every window", interval_s=2)
    except WaitTimedOut:
        if not len(state.get("items", ())):
            problem, hint = (f"{NAMES.diy_table} is still empty after {timeout_s:.0f} s.",
                             f"is {NAMES.max_speed_app} RUNNING and did the simulator send data? Look at "
                             f"lab.streams.read_records({NAMES.max_speed_stream!r}) (the app's output) and "
                             f"lab.functions.logs({NAMES.diy_function!r}) (the function's errors).")
        else:
            off = state["off"]
            problem = (f"{len(off)} of {len(state['wanted'])} windows are not right yet: {'; '.join(off[:3])}"
                       + (" ..." if len(off) > 3 else "") + ".")
            hint = ("a window is reported once later readings pass it, or 10 s after its last reading: wait and "
                    f"check again. If it stays, look at lab.functions.logs({NAMES.diy_function!r}).")
        raise CheckFailed(f"The DIY pipeline is not complete yet: {problem}\nHint: {hint}") from None
    locations = state["items"]["location"].nunique()
    passed(f"DIY pipeline works: all {len(state['wanted']):,} windows of {locations} locations are in "
           f"{NAMES.diy_table}, each with its highest wind speed")


def draw_max_speeds(data: pd.DataFrame, ax: plt.Axes) -> None:
    """The maximum wind speed per location and window, at the window's end."""
    if not len(data):
        ax.text(0.5, 0.5, "no windows yet", ha="center", transform=ax.transAxes)
        return
    for location, rows in data.groupby("location"):
        rows = rows.sort_values("timestamp")
        ax.plot(pd.to_datetime(rows["timestamp"], utc=True, format="ISO8601"), rows["max_wind_speed"], "o",
                markersize=5, label=location)
    ax.set_ylabel("max wind speed per window (mph)")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
    ax.legend(loc="upper left", fontsize="small", ncol=3)
