"""Kinesis data streams: create / describe / delete (idempotent, tagged), and the console's data viewer.

    streams.create("WindDataStream", shards=1)        # Kinesis > Data streams > Create data stream
    streams.read_records("WindDataStream")            # Data viewer: shard, starting position, Get records
"""
from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone

from botocore.exceptions import ClientError

from ..clients import client, pages
from ..config import NAMES
from ..errors import BadParameter, LabError, ResourceMissing, check_whole_number
from ..progress import wait_until
from .errors import explained

POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "AT_TIMESTAMP")
RECORD_COLUMNS = ["sequence_number", "arrival", "partition_key"]
CREATE_TIMEOUT_S = 180
DELETE_TIMEOUT_S = 180
MAX_SHARDS = 500  # Kinesis's default shard quota per account and region
GET_RECORDS_LIMIT = 10_000  # most records one GetRecords call may return
LIST_SHARDS_LIMIT = 10_000  # most shards one ListShards call may return
POLL_S = 0.25  # Kinesis allows 5 GetRecords calls per second and shard
READ_INTERVAL_S = 0.5  # the viewer's share of a shard's 5 reads/s (the Flink apps and the trigger poll it too)
REFUSED_BACKOFF_S = (0.5, 1, 2, 4, 4, 4, 4, 4)  # waits after each refused read (ProvisionedThroughputExceeded)
THROTTLED = "ProvisionedThroughputExceededException"
STREAM_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,128}")


def missing(name: str) -> ResourceMissing:
    """The error for a stream that does not exist, with the step that creates it."""
    return ResourceMissing(
        "Kinesis stream", name,
        f"Create it with `labkit.resources.streams.create({name!r})` (notebook 01, step 3) and try again.",
    )


def _kinesis_errors(name: str, keep: tuple[str, ...] = ()):
    """Kinesis errors as sentences; error codes in `keep` pass through as ClientError."""
    return explained("Kinesis", f"stream {name!r}", lambda: missing(name), keep)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not STREAM_NAME.fullmatch(name):
        raise BadParameter(f"{name!r} is not a valid stream name: use 1-128 letters, digits, '_', '-' or '.'.")
    return name


def _status_or_none(name: str) -> str | None:
    try:
        with _kinesis_errors(name):
            return client("kinesis").describe_stream_summary(StreamName=name)[
                "StreamDescriptionSummary"]["StreamStatus"]
    except ResourceMissing:
        return None


def shard_ids(name: str) -> list[str]:
    """The ids of the stream's open shards, in order."""
    # One page of ListShards holds up to 10,000 shards, far more than a stream can have here (MAX_SHARDS open);
    # botocore's paginator would send StreamName with the token of a second page, which Kinesis refuses
    # (boto/botocore#2009).
    with _kinesis_errors(name):
        return sorted(shard["ShardId"]
                      for page in pages("kinesis", "list_shards", StreamName=name,
                                        PaginationConfig={"PageSize": LIST_SHARDS_LIMIT})
                      for shard in page["Shards"] if "EndingSequenceNumber" not in shard["SequenceNumberRange"])


def describe(name: str) -> dict:
    """Name, ARN, status, open shard ids, retention and tags of a stream; ResourceMissing if absent."""
    kinesis = client("kinesis")
    with _kinesis_errors(_check_name(name)):
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        tags = kinesis.list_tags_for_stream(StreamName=name)["Tags"]
    return {
        "name": name,
        "arn": summary["StreamARN"],
        "status": summary["StreamStatus"],
        "mode": summary.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED"),
        "shards": shard_ids(name) if summary["StreamStatus"] in ("ACTIVE", "UPDATING") else [],
        "retention_hours": summary["RetentionPeriodHours"],
        "tags": {t["Key"]: t["Value"] for t in tags},
    }


