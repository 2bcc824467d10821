"""What a live plot fetches: the records of a stream or the items of a table, as a DataFrame per call.

    feed = StreamFeed("WindDataStream", keep=2000)
    lab.plots.live(feed, lab.plots.draw_wind, seconds=60, until=feed.until_simulator_done)

A StreamFeed keeps one reader per shard, so every call reads only what arrived since the last one.
"""
from __future__ import annotations

from typing import Callable, Iterable

import matplotlib.dates as mdates
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
            frame = pd.concat([self.frame, *parts] if len(self.frame) else parts, ignore_index=True)
            self.frame = frame.iloc[-self.keep:].reset_index(drop=True) if self.keep else frame
        return self.frame

    def until_simulator_done(self, data: pd.DataFrame) -> bool:
        """For `until`: the simulator's run has ended and the last read found nothing new."""
        return self.new == 0 and simulate.status()["state"] in simulate.ENDED


def until_events(event_ids: Iterable[str]) -> Callable[[pd.DataFrame], bool]:
    """For `until`: every one of `event_ids` has arrived."""
    wanted = set(event_ids)
    return lambda data: "event_id" in data and wanted <= set(data["event_id"])


class TableGrowth:
    """How many items a DynamoDB table holds, sampled at each call: a DataFrame of (time, items). Counting
    is far cheaper than reading every item, so it can run every few seconds while the table fills."""

    def __init__(self, table: str = NAMES.wind_table, target: int | None = None):
        self.table, self.target = table, target
        self.samples: list[dict] = []

    def __call__(self) -> pd.DataFrame:
        self.samples.append({"time": pd.Timestamp.now(tz="UTC"), "items": tables.count(self.table)})
        return pd.DataFrame(self.samples)

    def draw(self, data: pd.DataFrame, ax) -> None:
        """For `draw`: the item count over time, and the target count if there is one."""
        ax.plot(data["time"], data["items"], "o-", markersize=3, label=f"items in {self.table}")
        if self.target is not None:
            ax.axhline(self.target, color="grey", linestyle="--", linewidth=1, label=f"target {self.target:,}")
        ax.set_ylim(bottom=0)
        ax.set_ylabel("items")
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
        ax.legend(loc="lower right", fontsize="small")

    def until_target(self, data: pd.DataFrame) -> bool:
        """For `until`: the table holds the target count (or, without one, stopped growing for 3 samples)."""
        counts = list(data["items"])
        if self.target is not None:
            return counts[-1] >= self.target
        return len(counts) >= 3 and counts[-1] > 0 and len(set(counts[-3:])) == 1


class TableFeed:
    """Every item of a DynamoDB table (numbers as numbers), read again on each call: for small tables."""

    def __init__(self, table: str = NAMES.wind_table):
        self.table = table

    def __call__(self) -> pd.DataFrame:
        return pd.DataFrame(tables.items(self.table))


def unique_readings(stream: str) -> int:
    """How many distinct readings (event time and id) a stream holds: a replayed record counts once."""
    records = StreamFeed(stream)()
    return len(records.drop_duplicates(["event_time", "event_id"])) if len(records) else 0
