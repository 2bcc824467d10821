"""DynamoDB's "Explore items" as a widget: scan the table or query one partition, filter, see the items.

    explorer = TableExplorer("WindDataTable")
    explorer                       # shows it; Run reads the items with the chosen options
    explorer.run_button.click()    # the same from code (papermill, tests)
    explorer.frame                 # the items shown last, as a DataFrame
"""
from __future__ import annotations

import html

import ipywidgets as w
import pandas as pd

from ..config import ALERT_THRESHOLD, NAMES
from ..errors import LabError
from ..resources import tables

ALL = "(scan every partition)"


class TableExplorer:
    """Table name, Scan or Query one partition, an optional minimum anomaly score, Run, and the items."""

    def __init__(self, table: str = NAMES.wind_table, min_score: float | None = None, limit: int = 50):
        self.table = w.Text(value=table, description="Table", continuous_update=False)
        self.partition = w.Dropdown(options=[ALL], value=ALL, description="Partition")
        self.filter_scores = w.Checkbox(value=min_score is not None, description="Only anomaly_score ≥")
        self.min_score = w.FloatText(value=ALERT_THRESHOLD if min_score is None else min_score, layout=w.Layout(width="6em"))
        self.limit = w.BoundedIntText(value=limit, min=1, max=10_000, description="Show")
        self.run_button = w.Button(description="Run", button_style="primary", icon="search")
        self.message = w.HTML()
        self.items = w.Output()
        self.widget = w.VBox([
            w.HBox([self.table, self.partition]),
            w.HBox([self.filter_scores, self.min_score, self.limit]),
            self.run_button, self.message, self.items,
        ])
        self.frame: pd.DataFrame | None = None
        self.table.observe(lambda _: self.run(), names="value")
        self.run_button.on_click(lambda _: self.run())
        self.run()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def run(self) -> None:
        """Read the items with the chosen options (the console's Run)."""
        name = self.table.value.strip()
        partition = None if self.partition.value == ALL else self.partition.value
        try:
            found = tables.items(name, partition=partition)
            key = tables.describe(name)["partition_key"]
        except LabError as error:
            self.message.value = f'<span style="color:#8a1c13">✗ {html.escape(str(error))}</span>'
            return
        frame = pd.DataFrame(found)
        if partition is None and len(frame):
            self.partition.options = [ALL, *sorted(frame[key].astype(str).unique())]
        if self.filter_scores.value and len(frame):
            if "anomaly_score" not in frame:
                self.message.value = html.escape(f"{name} has no anomaly_score attribute: untick the filter.")
                return
            frame = frame[frame["anomaly_score"].astype(float) >= self.min_score.value]
        self.frame = frame.reset_index(drop=True)
        where = f"partition {partition}" if partition else "every partition"
        shown = min(len(frame), self.limit.value)
        self.message.value = html.escape(f"{len(frame):,} item(s) in {name}, {where}"
                                         + (f"; showing the first {shown}" if shown < len(frame) else ""))
        self.items.outputs = ()
        self.items.append_display_data(self.frame.head(shown))