def create(name: str = NAMES.wind_stream, shards: int = 1, timeout_s: float = CREATE_TIMEOUT_S,
           quiet: bool = False) -> dict:
    """Create a provisioned stream with `shards` shards (or keep the existing one), wait until it is
    ACTIVE, tag it as the course's (so teardown finds it) and return `describe(name)`.

    An existing stream is kept as it is, whatever its shard count; one still being deleted is waited for
    and created again."""
    _check_name(name)
    check_whole_number("shards", shards, 1, MAX_SHARDS, " (the lab uses 1)")
    kinesis = client("kinesis")
    if _status_or_none(name) == "DELETING":
        wait_until(lambda: _status_or_none(name) is None, timeout_s, f"the old stream {name} to be deleted",
                   quiet=quiet, interval_s=1.0)
    try:
        with _kinesis_errors(name, keep=("ResourceInUseException",)):
            kinesis.create_stream(StreamName=name, ShardCount=shards,
                                  StreamModeDetails={"StreamMode": "PROVISIONED"})
    except ClientError:
        pass  # it exists already: keep it
    wait_until(lambda: _status_or_none(name) in ("ACTIVE", "UPDATING"), timeout_s,
               f"stream {name} to become ACTIVE", quiet=quiet, interval_s=1.0,
               on_timeout="Look at the stream in the Kinesis console (or `labkit status`) and try again.")
    with _kinesis_errors(name):
        kinesis.add_tags_to_stream(StreamName=name, Tags={NAMES.tag_key: NAMES.tag_value})
    return describe(name)


def delete(name: str, wait: bool = True, timeout_s: float = DELETE_TIMEOUT_S, quiet: bool = False) -> bool:
    """Delete the stream and its consumers; False when there was none. Waits until it is gone."""
    try:
        with _kinesis_errors(_check_name(name)):
            client("kinesis").delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    except ResourceMissing:
        return False
    if wait:
        wait_until(lambda: _status_or_none(name) is None, timeout_s, f"stream {name} to be deleted",
                   quiet=quiet, interval_s=1.0)
    return True


def _utc(timestamp) -> datetime:
    """A datetime, ISO-8601 string, pandas Timestamp or epoch seconds, as an aware UTC datetime."""
    if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool):
        return datetime.fromtimestamp(timestamp, tz=timezone.utc)
    import pandas as pd  # here, not at the top: the simulator's process needs streams, not pandas

    try:
        stamp = pd.Timestamp(timestamp)
    except (TypeError, ValueError) as error:
        raise BadParameter(f"timestamp={timestamp!r} is not a time: give a datetime, an ISO-8601 string "
                           "such as '2026-11-27T10:00:00Z', or epoch seconds.") from error
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).to_pydatetime()


def _decode(record: dict) -> dict:
    row = {
        "sequence_number": record["SequenceNumber"],
        "arrival": record["ApproximateArrivalTimestamp"],
        "partition_key": record["PartitionKey"],
    }
    text = record["Data"].decode("utf-8", errors="replace")
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict):
        row.update(value)
    else:
        row["data"] = text
    return row


