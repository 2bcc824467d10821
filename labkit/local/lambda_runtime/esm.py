"""Kinesis event source mappings with AWS's semantics: a poller per (mapping, shard) that reads the stream
through the local endpoint and invokes the function with batches, in order.

Rules (AWS Lambda's, for Kinesis):
- BatchSize records at most per invocation, and at most 6 MB of event;
- MaximumBatchingWindowInSeconds: gather records until the batch is full or the window (counted from the
  first record gathered) has passed; 0 invokes as soon as records are read;
- StartingPosition LATEST (records put after the mapping was created), TRIM_HORIZON (the oldest record),
  AT_TIMESTAMP (StartingPositionTimestamp); afterwards the checkpoint;
- one batch at a time per shard, so records of a shard are processed in order; with ParallelizationFactor N
  (1-10), up to N batches of a shard at once, each partition key always in the same one of N lanes, so each
  key's records stay in order. Records are read in chunks of up to BatchSize x N; the lanes deliver a chunk
  together and the shard's checkpoint moves to the chunk's end once every lane is done with it, so a restart
  never skips a record another lane had not finished (it may deliver finished ones again, as AWS may);
- a function error retries the batch (after a short backoff) until it succeeds, MaximumRetryAttempts is
  used up (-1: no limit) or a record is older than MaximumRecordAgeInSeconds; the batch is then discarded
  and, with DestinationConfig.OnFailure, AWS's failure record goes to that SNS topic or SQS queue;
- BisectBatchOnFunctionError splits a failed batch in two and tries the halves in order, without using
  the retry quota;
- FunctionResponseTypes ReportBatchItemFailures: the function returns {"batchItemFailures":
  [{"itemIdentifier": sequenceNumber}]}; the records before the lowest reported one are done and only the
  rest is retried; an identifier that is empty or not in the batch fails the whole batch;
- checkpoints per (mapping, shard) live in the state folder (fsynced), so a restarted stack, also after a
  crash, goes on where it was;
- a stream deleted and created again under the same name is read from its first record (its sequence
  numbers start again, so the old checkpoint would skip records);
- each shard is read once a second (AWS's base rate), up to 10,000 records a call, the records beyond the
  batch kept for the next invocations, so a mapping uses at most one of the shard's 5 GetRecords calls a
  second whatever the rate; a read refused with ProvisionedThroughputExceededException (the shard's other
  consumers used its calls) is tried again after a backoff that doubles up to 8 s, keeping the iterator.
Not implemented: TumblingWindowInSeconds, FilterCriteria, enhanced fan-out
consumers, and shards created by resharding after the mapping started.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from moto.backends import get_backend

from . import events
from .worker import LOCAL_KEY, Invocation

READ_INTERVAL_S = 1.0  # AWS's pollers read each shard at a base rate of once a second
THROTTLED_BACKOFF_S = (1.0, 8.0)  # a refused read is tried again after 1 s, doubling up to 8 s
RETRY_BACKOFF_S = (0.5, 5.0)  # first retry after 0.5 s, doubling up to 5 s
MAX_EVENT_BYTES = 6 * 2**20 - 64 * 2**10  # Lambda's 6 MB request limit, with room for the JSON around records
READ_LIMIT = 10_000  # Kinesis GetRecords maximum
MAX_LANES = 10  # ParallelizationFactor's maximum

log = logging.getLogger(__name__)

# invoke(account, region, function_arn, event_for_role) -> the Invocation, or None when the function cannot
# be invoked at all (e.g. deleted): then the batch waits, like on AWS. `event_for_role(role_arn)` builds the
# event JSON, whose records name the function's execution role.
Invoker = Callable[[str, str, str, Callable[[str], str]], "Invocation | None"]


class Checkpoints:
    """The last sequence number processed, per (mapping UUID, shard), one small file each."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._forgotten: set[str] = set()
        self._lock = threading.Lock()

    def load(self, mapping: str, shard: str) -> str | None:
        try:
            return (self.folder / mapping / shard).read_text().strip() or None
        except FileNotFoundError:
            return None

    def save(self, mapping: str, shard: str, sequence: str) -> None:
        with self._lock:
            if mapping in self._forgotten:
                return
            target = self.folder / mapping / shard
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".partial")
            with open(partial, "w") as handle:
                handle.write(sequence)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, target)

    def restart(self, mapping: str) -> None:
        """The mapping's stream was deleted: read whatever stream comes next under its name from the start."""
        for shard in (self.folder / mapping).glob("shardId-*"):
            self.save(mapping, shard.name, "0")

    def forget(self, mapping: str) -> None:
        """The mapping was deleted: drop its checkpoints, and ignore late saves from its pollers."""
        with self._lock:
            self._forgotten.add(mapping)
            shutil.rmtree(self.folder / mapping, ignore_errors=True)


