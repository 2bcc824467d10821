"""The drill pipeline: the lab's Flink and Lambda stages on the shared local stack, under drill names, so
the drills never touch the lab's own streams and tables (the e2e test uses those in the same session).

    DrillWindStream --> AnomalyDetection (real Flink) --> DrillAnomalyStream
        --> DrillAnalyticsFunction (lambdas/analytics_destination.py) --> DrillWindTable
    failure records of the trigger (retries used up) --> SNS topic DrillParkedRecords --> inbox

Each drill sends its own records (a data set's readings, event ids prefixed with the drill's name) and
audits them END TO END BY EVENT ID: every id it sent is exactly one item in DrillWindTable, written once and
delivered how many times (the function's delivery counter, counting.py, in DrillDeliveries: keyed items
would hide a second delivery or write), and each item's anomaly score is the one detector.py computes for the
readings in the order the stream holds them (a job restarted without its state would score differently even
when no record is lost).
"""
from __future__ import annotations

import io
import json
import sys
import threading
import time
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest
from botocore.exceptions import BotoCoreError, ClientError

import labkit as lab
from labkit.config import CONFIRMATION_SUBJECT, FLINK_DIR, LAMBDAS_DIR, NAMES, REPO_ROOT
from labkit.errors import WaitTimedOut
from labkit.progress import wait_until
from labkit.resources import functions, roles, tags
from tests.conftest import aws_client

sys.path.insert(0, str(FLINK_DIR / "anomaly_detection"))
from detector import DetectorSettings, InvalidReading, LocationDetector, parse_reading  # noqa: E402

WIND_STREAM = "DrillWindStream"
ANOMALY_STREAM = "DrillAnomalyStream"
TABLE = "DrillWindTable"
FUNCTION = "DrillAnalyticsFunction"
DELIVERIES = "DrillDeliveries"  # the delivery counter's table: received and written per event id
PARKED_TOPIC = "DrillParkedRecords"
PARKED_ADDRESS = "parked-records@drill.example.com"
FIGURES = REPO_ROOT / "build" / "reliability" / "figures.json"
TRIGGER = dict(  # the lab's trigger options, with a retry budget (instead of none) so a poison record ends
    batch_size=100, retries=8, bisect=True, report_item_failures=True,  # up parked, not blocking the shard
    starting_position="LATEST",  # a lost checkpoint would skip records instead of replaying them: visible
    batching_window_s=1,
)
DELIVERY_TIMEOUT_S = 240
COUNTER_WAIT_S = 60  # for the counter's last updates after an item is there


def prefixed(dataset: str, prefix: str, count: int | None = None) -> list[dict]:
    """The first `count` readings of a data set, each event id prefixed with `prefix`: one drill's input."""
    records = lab.datasets.load_records(dataset)[:count]
    return [{**record, "event_id": f"{prefix}:{record['event_id']}"} for record in records]


class Producer(threading.Thread):
    """Sends readings to a stream like a sensor gateway: PutRecords batches, each refused record sent again,
    and while the endpoint does not answer (the stack restarting) the same batch again until it does."""

    def __init__(self, stream: str, records: list[dict | bytes], rate: float | None = None, batch: int = 25):
        super().__init__(daemon=True, name=f"producer-{stream}")
        self.stream, self.records, self.rate, self.batch = stream, records, rate, batch
        self.kinesis = aws_client("kinesis", lab.settings().endpoint_url)
        self.sent = 0
        self.acknowledged: list[tuple[str, str, bytes]] = []  # (shard, sequence number, data) PutRecords accepted
        self.unanswered = 0  # calls that met a stopped endpoint and were sent again
        self.error: BaseException | None = None

    @staticmethod
    def _entry(record: dict | bytes) -> dict:
        if isinstance(record, bytes):
            return {"Data": record, "PartitionKey": "malformed"}
        return {"Data": json.dumps(record).encode(), "PartitionKey": str(record.get("location") or "malformed")}

    def run(self) -> None:
        try:
            started = time.monotonic()
            for first in range(0, len(self.records), self.batch):
                pending = [self._entry(r) for r in self.records[first:first + self.batch]]
                while pending:
                    try:
                        answer = self.kinesis.put_records(StreamName=self.stream, Records=pending)
                    except (BotoCoreError, ClientError) as error:
                        if isinstance(error, ClientError) and error.response["Error"]["Code"] == "ValidationException":
                            raise
                        self.unanswered += 1
                        time.sleep(0.5)
                        continue
                    refused = [e for e, r in zip(pending, answer["Records"]) if "ErrorCode" in r]
                    self.acknowledged += [(r["ShardId"], r["SequenceNumber"], e["Data"])
                                          for e, r in zip(pending, answer["Records"]) if "ErrorCode" not in r]
                    self.sent += len(pending) - len(refused)
                    pending = refused
                if self.rate:
                    time.sleep(max(0.0, started + self.sent / self.rate - time.monotonic()))
        except BaseException as error:  # the drill reports it
            self.error = error


