"""The Kinesis console's data viewer as a widget: pick a shard and a starting position, get records.

    viewer = StreamViewer("WindDataStream")
    viewer                       # shows it; "Get records" reads from the position, "Next records" continues
    viewer.frame                 # the last records shown, as a DataFrame
"""
from __future__ import annotations

import html

import ipywidgets as w
import pandas as pd

from ..config import NAMES
from ..errors import LabError
from ..resources import streams


class StreamViewer:
    """Shard and starting-position choices, Get records / Next records buttons and the records as a table."""

    def __init__(self, stream: str = NAMES.wind_stream, limit: int = 25):
        self.stream = w.Text(value=stream, description="Stream", continuous_update=False)
        self.shard = w.Dropdown(description="Shard", options=[])
        self.position = w.Dropdown(options=streams.POSITIONS, value="TRIM_HORIZON", description="Start at")
        self.sequence_number = w.Text(description="Sequence no.", placeholder="for *_SEQUENCE_NUMBER")
        self.timestamp = w.Text(description="Timestamp", placeholder="for AT_TIMESTAMP: 2026-11-27T10:00:00Z")
        self.limit = w.BoundedIntText(value=limit, min=1, max=streams.GET_RECORDS_LIMIT, description="Records")
        self.get_button = w.Button(description="Get records", button_style="primary")
        self.next_button = w.Button(description="Next records", disabled=True)
        self.message = w.HTML()
        self.table = w.Output()
        self.widget = w.VBox([
            w.HBox([self.stream, self.shard]),
            w.HBox([self.position, self.limit]),
            w.HBox([self.sequence_number, self.timestamp]),
            w.HBox([self.get_button, self.next_button]),
            self.message, self.table,
        ])
        self.frame: pd.DataFrame | None = None
        self._reader: streams.ShardReader | None = None
        self.stream.observe(lambda _: self.load_shards(), names="value")
        self.get_button.on_click(lambda _: self.get_records())
        self.next_button.on_click(lambda _: self.next_records())
        self.load_shards()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _fail(self, error: LabError) -> None:
        self.message.value = f'<span style="color:#8a1c13">✗ {html.escape(str(error))}</span>'

    def load_shards(self) -> None:
        """Fill the shard choice from the stream's open shards."""
        self._reader = None
        self.next_button.disabled = True
        try:
            ids = streams.shard_ids(self.stream.value.strip())
        except LabError as error:
            self.shard.options = []
            self._fail(error)
            return
        self.shard.options = ids
        self.message.value = f"{len(ids)} open shard(s) in {html.escape(self.stream.value.strip())}"

    def get_records(self) -> None:
        """Read from the chosen shard and starting position (the console's Get records)."""
        try:
            self._reader = streams.ShardReader(
                self.stream.value.strip(), self.shard.value, self.position.value,
                self.sequence_number.value.strip() or None, self.timestamp.value.strip() or None)
        except LabError as error:
            self._fail(error)
            return
        self.next_records()

    def next_records(self) -> None:
        """Continue after the records shown last (with LATEST: what arrived since Get records)."""
        if self._reader is None:
            return
        try:
            frame = self._reader.read(self.limit.value)
        except LabError as error:
            self._fail(error)
            return
        self.frame = frame
        self.next_button.disabled = False
        reader = self._reader
        self.message.value = html.escape(f"{len(frame)} record(s) from {reader.shard_id} of {reader.stream}, "
                                         f"starting at {reader.position}")
        self.table.outputs = ()
        self.table.append_display_data(frame)
