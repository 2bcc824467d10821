"""Fixes for moto's Kinesis that the lab depends on: entries of the moto patch registry (moto_patches.py).

Measured defects of stock moto 5.2.5, and what this module does about each:
- put path not thread-safe (concurrent producers lose records): every put and read takes the stream's lock;
- put cost grows with stream length (list(keys) per put): sequence numbers come from a counter;
- get_records scans the shard from its start: records sit in a list indexed by sequence number;
- retention is never applied: records older than the stream's retention period are trimmed;
- an invalid shard iterator gives HTTP 500: it gives InvalidArgumentException;
- a shard's StartingSequenceNumber moves when records are trimmed: it is fixed when the shard is created;
- SplitShard puts the parent's records again under new numbers and new records keep going to the closed
  parent; MergeShards copies the parents' records into the child under new numbers (UpdateShardCount does
  both): here a parent keeps its records and numbers, an iterator on it reads to its end and then gets no
  NextShardIterator (as on AWS), and new records go to the open children, whose numbers follow the parents';
- moto invokes mapped Lambdas synchronously inside PutRecord: switched off, the labkit Lambda
  runtime polls the stream like AWS's event source mappings do.

And a limit stock moto does not have: each shard serves what an AWS shard serves — 5 GetRecords calls and 2 MiB
of reads a second, 1,000 records and 1 MiB of writes a second — and answers beyond that as AWS does, with
ProvisionedThroughputExceededException: the whole GetRecords or PutRecord call, or the refused entries of a
PutRecords (ErrorCode, counted in FailedRecordCount).
Calls and writes count over a sliding second; read bytes come from a budget of 2 MiB refilled at 2 MiB/s, so a
read far over it (GetRecords may return up to 10 MiB) holds the shard's next reads back for seconds, like AWS.
The limits are on by default; LABKIT_KINESIS_LIMITS=off in the stack's environment turns them off.
"""
from __future__ import annotations

import binascii
import bisect
import functools
import os
import threading
import time
from collections import OrderedDict, deque
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.kinesis import models
from moto.kinesis.exceptions import (InvalidArgumentError, RecordSizeExceedsLimit, TooManyRecords,
                                     TotalRecordsSizeExceedsLimit)
from moto.kinesis.utils import decompose_shard_iterator
from moto.utilities.utils import md5_hash

from .moto_patches import Patch

clock = time.time  # replaced in tests to age records past their retention

LIMITS_SETTING = "LABKIT_KINESIS_LIMITS"  # each shard keeps AWS's throughput limits unless this is "off"
READS_PER_S, READ_BYTES_PER_S = 5, 2 * 2**20  # per shard, AWS's numbers
WRITES_PER_S, WRITE_BYTES_PER_S = 1000, 2**20


class ShardLog:
    """The records of one shard, numbered start + 1, start + 2, ...: number n lives at index n - 1 - trimmed."""

    start = 0  # fixed at the shard's creation; logs saved before it was kept all started at 0

    def __init__(self, start: int = 0) -> None:
        self.entries: list[models.Record] = []
        self.arrivals: list[float] = []
        self.start = self.trimmed = start

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
    log = ShardLog(_log(shard).last_sequence)
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
    return _log(self).start + 1


def _max_sequence(self: models.Shard) -> int:
    return _log(self).last_sequence


def _sequence_at(self: models.Shard, at_timestamp: float) -> int:
    return _log(self).last_before(at_timestamp)


def _shard_for_key(self: models.Stream, partition_key: str, explicit_hash_key: str) -> models.Shard:
    """The open shard whose hash key range (both ends included, as on AWS) holds the record's hash key."""
    if not isinstance(partition_key, str) or len(partition_key) > 256:
        raise InvalidArgumentError("partition_key")
    if explicit_hash_key and (not isinstance(explicit_hash_key, str) or int(explicit_hash_key) >= 2**128):
        raise InvalidArgumentError("explicit_hash_key")
    key = int(explicit_hash_key) if explicit_hash_key else int(md5_hash(partition_key.encode()).hexdigest(), 16)
    return next(shard for shard in self.shards.values()
                if shard.is_open and shard.starting_hash <= key <= shard.ending_hash)


def _split_shard(self: models.Stream, shard_to_split: str, new_starting_hash_key: str) -> None:
    """Close the parent with its records where they are; two open children share its hash key range."""
    with _stream_lock(self):
        parent, split_at = self.shards[shard_to_split], int(new_starting_hash_key)
        if not parent.starting_hash < split_at < parent.ending_hash:
            raise InvalidArgumentError(
                f"NewStartingHashKey {split_at} used in SplitShard() on shard {shard_to_split} in stream "
                f"{self.stream_name} under account {self.account_id} is not both greater than one plus the shard's "
                f"StartingHashKey {parent.starting_hash} and less than the shard's EndingHashKey "
                f"{parent.ending_hash - 1}.")
        _reshard(self, [parent], [(parent.starting_hash, split_at - 1), (split_at, parent.ending_hash)])


