"""Live plots: redrawn while data flows, and left as a static image in the executed notebook.

`display(fig, display_id=True)` + `handle.update(fig)` renders in JupyterLab and keeps the final frame as a
PNG for headless runs and the instructor preview (ipympl would save only an empty first frame).
"""
from __future__ import annotations

import time
from typing import Callable

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from ..config import ALERT_THRESHOLD
from ..errors import BadParameter
from ..turbine import operating_speeds_mph

Draw = Callable[[pd.DataFrame, plt.Axes], None]


def live(fetch: Callable[[], pd.DataFrame], draw: Draw, seconds: float, every_s: float = 2.0,
         title: str = "", until: Callable[[pd.DataFrame], bool] | None = None, unit: str = "records") -> pd.DataFrame:
    """Call `fetch` every `every_s` seconds for `seconds` (or until `until(data)` holds), redrawing each
    time; return the last data."""
    if seconds <= 0 or every_s <= 0:
        raise BadParameter(f"seconds={seconds} and every_s={every_s} must both be above 0.")
    with plt.rc_context({"text.parse_math": False}):  # text from records ("$x^$") shows as sent, never as math
        fig, ax = plt.subplots(figsize=(10, 4))
        handle = display(fig, display_id=True)
        deadline = time.monotonic() + seconds
        while True:
            data = fetch()
            ax.clear()
            draw(data, ax)
            ax.set_title(f"{title} — {len(data):,} {unit}")
            fig.tight_layout()
            handle.update(fig)
            if time.monotonic() >= deadline or (until is not None and until(data)):
                break
            time.sleep(every_s)
        plt.close(fig)
    return data


def _times(data: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(data["event_time"], utc=True, format="ISO8601")


def draw_operating_bands(ax: plt.Axes) -> None:
    """The turbine's operating regions from its power curve: standstill below cut-in, power growing with
    the wind up to rated speed, full power up to cut-out, shutdown above."""
    speeds = operating_speeds_mph()
    cut_in, rated, cut_out = speeds["cut-in"], speeds["rated"], speeds["cut-out"]
    ax.axhspan(cut_in, rated, color="tab:green", alpha=0.05,
               label=f"power grows with wind (cut-in {cut_in:g} to rated {rated:g} mph)")
    ax.axhspan(rated, cut_out, color="tab:green", alpha=0.14, label=f"full power (rated {rated:g} to cut-out "
                                                                     f"{cut_out:g} mph)")
    ax.axhline(cut_out, color="tab:red", linewidth=0.8, linestyle=":", label=f"cut-out {cut_out:g} mph: shutdown")


def draw_wind(data: pd.DataFrame, ax: plt.Axes) -> None:
    """Wind speed per location over event time, over the turbine's operating bands."""
    for location, rows in data.groupby("location") if len(data) else []:
        ax.plot(_times(rows), rows["speed"], label=location, linewidth=1)
    draw_operating_bands(ax)
    ax.set_ylabel("wind speed (mph)")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
    ax.legend(loc="upper left", fontsize="small", ncol=3)


def scores_drawer(threshold: float = ALERT_THRESHOLD, labelled_event_ids: set[str] = frozenset()) -> Draw:
    """Anomaly score per location over event time, the alert threshold, and the labelled anomalies."""
    def draw(data: pd.DataFrame, ax: plt.Axes) -> None:
        for location, rows in data.groupby("location") if len(data) else []:
            ax.plot(_times(rows), rows["score"].astype(float), ".", markersize=3, label=location)
        ax.axhline(threshold, color="red", linestyle="--", linewidth=1, label=f"threshold {threshold}")
        if len(data) and labelled_event_ids:
            marked = data[data["event_id"].isin(labelled_event_ids)]
            ax.plot(_times(marked), marked["score"].astype(float), "o", markersize=12, markerfacecolor="none",
                    markeredgecolor="black", label="labelled anomaly")
        ax.set_ylabel("anomaly score")
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
        ax.legend(loc="upper left", fontsize="small", ncol=3)

    return draw


def stored_scores_drawer(threshold: float = ALERT_THRESHOLD) -> Draw:
    """WindDataTable's contents: the stored anomaly_score of each turbine's readings over their event time,
    with the alert threshold; the anomalies stand out above the line."""
    def draw(items: pd.DataFrame, ax: plt.Axes) -> None:
        if not len(items):
            ax.text(0.5, 0.5, "no items yet", ha="center", transform=ax.transAxes)
            return
        times = pd.to_datetime(items["timestamp"], utc=True, format="ISO8601")
        for location, rows in items.groupby("location"):
            ax.plot(times[rows.index], rows["anomaly_score"].astype(float), ".", markersize=3, label=location)
        ax.axhline(threshold, color="red", linestyle="--", linewidth=1, label=f"alert threshold {threshold:g}")
        ax.set_ylabel("stored anomaly_score")
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
        ax.legend(loc="upper left", fontsize="small", ncol=3)

    return draw