@dataclass
class Outcome:
    """How an invocation went for the batch: done, or retry from `retry_from` on."""

    done: bool
    retry_from: int = 0
    whole_batch: bool = False  # the function failed (not a reported item): bisecting applies
    function_error: str | None = None


def judge(invocation: Invocation, records: list[dict], report_item_failures: bool) -> Outcome:
    """Apply Lambda's success and failure conditions to an invocation of `records`."""
    if invocation.function_error:
        return Outcome(False, 0, True, invocation.function_error)
    if not report_item_failures:
        return Outcome(True)
    try:
        response = json.loads(invocation.payload or b"null")
    except ValueError:
        return Outcome(True)
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if not failures:
        return Outcome(True)
    positions = {r["SequenceNumber"]: i for i, r in enumerate(records)}
    reported = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures]
    if not all(isinstance(item, str) and item in positions for item in reported):
        return Outcome(False, 0, True)  # an invalid report fails the whole batch
    return Outcome(False, min(positions[item] for item in reported))


def lane(partition_key: str, lanes: int) -> int:
    """The lane (0 .. lanes - 1) that delivers a partition key's records: the same one every time."""
    return int.from_bytes(hashlib.md5(partition_key.encode()).digest()[:8], "big") % lanes


def invocation_batches(records: list[dict], batch_size: int) -> list[list[dict]]:
    """`records` cut, in order, into invocations of at most `batch_size` records and Lambda's 6 MB."""
    batches, current, total = [], [], 0
    for record in records:
        size = len(record["Data"]) * 4 // 3 + 512
        if current and (len(current) >= batch_size or total + size > MAX_EVENT_BYTES):
            batches.append(current)
            current, total = [], 0
        current.append(record)
        total += size
    return [*batches, current] if current else batches


