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


class TableFeed:
    """The items of a DynamoDB table (numbers as numbers). Given its `partitions` (e.g. the turbines'
    locations), each call reads only the items whose sort key is above the last one read in each partition,
    so a live plot of a large table stays cheap; without, each call reads the whole table (for small ones)."""

    def __init__(self, table: str = NAMES.wind_table, partitions: Iterable[str] | None = None):
        self.table = table
        self.partitions = list(partitions) if partitions is not None else None
        self.last: dict[str, str] = {}
        self.frame = pd.DataFrame()

    def __call__(self) -> pd.DataFrame:
        if self.partitions is None:
            return pd.DataFrame(tables.items(self.table))
        sort_key = tables.describe(self.table)["sort_key"]
        new = []
        for partition in self.partitions:
            found = tables.items(self.table, partition=partition, after=self.last.get(partition))
            if found:
                self.last[partition] = str(found[-1][sort_key])
                new += found
        if new:
            self.frame = pd.concat([self.frame, pd.DataFrame(new)], ignore_index=True)
        return self.frame


def warmed_up_locations(scores: pd.DataFrame) -> int:
    """How many locations have a reading scored above 0: their forest is past its warm-up."""
    return scores[scores["score"].astype(float) > 0]["location"].nunique() if "score" in scores else 0


def until_warmed_up(locations: int = 5) -> Callable[[pd.DataFrame], bool]:
    """For `until`: each of `locations` locations has a forest past its warm-up."""
    return lambda data: warmed_up_locations(data) >= locations


def until_items(stream: str) -> Callable[[pd.DataFrame], bool]:
    """For `until`: the table's items (as a TableFeed reads them) number the distinct readings of `stream`."""
    wanted = unique_readings(stream)
    return lambda items: len(items) >= wanted


def unique_readings(stream: str) -> int:
    """How many distinct readings (event time and id) a stream holds: a replayed record counts once."""
    records = StreamFeed(stream)()
    return len(records.drop_duplicates(["event_time", "event_id"])) if len(records) else 0
