"""What a live plot fetches: the records of a stream or the items of a table, as a DataFrame per call.

    feed = StreamFeed("WindDataStream", keep=2000)
    lab.plots.live(feed, lab.plots.draw_wind, seconds=60, until=feed.until_simulator_done)

A StreamFeed keeps one reader per shard, so every call reads only what arrived since the last one.
"""
from __future__ import annotations

from typing import Callable, Iterable

import pandas as pd

from .. import simulate
from ..config import NAMES
from ..resources import streams, tables


class StreamFeed:
    """Every record of a stream from `position` on (TRIM_HORIZON: all of them; LATEST: those that arrive
    after the feed is made), decoded; the last `keep` of them if `keep` is given."""

    def __init__(self, stream: str = NAMES.wind_stream, position: str = "TRIM_HORIZON", keep: int | None = None):
        self.stream = stream
        self.keep = keep
        self.readers = [streams.ShardReader(stream, shard, position) for shard in streams.shard_ids(stream)]
        self.frame = pd.DataFrame(columns=streams.RECORD_COLUMNS)
        self.new = 0  # records the last call added

    def __call__(self) -> pd.DataFrame:
        parts = [reader.read(limit=streams.GET_RECORDS_LIMIT) for reader in self.readers]
        parts = [part for part in parts if len(part)]
        self.new = sum(len(part) for part in parts)
        if parts:
            frame = pd.concat([self.frame, *parts], ignore_index=True) if len(self.frame) else pd.concat(
                parts, ignore_index=True)
            self.frame = frame.iloc[-self.keep:].reset_index(drop=True) if self.keep else frame
        return self.frame

    def until_simulator_done(self, data: pd.DataFrame) -> bool:
        """For `until`: the simulator's run has ended and the last read found nothing new."""
        return self.new == 0 and simulate.status()["state"] in simulate.ENDED


def until_events(event_ids: Iterable[str]) -> Callable[[pd.DataFrame], bool]:
    """For `until`: every one of `event_ids` has arrived."""
    wanted = set(event_ids)
    return lambda data: "event_id" in data and wanted <= set(data["event_id"])


class TableFeed:
    """Every item of a DynamoDB table (numbers as numbers), rescanned on each call."""

    def __init__(self, table: str = NAMES.wind_table):
        self.table = table
        self.sizes: list[int] = []

    def __call__(self) -> pd.DataFrame:
        frame = pd.DataFrame(tables.items(self.table))
        self.sizes.append(len(frame))
        return frame

    def until_settled(self, data: pd.DataFrame, polls: int = 3) -> bool:
        """For `until`: the table has items and its size did not change over the last `polls` calls."""
        last = self.sizes[-polls:]
        return len(last) == polls and last[0] > 0 and len(set(last)) == 1
