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

from ..errors import BadParameter

Draw = Callable[[pd.DataFrame, plt.Axes], None]


def live(fetch: Callable[[], pd.DataFrame], draw: Draw, seconds: float, every_s: float = 2.0,
         title: str = "", until: Callable[[pd.DataFrame], bool] | None = None) -> pd.DataFrame:
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
            ax.set_title(f"{title} — {len(data):,} records")
            fig.tight_layout()
            handle.update(fig)
            if time.monotonic() >= deadline or (until is not None and until(data)):
                break
            time.sleep(every_s)
        plt.close(fig)
    return data


def _times(data: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(data["event_time"], utc=True, format="ISO8601")


def draw_wind(data: pd.DataFrame, ax: plt.Axes) -> None:
    """Wind speed per location over event time."""
    for location, rows in data.groupby("location") if len(data) else []:
        ax.plot(_times(rows), rows["speed"], label=location, linewidth=1)
    ax.set_ylabel("wind speed (mph)")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
    ax.axhspan(30, 55, color="green", alpha=0.06, label="normal operation 30-55 mph")
    ax.legend(loc="upper left", fontsize="small", ncol=3)


def scores_drawer(threshold: float, labelled_event_ids: set[str] = frozenset()) -> Draw:
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


def draw_table_items(data: pd.DataFrame, ax: plt.Axes) -> None:
    """Items per location in a DynamoDB table, split by whether they are anomalies."""
    if not len(data):
        ax.text(0.5, 0.5, "no items yet", ha="center", transform=ax.transAxes)
        return
    counts = data.groupby("location").size()
    ax.bar(counts.index, counts.values, color="steelblue", label="items")
    if "anomaly_score" in data:
        high = data[data["anomaly_score"].astype(float) >= 2].groupby("location").size()
        ax.bar(high.index, high.values, color="red", label="anomaly score >= 2")
    ax.set_ylabel("items")
    ax.legend(fontsize="small")