class ShardReader:
    """Reads one shard from a starting position, like the console's data viewer. The iterator is taken
    when the reader is made, so with LATEST a later `read()` returns what arrived since; each `read()`
    continues where the previous one stopped."""

    def __init__(self, stream: str = NAMES.wind_stream, shard_id: str | None = None,
                 position: str = "TRIM_HORIZON", sequence_number: str | None = None, timestamp=None):
        position = str(position).upper()
        if position not in POSITIONS:
            raise BadParameter(f"position={position!r} is not a starting position: use one of "
                               f"{', '.join(POSITIONS)}.")
        if position.endswith("SEQUENCE_NUMBER") and not sequence_number:
            raise BadParameter(f"position {position} needs a sequence_number (copy one from the "
                               "sequence_number column of an earlier read).")
        if position == "AT_TIMESTAMP" and timestamp is None:
            raise BadParameter("position AT_TIMESTAMP needs a timestamp, e.g. '2026-11-27T10:00:00Z'.")
        shards = shard_ids(_check_name(stream))
        if not shards:
            raise BadParameter(f"stream {stream!r} has no open shard yet; wait until it is ACTIVE.")
        shard_id = shard_id or shards[0]
        if shard_id not in shards:
            raise BadParameter(f"stream {stream!r} has no open shard {shard_id!r}; its shards are "
                               f"{', '.join(shards)}.")
        self.stream, self.shard_id, self.position = stream, shard_id, position
        self.last_sequence: str | None = None
        start = {"ShardIteratorType": position}
        if sequence_number:
            start["StartingSequenceNumber"] = str(sequence_number)
        if position == "AT_TIMESTAMP":
            start["Timestamp"] = _utc(timestamp)
        self._start = start
        self._last_read = 0.0
        self.iterator: str | None = self._new_iterator(start)

    def _new_iterator(self, start: dict) -> str:
        with _kinesis_errors(self.stream):
            return client("kinesis").get_shard_iterator(StreamName=self.stream, ShardId=self.shard_id,
                                                        **start)["ShardIterator"]

    def _page(self, limit: int) -> dict:
        """One GetRecords call, at most one per READ_INTERVAL_S; a refused read is tried again after a backoff
        (the shard's 5 reads/s are shared with the Flink apps and the trigger), an expired iterator renewed."""
        refused, renewed = 0, False
        while True:
            time.sleep(max(0.0, self._last_read + READ_INTERVAL_S - time.monotonic()))
            self._last_read = time.monotonic()
            try:
                passed = (THROTTLED,) if renewed else (THROTTLED, "ExpiredIteratorException")
                with _kinesis_errors(self.stream, keep=passed):
                    return client("kinesis").get_records(ShardIterator=self.iterator, Limit=limit)
            except ClientError as error:
                if error.response["Error"]["Code"] != THROTTLED:  # an iterator expires after 5 minutes
                    self.iterator, renewed = self._new_iterator(self._resume_position()), True
                elif refused == len(REFUSED_BACKOFF_S):
                    raise LabError(f"Kinesis kept refusing reads of shard {self.shard_id} of stream "
                                   f"{self.stream!r} for {sum(REFUSED_BACKOFF_S):.0f} s: other readers use its 5 "
                                   "reads per second. Read again in a minute, or stop a reader (a Flink app "
                                   "or a trigger) of this stream.") from None
                else:
                    time.sleep(REFUSED_BACKOFF_S[refused])
                    refused += 1

    def _resume_position(self) -> dict:
        """Where a renewed iterator starts: after the last record read, else where this reader started."""
        if self.last_sequence:
            return {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": self.last_sequence}
        return self._start

    def read(self, limit: int = 100, wait_s: float = 0.0) -> pd.DataFrame:
        """Up to `limit` records, decoded: sequence_number, arrival, partition_key, then the JSON fields
        (or `data` for records that are not JSON objects). Stops at the shard's tip; with `wait_s` > 0 it
        waits that long at the tip for records to arrive."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise BadParameter(f"limit={limit!r} cannot work: give a whole number of records, at least 1.")
        rows: list[dict] = []
        deadline = time.monotonic() + wait_s
        while len(rows) < limit and self.iterator:
            page = self._page(min(GET_RECORDS_LIMIT, limit - len(rows)))
            self.iterator = page.get("NextShardIterator")
            rows += [_decode(r) for r in page["Records"]]
            if page["Records"]:
                self.last_sequence = page["Records"][-1]["SequenceNumber"]
            if page.get("MillisBehindLatest", 0) == 0:  # at the tip: what arrives later is for the next read
                if rows or time.monotonic() >= deadline:
                    break
                time.sleep(POLL_S)
        import pandas as pd

        frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=RECORD_COLUMNS)
        frame["arrival"] = pd.to_datetime(frame["arrival"], utc=True)
        return frame


def read_records(stream: str = NAMES.wind_stream, shard_id: str | None = None, position: str = "TRIM_HORIZON",
                 sequence_number: str | None = None, timestamp=None, limit: int = 100,
                 wait_s: float = 0.0) -> pd.DataFrame:
    """The console's data viewer in one call: records of one shard (default: the first) from `position`
    (TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, AT_TIMESTAMP), decoded as a table.
    LATEST only sees records that arrive during `wait_s`; to read what arrives later, keep a ShardReader."""
    reader = ShardReader(stream, shard_id, position, sequence_number, timestamp)
    return reader.read(limit, wait_s)
