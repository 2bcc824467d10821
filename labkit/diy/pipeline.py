"""The whole DIY pipeline at work: DIYTable against the per-window maxima of what the simulator sent."""
from __future__ import annotations

from typing import Callable

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd

from ..check import CheckFailed, passed
from ..config import DIY_WINDOW_S, NAMES, iso_time
from ..errors import WaitTimedOut
from ..progress import wait_until
from ..resources import tables
from ..results import figure
from .checks import first_unfinished

RESULTS_TIMEOUT_S = 300
Windows = dict[tuple[str, str], float]  # (location, window end) -> highest speed


def _expected_windows() -> Callable[[], Windows]:
    """The highest speed per (location, window end) of every reading in WindDataStream so far, with the
    exercise's window length; each call reads only what is new."""
    from ..ui.feeds import StreamFeed

    feed = StreamFeed(NAMES.wind_stream)
    length_ms = DIY_WINDOW_S * 1000

    def windows() -> Windows:
        readings = feed()
        if not len(readings):
            return {}
        epoch_ms = pd.to_datetime(readings["event_time"], utc=True, format="ISO8601").astype("int64") // 10**6
        ends = (epoch_ms - epoch_ms % length_ms + length_ms).map(iso_time)
        return readings.groupby([readings["location"], ends])["speed"].max().astype(float).to_dict()

    return windows


def _stored(items: pd.DataFrame) -> Windows:
    return ({(row.location, row.timestamp): float(row.max_wind_speed) for row in items.itertuples()}
            if len(items) else {})


def _differences(expected: Windows, items: pd.DataFrame) -> list[str]:
    """The expected windows that DIYTable lacks or holds with another maximum."""
    got = _stored(items)
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


def _highest_per_location(windows: Windows) -> dict[str, float]:
    highest: dict[str, float] = {}
    for (location, _), speed in windows.items():
        highest[location] = max(speed, highest.get(location, speed))
    return dict(sorted(highest.items()))


def _not_complete(state: dict, timeout_s: float) -> CheckFailed:
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
    return CheckFailed(f"The DIY pipeline is not complete yet: {problem}\nHint: {hint}")


def check_results(timeout_s: float = RESULTS_TIMEOUT_S) -> None:
    """The whole DIY pipeline works: for every location and window (DIY_WINDOW_S long) of the readings in
    WindDataStream, DIYTable holds the window's highest speed (waits while windows close and the function
    catches up)."""
    first_unfinished()
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
        raise _not_complete(state, timeout_s) from None
    wanted, stored = state["wanted"], _stored(state["items"])
    right = sum(stored.get(window) == speed for window, speed in wanted.items())
    passed(f"DIY pipeline works: all {len(wanted):,} windows of {len(_highest_per_location(wanted))} locations are "
           f"in {NAMES.diy_table}, each with its highest wind speed",
           figure(f"windows of the readings sent, in {NAMES.diy_table} with their highest speed", len(wanted), right),
           figure("highest window per location (mph)", _highest_per_location(wanted),
                  _highest_per_location({w: stored[w] for w in wanted})))


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