class ShardPoller(threading.Thread):
    """Reads one shard for one mapping and delivers its records, batch after batch."""

    def __init__(self, mapping: "MappingPoller", shard_id: str):
        super().__init__(daemon=True, name=f"esm-{mapping.uuid[:8]}-{shard_id[-4:]}")
        self.mapping = mapping
        self.shard_id = shard_id
        self.stopping = threading.Event()
        self.restarting = threading.Event()  # set when the stream is deleted
        self.state = "polling"
        self._iterator: str | None = None
        self._buffer: list[dict] = []  # read from the stream, not yet delivered
        self._closed = False
        self._next_read = 0.0  # time.monotonic() of the next allowed GetRecords
        self._throttled_s = 0.0  # the current backoff after refused reads, 0 when the last read went through
        self.throttled = 0  # reads refused with ProvisionedThroughputExceededException
        self._kinesis = mapping.client("kinesis", retries=0)  # a refused read is retried here, not by botocore
        self._lanes_running = False  # while lanes deliver a chunk, only its end is checkpointed, by this thread

    # ---- reading ------------------------------------------------------------------------------------
    def _new_iterator(self) -> str:
        m = self.mapping  # by name: moto's iterators made from a StreamARN do not name their stream
        request = {"StreamName": m.stream_arn.split("/")[-1], "ShardId": self.shard_id}
        checkpoint = m.checkpoints.load(m.uuid, self.shard_id)
        if checkpoint and checkpoint != "0":
            request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=checkpoint)
        elif checkpoint == "0" or m.esm.starting_position != "AT_TIMESTAMP":
            # "0": before the first record; LATEST always has a checkpoint (see MappingPoller.start)
            request.update(ShardIteratorType="TRIM_HORIZON")
        else:
            request.update(ShardIteratorType="AT_TIMESTAMP", Timestamp=_as_datetime(m.esm.starting_position_timestamp))
        return self._kinesis.get_shard_iterator(**request)["ShardIterator"]

    def _read(self) -> list[dict]:
        if self._closed:
            return []
        if self._iterator is None:
            self._iterator = self._new_iterator()
        try:
            page = self._kinesis.get_records(ShardIterator=self._iterator, Limit=READ_LIMIT)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ProvisionedThroughputExceededException":
                raise
            self.throttled += 1
            self._throttled_s = min(max(self._throttled_s * 2, THROTTLED_BACKOFF_S[0]), THROTTLED_BACKOFF_S[1])
            self._next_read = time.monotonic() + self._throttled_s
            return []
        self._throttled_s = 0.0
        self._next_read = time.monotonic() + READ_INTERVAL_S
        self._iterator = page.get("NextShardIterator")
        self._closed = self._iterator is None
        return page["Records"]

    def _next_chunk(self, count: int) -> list[dict]:
        """Up to `count` records to deliver next, the batching window applied."""
        window = float(self.mapping.esm.max_batch_window or 0)
        chunk, self._buffer = self._buffer, []
        opened = time.monotonic() if chunk else None
        while not self._halted:
            page = self._read() if len(chunk) < count and time.monotonic() >= self._next_read else []
            chunk += page
            if chunk and opened is None:
                opened = time.monotonic()
            if len(chunk) >= count or (chunk and time.monotonic() - opened >= window) or (self._closed and not page):
                break
            pause = self._next_read - time.monotonic()
            if chunk:
                pause = min(pause, window - (time.monotonic() - opened))
            self.stopping.wait(max(pause, 0.01))
        self._buffer = chunk[count:] + self._buffer
        return chunk[:count]

    # ---- delivering ---------------------------------------------------------------------------------
    @property
    def _halted(self) -> bool:
        return self.stopping.is_set() or self.restarting.is_set()

    def _checkpoint(self, record: dict) -> None:
        if not self.restarting.is_set() and not self._lanes_running:  # a deleted stream's position means nothing
            self.mapping.checkpoints.save(self.mapping.uuid, self.shard_id, record["SequenceNumber"])

    def _expired(self, records: list[dict], attempts: int, error: str | None) -> list[dict]:
        """Discard the records older than MaximumRecordAgeInSeconds; the rest, still to deliver."""
        age = self.mapping.esm.max_record_age
        if age is None or age < 0:
            return records
        cutoff = time.time() - age
        old = [r for r in records if r["ApproximateArrivalTimestamp"].timestamp() < cutoff]
        if old:
            self._discard(old, "RecordAgeExceeded", attempts, error)
        return records[len(old):]

    def _discard(self, records: list[dict], condition: str, attempts: int, error: str | None) -> None:
        self.mapping.discard(self.shard_id, records, condition, attempts, error)
        self._checkpoint(records[-1])

    def _deliver(self, batch: list[dict]) -> None:
        esm = self.mapping.esm
        pending = [(batch, 0, None)]  # (records, retries used, last function error)
        while pending and not self._halted:
            records, retries, error = pending.pop(0)
            records = self._expired(records, retries, error)
            if not records:
                continue
            self.state = "invoking"
            result = self.mapping.invoke(self.shard_id, records)
            if result is None:  # could not invoke at all: wait, without using the retry quota
                self.state = "function unavailable"
                pending.insert(0, (records, retries, error))
                self.stopping.wait(RETRY_BACKOFF_S[1])
                continue
            outcome = judge(result, records, "ReportBatchItemFailures" in (esm.function_response_types or []))
            if outcome.done:
                self._checkpoint(records[-1])
                continue
            if outcome.retry_from:
                self._checkpoint(records[outcome.retry_from - 1])
            rest, error = records[outcome.retry_from:], outcome.function_error or error
            if outcome.whole_batch and esm.bisect_on_error and len(rest) > 1:
                half = len(rest) // 2
                pending[:0] = [(rest[:half], retries, error), (rest[half:], retries, error)]
            elif esm.max_retry_attempts is not None and 0 <= esm.max_retry_attempts <= retries:
                self._discard(rest, "RetryAttemptsExhausted", retries + 1, error)
            else:
                self.state = "retrying"
                self.stopping.wait(min(RETRY_BACKOFF_S[0] * 2 ** retries, RETRY_BACKOFF_S[1]))
                pending.insert(0, (rest, retries + 1, error))
        self.state = "polling"

    def _deliver_in_order(self, records: list[dict]) -> None:
        for batch in invocation_batches(records, self.mapping.esm.batch_size):
            self._deliver(batch)

    def _deliver_chunk(self, chunk: list[dict], lanes: int) -> None:
        """Deliver a chunk: in order, or by `lanes` lanes at once (each key in its lane), checkpointing its end."""
        if lanes == 1:
            return self._deliver_in_order(chunk)
        by_lane: dict[int, list[dict]] = defaultdict(list)
        for record in chunk:
            by_lane[lane(record["PartitionKey"], lanes)].append(record)
        self._lanes_running = True
        try:
            with ThreadPoolExecutor(len(by_lane), thread_name_prefix=self.name) as pool:
                list(pool.map(self._deliver_in_order, by_lane.values()))  # a lane's error is raised here
        finally:
            self._lanes_running = False
        if not self._halted:
            self._checkpoint(chunk[-1])

    def restart(self) -> None:
        """The stream was deleted: drop what was read from it; read the next one from its first record."""
        self.restarting.set()

    def run(self) -> None:
        while not self.stopping.is_set():
            if self.restarting.is_set():
                self._iterator, self._buffer, self._closed = None, [], False
                self.restarting.clear()
                self.mapping.checkpoints.save(self.mapping.uuid, self.shard_id, "0")
            try:
                lanes = min(max(int(self.mapping.esm.parallelization_factor or 1), 1), MAX_LANES)
                chunk = self._next_chunk(self.mapping.esm.batch_size * lanes)
                if chunk:
                    self._deliver_chunk(chunk, lanes)
                elif self._closed:
                    self.state = "shard closed"
                    return
            except (ClientError, BotoCoreError) as error:  # e.g. the stream was deleted: read again later
                log.warning("mapping %s, %s: %s", self.mapping.uuid, self.shard_id, error)
                self.state = f"read error: {error}"
                self._iterator, self._buffer = None, []
                self.stopping.wait(RETRY_BACKOFF_S[1])
            except Exception:
                log.exception("mapping %s, %s failed; restarting from its checkpoint", self.mapping.uuid, self.shard_id)
                self._iterator, self._buffer = None, []
                self.stopping.wait(RETRY_BACKOFF_S[1])