def send(records: list[dict | bytes], producers: int = 1, rate: float | None = None,
         stream: str = WIND_STREAM) -> list[Producer]:
    """Start `producers` concurrent producers, record i going to producer i % producers; returns them."""
    threads = [Producer(stream, records[k::producers], rate and rate / producers) for k in range(producers)]
    for thread in threads:
        thread.start()
    return threads


def finish(threads: list[Producer], timeout_s: float = 300) -> int:
    """Wait for the producers; the number of records they sent (raises what any of them met)."""
    for thread in threads:
        thread.join(timeout_s)
        if thread.error:
            raise thread.error
        assert not thread.is_alive(), f"{thread.name} still sending after {timeout_s} s"
    return sum(thread.sent for thread in threads)


def read_stream(stream: str = WIND_STREAM) -> list[dict]:
    """Every record of the stream's first shard, in order (boto3 GetRecords records)."""
    kinesis = aws_client("kinesis", lab.settings().endpoint_url)
    shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = []
    while iterator:
        page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
        records += page["Records"]
        if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
            return records
        iterator = page.get("NextShardIterator")
    return records


def expected_scores() -> dict[str, float]:
    """The anomaly score of every reading in DrillWindStream, by event id, as the job computes it: one
    detector per location with the app's settings, readings in stream order (an id sent twice: its first score,
    the one the function stored; it does not write a stored item again)."""
    settings = DetectorSettings.from_properties(lab.apps.properties(NAMES.anomaly_app)["lab"])
    detectors: dict[str, LocationDetector] = {}
    scores = {}
    for record in read_stream():
        try:  # the job receives each record as text decoded like Java does: bad UTF-8 becomes U+FFFD
            reading = parse_reading(record["Data"].decode("utf-8", "replace"), settings.locations)
        except InvalidReading:
            continue
        result = detectors.setdefault(reading.location, LocationDetector(settings)).assess(reading)
        scores.setdefault(reading.event_id, result["score"])
    return scores


def items(prefix: str) -> list[dict]:
    """DrillWindTable's items of one drill (event id starts with `prefix:`)."""
    return [item for item in lab.tables.items(TABLE) if str(item.get("event_id", "")).startswith(f"{prefix}:")]


def wait_for_items(prefix: str, count: int, timeout_s: float = DELIVERY_TIMEOUT_S) -> None:
    wait_until(lambda: len({i["event_id"] for i in items(prefix)}) >= count, timeout_s,
               f"{count} items of drill {prefix} in {TABLE}", quiet=True, interval_s=2)


def audit(prefix: str, sent: list[dict]) -> dict:
    """Input readings vs the table's items and the delivery counter, by event id: lost, written more than once
    (duplicated), delivered more than once, items whose write was not counted, unexpected, scores that differ."""
    found = items(prefix)
    per_id = Counter(item["event_id"] for item in found)
    sent_ids = {record["event_id"] for record in sent}
    try:
        wait_until(lambda: not uncounted(deliveries(prefix), per_id), COUNTER_WAIT_S,
                   f"the delivery counter to count every item of drill {prefix}", quiet=True, interval_s=1)
    except WaitTimedOut:
        pass  # a kill between a write and its count: reported as "uncounted"
    counted = deliveries(prefix)
    scores = expected_scores()
    wrong_scores = [item["event_id"] for item in found
                    if abs(item["anomaly_score"] - scores.get(item["event_id"], float("nan"))) > 1e-9
                    or not item["anomaly_score"] == item["anomaly_score"]]
    return {
        "records_in": len(sent_ids),
        "records_out": len(per_id),
        "items": len(found),
        "lost": len(sent_ids - set(per_id)),
        "duplicated": sum(max(0, n["written"] - 1) for n in counted.values()),
        "delivered_again": sum(max(0, n["received"] - 1) for n in counted.values()),
        "uncounted": len(uncounted(counted, per_id)),
        "unexpected": len(set(per_id) - sent_ids),
        "wrong_scores": len(wrong_scores),
    }