def _merge_shards(self: models.Stream, shard_to_merge: str, adjacent_shard_to_merge: str) -> None:
    """Close both parents with their records where they are; one open child takes their joint hash key range."""
    with _stream_lock(self):
        parents = [self.shards[shard_to_merge], self.shards[adjacent_shard_to_merge]]
        low, high = sorted(parents, key=lambda shard: shard.starting_hash)
        if low.ending_hash + 1 != high.starting_hash:
            raise InvalidArgumentError(f"Shards {shard_to_merge} and {adjacent_shard_to_merge} in stream "
                                       f"{self.stream_name} under account {self.account_id} are not an adjacent "
                                       "pair of shards eligible for merging")
        _reshard(self, parents, [(low.starting_hash, high.ending_hash)])


def _reshard(stream: models.Stream, parents: list[models.Shard], ranges: list[tuple[int, int]]) -> None:
    """Close `parents` (their records stay, with their numbers) and open a child for each hash key range, its
    numbers following theirs."""
    for parent in parents:
        if not parent.is_open:
            raise InvalidArgumentError(
                f"Shard {parent.shard_id} in stream {stream.stream_name} under account {stream.account_id} has "
                "already been merged or split, and thus is not eligible for merging or splitting.")
    start = max(_log(parent).last_sequence for parent in parents)
    for parent in parents:
        parent.is_open = False
    for low, high in ranges:
        child = models.Shard(max(shard._shard_id for shard in stream.shards.values()) + 1, low, high,
                             *(parent.shard_id for parent in parents))
        child.__dict__["_labkit_log"] = ShardLog(start)
        stream.shards[child.shard_id] = child


def _stream_lock(stream: models.Stream) -> threading.RLock:
    return stream.__dict__.setdefault("_labkit_lock", threading.RLock())


def _apply_retention(stream: models.Stream) -> None:
    cutoff = clock() - stream.retention_period_hours * 3600
    for shard in stream.shards.values():
        _log(shard).trim_older_than(cutoff)


# ---- AWS's per-shard limits (on unless LABKIT_KINESIS_LIMITS=off) ------------------------------------------


def limits_on() -> bool:
    """On unless the setting says off; read at every call, so a test can switch the limits for one process."""
    return os.environ.get(LIMITS_SETTING, "on").strip().lower() not in ("off", "0", "false", "no")


class ThroughputExceeded(JsonRESTError):
    def __init__(self, shard_id: str, stream: models.Stream):
        super().__init__("ProvisionedThroughputExceededException",
                         f"Rate exceeded for shard {shard_id} in stream {stream.stream_name} under account "
                         f"{stream.account_id}.")


class ShardMeter:
    """What one shard served lately: read calls and written records over the last second, read bytes as a budget."""

    def __init__(self) -> None:
        self.reads: deque[float] = deque()
        self.writes: deque[tuple[float, int]] = deque()  # (time, bytes) of each record written
        self.written_bytes = 0
        self.read_budget, self.budget_at = float(READ_BYTES_PER_S), clock()

    def admit_read(self, now: float) -> bool:
        while self.reads and self.reads[0] <= now - 1:
            self.reads.popleft()
        self.read_budget = min(READ_BYTES_PER_S, self.read_budget + (now - self.budget_at) * READ_BYTES_PER_S)
        self.budget_at = now
        if len(self.reads) >= READS_PER_S or self.read_budget <= 0:
            return False
        self.reads.append(now)
        return True

    def admit_write(self, now: float, size: int) -> bool:
        while self.writes and self.writes[0][0] <= now - 1:
            self.written_bytes -= self.writes.popleft()[1]
        if len(self.writes) >= WRITES_PER_S or self.written_bytes + size > WRITE_BYTES_PER_S:
            return False
        self.writes.append((now, size))
        self.written_bytes += size
        return True


def _meter(shard: models.Shard) -> ShardMeter:
    if "_labkit_meter" not in shard.__dict__:
        shard.__dict__["_labkit_meter"] = ShardMeter()
    return shard.__dict__["_labkit_meter"]


def _size(partition_key: str, data: str) -> int:
    """A record's size as Kinesis counts it: its data (here base64 text) plus its partition key."""
    return len(data) * 3 // 4 - data[-2:].count("=") + len(partition_key or "")


# ---- the put and read paths ----------------------------------------------------------------------------


def _stream_put_record(self: models.Stream, partition_key: str, explicit_hash_key: str, data: str):
    """Store the record; no synchronous Lambda call (the labkit Lambda runtime owns delivery)."""
    with _stream_lock(self):
        _apply_retention(self)
        shard = self.get_shard_for_key(partition_key, explicit_hash_key)
        if limits_on() and not _meter(shard).admit_write(clock(), _size(partition_key, data)):
            raise ThroughputExceeded(shard.shard_id, self)
        return shard.put_record(partition_key, data, explicit_hash_key), shard.shard_id


