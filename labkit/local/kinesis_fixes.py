"""Fixes for moto's Kinesis that the lab depends on: entries of the moto patch registry (moto_patches.py).

Measured defects of stock moto 5.2.5, and what this module does about each:
- put path not thread-safe (concurrent producers lose records): every put and read takes the stream's lock;
- put cost grows with stream length (list(keys) per put): sequence numbers come from a counter;
- get_records scans the shard from its start: records sit in a list indexed by sequence number;
- retention is never applied: records older than the stream's retention period are trimmed;
- an invalid shard iterator gives HTTP 500: it gives InvalidArgumentException;
- moto invokes mapped Lambdas synchronously inside PutRecord: switched off, the labkit Lambda
  runtime polls the stream like AWS's event source mappings do.
"""
from __future__ import annotations

import binascii
import bisect
import functools
import threading
import time
from collections import OrderedDict
from typing import Any

from moto.kinesis import models
from moto.kinesis.exceptions import InvalidArgumentError
from moto.kinesis.utils import decompose_shard_iterator

from .moto_patches import Patch

clock = time.time  # replaced in tests to age records past their retention


class ShardLog:
    """The records of one shard: sequence number n lives at index n - 1 - trimmed."""

    def __init__(self) -> None:
        self.entries: list[models.Record] = []
        self.arrivals: list[float] = []
        self.trimmed = 0

    @property
    def first_sequence(self) -> int:
        return self.trimmed + 1 if self.entries else 0

    @property
    def last_sequence(self) -> int:
        return self.trimmed + len(self.entries)

    def append(self, record: models.Record) -> None:
        self.entries.append(record)
        self.arrivals.append(record.created_at)

    def after(self, sequence: int, limit: int | None) -> list[models.Record]:
        start = max(sequence - self.trimmed, 0)
        stop = len(self.entries) if limit is None else start + limit
        return self.entries[start:stop]

    def last_before(self, timestamp: float) -> int:
        """Sequence number of the last record that arrived before `timestamp` (0 if none)."""
        return self.trimmed + bisect.bisect_left(self.arrivals, timestamp)

    def trim_older_than(self, cutoff: float) -> None:
        drop = bisect.bisect_left(self.arrivals, cutoff)
        if drop:
            del self.entries[:drop]
            del self.arrivals[:drop]
            self.trimmed += drop


def _log(shard: models.Shard) -> ShardLog:
    if "_labkit_log" not in shard.__dict__:
        shard.__dict__["_labkit_log"] = ShardLog()
    return shard.__dict__["_labkit_log"]


def _records_view(shard: models.Shard) -> OrderedDict:
    log = _log(shard)
    return OrderedDict((r.sequence_number, r) for r in log.entries)


def _reset_records(shard: models.Shard, records: OrderedDict) -> None:
    log = ShardLog()
    log.trimmed = _log(shard).last_sequence if not records else 0
    for record in records.values():
        log.append(record)
    shard.__dict__["_labkit_log"] = log


def _put_record(self: models.Shard, partition_key: str, data: str, explicit_hash_key: str) -> str:
    log = _log(self)
    sequence_number = log.last_sequence + 1
    log.append(models.Record(partition_key, data, sequence_number, explicit_hash_key))
    return str(sequence_number)


def _get_records(self: models.Shard, last_sequence_id: str, limit: int | None):
    log = _log(self)
    results = log.after(int(last_sequence_id), limit)
    last = results[-1].sequence_number if results else max(int(last_sequence_id), log.trimmed)
    behind = log.entries[-1].created_at - results[-1].created_at if results else 0.0
    return results, last, int(behind * 1000)


def _min_sequence(self: models.Shard) -> int:
    return _log(self).first_sequence


def _max_sequence(self: models.Shard) -> int:
    return _log(self).last_sequence


def _sequence_at(self: models.Shard, at_timestamp: float) -> int:
    return _log(self).last_before(at_timestamp)


def _stream_lock(stream: models.Stream) -> threading.RLock:
    return stream.__dict__.setdefault("_labkit_lock", threading.RLock())


def _apply_retention(stream: models.Stream) -> None:
    cutoff = clock() - stream.retention_period_hours * 3600
    for shard in stream.shards.values():
        _log(shard).trim_older_than(cutoff)


def _stream_put_record(self: models.Stream, partition_key: str, explicit_hash_key: str, data: str):
    """Store the record; no synchronous Lambda call (the labkit Lambda runtime owns delivery)."""
    with _stream_lock(self):
        _apply_retention(self)
        shard = self.get_shard_for_key(partition_key, explicit_hash_key)
        return shard.put_record(partition_key, data, explicit_hash_key), shard.shard_id


def _checked_get_records(original):
    @functools.wraps(original)
    def get_records(self, stream_arn, shard_iterator, limit):
        try:
            stream_name, shard_id, last = decompose_shard_iterator(shard_iterator)
            int(last)
        except (ValueError, binascii.Error, UnicodeDecodeError) as error:
            raise InvalidArgumentError(f"Invalid ShardIterator: {shard_iterator[:64]!r}") from error
        stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
        with _stream_lock(stream):
            _apply_retention(stream)
            return original(self, stream_arn, shard_iterator, limit)

    return get_records


def _stream_getstate(self: models.Stream) -> dict[str, Any]:
    state = dict(self.__dict__)
    state.pop("_labkit_lock", None)
    return state


def patches() -> list[Patch]:
    """The fixes, against the installed (stock) moto."""
    log_fix = ("stock moto keeps a shard's records in a dict: every put lists its keys (cost grows with the "
               "stream) and every read scans it from the start; here a list indexed by sequence number")
    tail = "test_reading_the_tail_of_a_long_shard_does_not_rescan_it"
    return [
        Patch(models.Shard, "records", property(_records_view, _reset_records), log_fix, tail),
        Patch(models.Shard, "put_record", _put_record, log_fix,
              "test_a_put_costs_the_same_memory_at_any_stream_length"),
        Patch(models.Shard, "get_records", _get_records, log_fix, tail),
        Patch(models.Shard, "get_min_sequence_number", _min_sequence, log_fix, tail),
        Patch(models.Shard, "get_max_sequence_number", _max_sequence, log_fix, tail),
        Patch(models.Shard, "get_sequence_number_at", _sequence_at, log_fix, tail),
        Patch(models.Stream, "put_record", _stream_put_record,
              "stock moto's put is not thread-safe and invokes mapped Lambdas synchronously (with Docker); "
              "here a put holds the stream's lock, applies retention, and leaves delivery to labkit's poller",
              "test_concurrent_puts_get_distinct_sequence_numbers"),
        Patch(models.Stream, "__getstate__", _stream_getstate,
              "the stream's lock (added here) cannot be pickled when the stack saves its state",
              "test_a_stream_that_was_written_pickles"),
        Patch(models.KinesisBackend, "get_records", _checked_get_records(models.KinesisBackend.get_records),
              "stock moto answers HTTP 500 to an invalid shard iterator and never applies retention; here "
              "InvalidArgumentException, and a read holds the stream's lock and trims expired records",
              "test_an_invalid_shard_iterator_is_an_invalid_argument"),
    ]