def record_figures(drill: str, fault: str, behaviour: str, figures: dict, **extra) -> None:
    """Add one drill's measured figures to build/reliability/figures.json (docs/RELIABILITY.md's source)."""
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    table = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    table[drill] = {"fault": fault, "behaviour": behaviour, **figures, **extra,
                    "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    FIGURES.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")


def deliveries(prefix: str) -> dict[str, dict[str, int]]:
    """What the delivery counter counted per event id of one drill: records received, items written."""
    dynamodb = aws_client("dynamodb", lab.settings().endpoint_url)
    counted, start = {}, {}
    while True:
        page = dynamodb.scan(TableName=DELIVERIES, **start)
        counted.update((i["event_id"]["S"], {"received": int(i["received"]["N"]), "written": int(i["written"]["N"])})
                       for i in page["Items"] if i["event_id"]["S"].startswith(f"{prefix}:"))
        if "LastEvaluatedKey" not in page:
            return counted
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def uncounted(counted: dict[str, dict[str, int]], stored: Iterable[str]) -> set[str]:
    """The event ids among `stored` (ids with an item) whose write `counted` (`deliveries()`) does not hold."""
    return set(stored) - {event_id for event_id, n in counted.items() if n["written"]}


def function_zip(*extra: tuple[str, str]) -> bytes:
    """The drill function's deployment zip: the lab's analytics handler and plumbing from lambdas/, the delivery
    counter (handler `counting.handler`), and `extra` (name, source)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("analytics_destination.py", *functions.SHARED_MODULES):
            archive.write(LAMBDAS_DIR / name, name)
        archive.write(Path(__file__).with_name("counting.py"), "counting.py")
        for name, source in extra:
            archive.writestr(name, source)
    return buffer.getvalue()


def parked() -> list[dict]:
    """The failure records the trigger has sent to its on-failure topic so far (as its subscriber got them)."""
    return [json.loads(mail["body"]) for mail in lab.inbox.inbox(to=PARKED_ADDRESS)
            if mail["subject"] != CONFIRMATION_SUBJECT]


class DrillPipeline:
    """Builds the drill pipeline once and tears it down at the end; the drills share it."""

    def __init__(self):
        self.endpoint = lab.settings().endpoint_url
        self.lam = aws_client("lambda", self.endpoint)
        self.parked_topic = None

    def build(self) -> "DrillPipeline":
        for stream in (WIND_STREAM, ANOMALY_STREAM):
            lab.streams.create(stream, quiet=True)
        lab.tables.create(TABLE, partition_key="location", sort_key="reading_id", quiet=True)
        lab.tables.create(DELIVERIES, partition_key="event_id", quiet=True)
        self.parked_topic = lab.topics.create(PARKED_TOPIC)
        lab.topics.subscribe_email(PARKED_ADDRESS, topic=PARKED_TOPIC)
        lab.topics.confirm(PARKED_ADDRESS, topic=PARKED_TOPIC)
        self.deploy()
        self.trigger()
        lab.apps.create(NAMES.anomaly_app, inputStreamName=WIND_STREAM, outputStreamName=ANOMALY_STREAM)
        lab.apps.run(NAMES.anomaly_app, from_latest_snapshot=False, quiet=True)
        return self

    def deploy(self, handler: str = "counting.handler", code: bytes | None = None, **environment: str) -> None:
        """Create or update the drill function: the lab's analytics handler, counted, by default."""
        code = code or function_zip()
        variables = {"Variables": {"OUTPUT_TABLE_NAME": TABLE, "DELIVERY_TABLE": DELIVERIES, **environment}}
        try:
            self.lam.get_function(FunctionName=FUNCTION)
        except self.lam.exceptions.ResourceNotFoundException:
            self.lam.create_function(FunctionName=FUNCTION, Runtime=functions.RUNTIME, Role=roles.ensure(),
                                     Handler=handler, Code={"ZipFile": code}, Timeout=30, Environment=variables,
                                     Tags=tags.as_dict())
            return
        self.lam.update_function_code(FunctionName=FUNCTION, ZipFile=code)
        self.lam.update_function_configuration(FunctionName=FUNCTION, Handler=handler, Environment=variables)

    def trigger(self, **changes) -> dict:
        """Create or update the trigger DrillAnomalyStream -> function (TRIGGER's options with `changes`); the
        trigger, and under "function_triggers" every trigger the function has afterwards."""
        trigger = functions.add_trigger(FUNCTION, ANOMALY_STREAM, on_failure=self.parked_topic, quiet=True,
                                        **{**TRIGGER, **changes})
        return {**trigger, "function_triggers": functions.triggers(FUNCTION)}

    def set_environment(self, **environment: str) -> None:
        self.lam.update_function_configuration(FunctionName=FUNCTION, Environment={
            "Variables": {"OUTPUT_TABLE_NAME": TABLE, "DELIVERY_TABLE": DELIVERIES, **environment}})

    def job_id(self) -> str:
        return lab.status()["components"]["flink"]["applications"][NAMES.anomaly_app]["job_id"]

    def teardown(self) -> None:
        lab.apps.stop(NAMES.anomaly_app, snapshot=False, quiet=True)
        functions.delete(FUNCTION)
        lab.tables.delete(TABLE, quiet=True)
        lab.tables.delete(DELIVERIES, quiet=True)
        lab.topics.delete(PARKED_TOPIC)
        for stream in (WIND_STREAM, ANOMALY_STREAM):
            lab.streams.delete(stream, quiet=True)