def _as_datetime(value) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromtimestamp(float(value), timezone.utc)
        except ValueError:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return datetime.fromtimestamp(float(value), timezone.utc)


class MappingPoller:
    """The pollers of one enabled mapping; reads the mapping's settings live from moto's object."""

    def __init__(self, esm, account: str, region: str, manager: "Mappings"):
        self.esm = esm
        self.uuid = esm.uuid
        self.account, self.region = account, region
        self.stream_arn = esm.event_source_arn
        self.manager = manager
        self.checkpoints = manager.checkpoints
        self.shards: dict[str, ShardPoller] = {}

    def client(self, service: str, retries: int = 3):
        return boto3.session.Session().client(
            service, region_name=self.region, endpoint_url=self.manager.endpoint_url,
            aws_access_key_id=LOCAL_KEY, aws_secret_access_key=LOCAL_KEY,
            config=Config(retries={"max_attempts": retries, "mode": "standard"}, read_timeout=60),
        )

    def start(self) -> None:
        """Fix each shard's starting point now (LATEST means after the records already there), then poll."""
        kinesis = get_backend("kinesis")[self.account][self.region]
        stream = kinesis.describe_stream(stream_arn=self.stream_arn, stream_name=None)
        for shard_id, shard in stream.shards.items():
            if self.esm.starting_position == "LATEST" and self.checkpoints.load(self.uuid, shard_id) is None:
                self.checkpoints.save(self.uuid, shard_id, str(shard.get_max_sequence_number()))
            self.shards[shard_id] = ShardPoller(self, shard_id)
        for poller in self.shards.values():
            poller.start()

    def stop(self) -> None:
        for poller in self.shards.values():
            poller.stopping.set()

    def join(self, deadline: float) -> None:
        """Wait for the shard pollers to end, until time.monotonic() reaches `deadline`."""
        for poller in self.shards.values():
            poller.join(max(deadline - time.monotonic(), 0))

    def invoke(self, shard_id: str, records: list[dict]) -> Invocation | None:
        def event_for_role(role_arn: str) -> str:
            return json.dumps({"Records": [events.kinesis_record(r, shard_id, self.stream_arn, self.region, role_arn)
                                           for r in records]})

        return self.manager.invoke(self.account, self.region, self.esm.function_arn, event_for_role)

    def discard(self, shard_id: str, records: list[dict], condition: str, attempts: int, error: str | None) -> None:
        """Send AWS's failure record to the on-failure destination (if any) and note it in the function's log."""
        document = events.failure_record(
            request_id=str(uuid.uuid4()), function_arn=self.esm.function_arn, condition=condition,
            invoke_count=attempts, function_error=error, shard_id=shard_id, stream_arn=self.stream_arn,
            records=records)
        destination = ((self.esm.destination_config or {}).get("OnFailure") or {}).get("Destination")
        where = "no on-failure destination is configured"
        if destination:
            try:
                self._send(destination, json.dumps(document))
                where = f"its metadata went to {destination}"
            except (ClientError, BotoCoreError, ValueError) as failure:
                where = f"sending its metadata to {destination} failed: {failure}"
        batch = document["KinesisBatchInfo"]
        self.manager.note(self.esm.function_arn.split(":")[-1],
                          f"event source mapping {self.uuid} discarded {len(records)} record(s) of {shard_id} "
                          f"(sequence {batch['startSequenceNumber']} to {batch['endSequenceNumber']}) after "
                          f"{attempts} attempt(s): {condition}; {where}.")

    def _send(self, arn: str, body: str) -> None:
        parts = arn.split(":")
        if parts[2] == "sns":
            self.client("sns").publish(TopicArn=arn, Message=body)
        elif parts[2] == "sqs":
            sqs = self.client("sqs")
            url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=body)
        else:
            raise ValueError("labkit sends on-failure records to SNS topics and SQS queues only")

    def status(self) -> dict:
        return {
            "function": self.esm.function_arn.split(":")[-1],
            "stream": self.stream_arn.split("/")[-1],
            "shards": {shard_id: {"state": poller.state, "checkpoint": self.checkpoints.load(self.uuid, shard_id),
                                  "throttled_reads": poller.throttled}
                       for shard_id, poller in self.shards.items()},
        }