def _put_records(self: models.KinesisBackend, stream_arn: str, stream_name: str, records: list[dict]) -> dict:
    """moto's PutRecords, with AWS's per-entry failures: a refused entry gets an ErrorCode, the others go in."""
    stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
    if len(records) > 500:
        raise TooManyRecords
    sizes = [_size(r.get("PartitionKey", ""), r.get("Data", "")) for r in records]
    if sum(sizes) > 5 * 2**20:
        raise TotalRecordsSizeExceedsLimit
    too_big = next((i for i, size in enumerate(sizes) if size > 2**20), None)
    if too_big is not None:
        raise RecordSizeExceedsLimit(position=too_big + 1)
    response: dict[str, Any] = {"FailedRecordCount": 0, "Records": []}
    accepted_bytes = 0
    for record, size in zip(records, sizes):
        try:
            sequence_number, shard_id = stream.put_record(record.get("PartitionKey"), record.get("ExplicitHashKey"),
                                                          record.get("Data"))
        except ThroughputExceeded as refused:
            response["FailedRecordCount"] += 1
            response["Records"].append({"ErrorCode": refused.error_type, "ErrorMessage": refused.message})
            continue
        accepted_bytes += size
        response["Records"].append({"SequenceNumber": sequence_number, "ShardId": shard_id})
    accepted = len(records) - response["FailedRecordCount"]
    if accepted:
        self._send_stream_metrics(stream.stream_name, incoming_bytes=accepted_bytes, incoming_records=accepted)
    return response


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
            shard = stream.get_shard(shard_id)
            meter = _meter(shard) if limits_on() else None
            if meter and not meter.admit_read(clock()):
                raise ThroughputExceeded(shard_id, stream)
            next_iterator, records, behind = original(self, stream_arn, shard_iterator, limit)
            if meter:
                meter.read_budget -= sum(_size(r.partition_key, r.data) for r in records)
            read_to_the_end = int(decompose_shard_iterator(next_iterator)[2]) >= _log(shard).last_sequence
            return (None if read_to_the_end and not shard.is_open else next_iterator), records, behind

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
    resharding = "test_resharding_keeps_every_record_with_its_number"
    return [
        Patch(models.Shard, "records", property(_records_view, _reset_records), log_fix, tail),
        Patch(models.Shard, "put_record", _put_record, log_fix,
              "test_a_put_costs_the_same_memory_at_any_stream_length"),
        Patch(models.Shard, "get_records", _get_records, log_fix, tail),
        Patch(models.Shard, "get_min_sequence_number", _min_sequence,
              "stock moto reports a shard's first remaining record as its StartingSequenceNumber, so it moves "
              "on trim; here it is fixed when the shard is created",
              "test_a_shards_starting_sequence_number_stays_when_its_records_are_trimmed"),
        Patch(models.Shard, "get_max_sequence_number", _max_sequence, log_fix, tail),
        Patch(models.Shard, "get_sequence_number_at", _sequence_at, log_fix, tail),
        Patch(models.Stream, "put_record", _stream_put_record,
              "stock moto's put is not thread-safe and invokes mapped Lambdas synchronously (with Docker); "
              "here a put holds the stream's lock, applies retention, leaves delivery to labkit's poller and "
              "(limits on) keeps the shard's write limit",
              "test_concurrent_puts_get_distinct_sequence_numbers"),
        Patch(models.Stream, "split_shard", _split_shard,
              "stock moto puts a split shard's records again under new numbers (into the parent itself), so "
              "iterators and checkpoints taken before re-read them; here they stay in the closed parent",
              resharding),
        Patch(models.Stream, "merge_shards", _merge_shards,
              "stock moto copies both parents' records into the merged shard under new numbers (they are then "
              "stored twice) and checks adjacency wrongly; here they stay in the closed parents",
              "test_merging_keeps_every_record_with_its_number"),
        Patch(models.Stream, "get_shard_for_key", _shard_for_key,
              "stock moto sends records to a closed parent after a split (and misses a range's last hash key); "
              "here to the open shard whose range holds the key", resharding),
        Patch(models.Stream, "__getstate__", _stream_getstate,
              "the stream's lock (added here) cannot be pickled when the stack saves its state",
              "test_a_stream_that_was_written_pickles"),
        Patch(models.KinesisBackend, "get_records", _checked_get_records(models.KinesisBackend.get_records),
              "stock moto answers HTTP 500 to an invalid shard iterator, never applies retention and serves any "
              "number of reads, and a closed shard read to its end still answers a NextShardIterator; here "
              "InvalidArgumentException, a read holds the stream's lock and trims expired records, a closed "
              "shard's end answers no NextShardIterator, and (limits on) a shard serves 5 calls and 2 MiB a second",
              "test_an_invalid_shard_iterator_is_an_invalid_argument"),
        Patch(models.KinesisBackend, "put_records", _put_records,
              "stock moto accepts every entry of PutRecords; here (limits on) entries beyond a shard's 1,000 "
              "records or 1 MiB a second fail with ProvisionedThroughputExceededException, as on AWS",
              "test_put_records_beyond_a_shards_write_limit_fail_entry_by_entry"),
    ]