def stale_app_code() -> list[str]:
    """The AnomalyDetection sources that differ from the zip the app is created from (flink/target)."""
    folder = FLINK_DIR / lab.apps.APP_FOLDERS[NAMES.anomaly_app]
    with zipfile.ZipFile(lab.apps.package(NAMES.anomaly_app)) as archive:
        return [source.name for source in sorted(folder.glob("*.py"))
                if source.name not in archive.namelist() or archive.read(source.name) != source.read_bytes()]


@pytest.fixture(scope="session")
def drill(stack):
    """The drill pipeline, built once for the session (the drills and the security tests share it), on a freshly
    restarted stack: by now the session's Flink cluster has run dozens of jobs, and in one full run the drill's job
    then failed to start its Python worker ("Failed to create stage bundle factory"), which it never does alone."""
    stale = stale_app_code()
    if stale:
        pytest.fail(f"{', '.join(stale)} changed since flink/target/anomaly_detection.zip was built, so the app "
                    "would run old code: rebuild it with `mvn -q -f flink/pom.xml package`.")
    lab.down(quiet=True)
    lab.up(quiet=True)
    pipeline = DrillPipeline().build()
    yield pipeline
    pipeline.teardown()


def flink(path: str) -> dict:
    """GET from the local Flink cluster's REST API."""
    with urllib.request.urlopen(f"{lab.settings().flink_url}{path}", timeout=10) as answer:
        return json.load(answer)


def replays(prefix: str) -> int:
    """How many records of a drill DrillAnomalyStream holds beyond one per event id (written again by a job
    that restored an earlier state, or re-sent): the trigger delivers each of them again."""
    ids = Counter(event_id(r["Data"]) for r in read_stream(ANOMALY_STREAM))
    return sum(n - 1 for found, n in ids.items() if str(found).startswith(f"{prefix}:"))


def event_id(data: bytes) -> str | None:
    """The event id in a record's data, if it is a JSON object with one (the streams also hold drill junk)."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return value.get("event_id") if isinstance(value, dict) else None


def function_log() -> list[str]:
    """Every line the drill function logged in the past hour."""
    return functions.logs(FUNCTION, limit=1_000_000)