class Mappings:
    """Keeps one MappingPoller running per enabled Kinesis mapping in moto's Lambda backends."""

    def __init__(self, folder: Path, endpoint_url: str, invoke: Invoker, note: Callable[[str, str], None]):
        self.checkpoints = Checkpoints(folder)
        self.endpoint_url = endpoint_url
        self.invoke = invoke
        self.note = note
        self.running: dict[str, MappingPoller] = {}
        self._waiting: set[str] = set()  # enabled mappings that could not start (e.g. no stream yet)
        self._lock = threading.Lock()

    @staticmethod
    def _kinesis_mappings() -> dict[str, tuple[str, str, object]]:
        found = {}
        for account, regions in list(get_backend("lambda").items()):
            for region, backend in list(regions.items()):
                for esm in backend.list_event_source_mappings("", ""):
                    if esm.event_source_arn.split(":")[2] == "kinesis":
                        found[esm.uuid] = (account, region, esm)
        return found

    def sync(self) -> None:
        """Start pollers for new or re-enabled mappings, stop those of disabled or deleted ones."""
        with self._lock:
            current = self._kinesis_mappings()
            for mapping_id in list(self.running):
                account, region, esm = current.get(mapping_id, (None, None, None))
                if esm is None or not esm.enabled or esm is not self.running[mapping_id].esm:
                    self.running.pop(mapping_id).stop()
                if esm is None:
                    self.checkpoints.forget(mapping_id)
            for mapping_id, (account, region, esm) in current.items():
                if esm.enabled and mapping_id not in self.running:
                    poller = MappingPoller(esm, account, region, self)
                    try:
                        poller.start()
                    except Exception as error:  # e.g. its stream is gone: tried again at the next sync
                        if mapping_id not in self._waiting:
                            log.warning("event source mapping %s waits: %s", mapping_id, error)
                        self._waiting.add(mapping_id)
                        continue
                    self._waiting.discard(mapping_id)
                    self.running[mapping_id] = poller

    def stream_deleted(self, stream_arn: str) -> None:
        """Make every mapping of the deleted stream read the next stream of that name from the start."""
        with self._lock:
            for mapping_id, (_, _, esm) in self._kinesis_mappings().items():
                if esm.event_source_arn != stream_arn:
                    continue
                if mapping_id in self.running:
                    for poller in self.running[mapping_id].shards.values():
                        poller.restart()
                else:
                    self.checkpoints.restart(mapping_id)

    def stop_all(self, timeout_s: float = 15) -> None:
        with self._lock:
            pollers, self.running = list(self.running.values()), {}
        for poller in pollers:
            poller.stop()
        deadline = time.monotonic() + timeout_s
        for poller in pollers:
            poller.join(deadline)

    def status(self) -> dict:
        with self._lock:
            return {mapping_id: poller.status() for mapping_id, poller in self.running.items()}
