"""The local Lambda runtime follows AWS Lambda's rules: Kinesis event source mappings (one test per rule)
and invocations by hand (the console's Test button).

Everything here uses the ordinary boto3 calls. The probe function appends each invocation (records, shard,
whether it failed) to a file, so the tests read exactly what the function received."""
from __future__ import annotations

import base64
import io
import json
import time
import uuid
import zipfile

import pytest

from labkit.local import control
from labkit.progress import wait_until
from tests.conftest import aws_client, free_port

PROBE = '''
import base64, json, os, time

def handler(event, context):
    started = time.time()
    time.sleep(float(os.environ.get("SLEEP", "0")))
    records = event["Records"]
    data = [base64.b64decode(r["kinesis"]["data"]).decode() for r in records]
    poison, mode, out = os.environ.get("POISON"), os.environ.get("MODE"), os.environ["OUT"]
    first_time = not os.path.exists(out + ".failed-once")
    failing = poison in data and (mode == "raise" or first_time)  # "raise-once", "report-once": first time only
    with open(out, "a") as log:
        log.write(json.dumps({"data": data, "shard": records[0]["eventID"].split(":")[0], "failed": failing,
                              "first": records[0], "remaining_ms": context.get_remaining_time_in_millis(),
                              "started": started, "ended": time.time()}) + "\\n")
    if failing:
        open(out + ".failed-once", "w").close()
        if mode == "report-once":
            return {"batchItemFailures": [{"itemIdentifier": records[data.index(poison)]["kinesis"]["sequenceNumber"]}]}
        raise ValueError(f"poison record {poison!r} in the batch")
    return {"batchItemFailures": []}
'''


ECHO = '''
import os, time
VERSION = {version}

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    if "write" in event:
        open(event["write"], "w").write("ran")
    names = ("AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "GREETING")
    return {{"version": VERSION, "env": {{name: os.environ.get(name) for name in names}},
            "context": [context.function_name, context.log_group_name, context.get_remaining_time_in_millis() > 0]}}
'''


def probe_zip(source: str = PROBE, module: str = "probe") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{module}.py", source)
    return buffer.getvalue()


class Probe:
    """A stream, a probe function reading it, and what the function received."""

    def __init__(self, endpoint: str, folder, shards: int = 1):
        self.name = f"probe-{uuid.uuid4().hex[:8]}"
        self.endpoint = endpoint
        self.out = folder / f"{self.name}.jsonl"
        self.kinesis = aws_client("kinesis", endpoint)
        self.lam = aws_client("lambda", endpoint)
        self.functions: list[str] = []
        self.kinesis.create_stream(StreamName=self.name, ShardCount=shards)
        self.stream_arn = self.kinesis.describe_stream_summary(StreamName=self.name)[
            "StreamDescriptionSummary"]["StreamARN"]
        iam = aws_client("iam", endpoint)
        try:
            self.role = iam.get_role(RoleName="esm-probe")["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            self.role = iam.create_role(RoleName="esm-probe", AssumeRolePolicyDocument="{}")["Role"]["Arn"]

    def function(self, suffix: str = "", **env) -> str:
        name = self.name + suffix
        self.functions.append(name)
        self.lam.create_function(FunctionName=name, Runtime="python3.11", Role=self.role, Handler="probe.handler",
                                 Code={"ZipFile": probe_zip()}, Timeout=10,
                                 Environment={"Variables": {"OUT": str(self.out) + suffix, **env}})
        return name

    def map(self, function: str, **options) -> str:
        options.setdefault("StartingPosition", "TRIM_HORIZON")
        return self.lam.create_event_source_mapping(FunctionName=function, EventSourceArn=self.stream_arn,
                                                    **options)["UUID"]

    def remove(self) -> None:
        """Delete what the probe created, so no poller keeps reading for the rest of the session."""
        for mapping in self.lam.list_event_source_mappings(EventSourceArn=self.stream_arn)["EventSourceMappings"]:
            self.lam.delete_event_source_mapping(UUID=mapping["UUID"])
        for function in self.functions:
            self.lam.delete_function(FunctionName=function)
        self.kinesis.delete_stream(StreamName=self.name, EnforceConsumerDeletion=True)

    def put(self, *data: str, key: str = "k") -> None:
        self.kinesis.put_records(StreamName=self.name, Records=[{"Data": d.encode(), "PartitionKey": key}
                                                                 for d in data])

    def put_per_key(self, keys: list[str], rounds: int) -> list[str]:
        """Put `rounds` records "<key>/<round>" of each key, round after round; returns them in put order."""
        data = [f"{key}/{n}" for n in range(rounds) for key in keys]
        self.kinesis.put_records(StreamName=self.name, Records=[{"Data": d.encode(), "PartitionKey": d.split("/")[0]}
                                                                 for d in data])
        return data

    def invocations(self, suffix: str = "") -> list[dict]:
        try:
            with open(str(self.out) + suffix) as handle:
                return [json.loads(line) for line in handle]
        except FileNotFoundError:
            return []

    def delivered(self, suffix: str = "") -> list[str]:
        """Records in the invocations that succeeded (a reported item failure keeps those before it)."""
        return [d for i in self.invocations(suffix) for d in i["data"] if not i["failed"]]

    def wait(self, condition, what: str, timeout_s: float = 30) -> None:
        wait_until(condition, timeout_s, what, quiet=True, interval_s=0.1)

    def queue(self) -> tuple[str, str]:
        sqs = aws_client("sqs", self.endpoint)
        url = sqs.create_queue(QueueName=f"{self.name}-failures")["QueueUrl"]
        return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def failure_records(self, url: str, expected: int) -> list[dict]:
        sqs, found = aws_client("sqs", self.endpoint), []

        def received() -> bool:
            found.extend(json.loads(m["Body"]) for m in sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []))
            return len(found) >= expected

        self.wait(received, "the on-failure destination to receive the discarded batch")
        return found


@pytest.fixture
def probes(stack, tmp_path):
    """Make probes on the shared stack; they are removed after the test."""
    made: list[Probe] = []

    def make(shards: int = 1) -> Probe:
        made.append(Probe(stack.endpoint_url, tmp_path, shards))
        return made[-1]

    yield make
    for probe in made:
        probe.remove()


@pytest.fixture
def probe(probes):
    return probes()


def numbered(count: int, start: int = 0) -> list[str]:
    return [f"r{i:02d}" for i in range(start, start + count)]


def test_batch_size_caps_each_invocation_and_the_event_has_aws_shape(probe):
    function = probe.function()
    probe.put(*numbered(25))  # before the mapping: its first read finds the whole call (a read may see part of one)
    probe.map(function, BatchSize=10)
    probe.wait(lambda: len(probe.delivered()) == 25, "25 records")
    invocations = probe.invocations()
    assert [len(i["data"]) for i in invocations] == [10, 10, 5]
    assert probe.delivered() == numbered(25)
    first = invocations[0]["first"]
    assert set(first) == {"kinesis", "eventSource", "eventVersion", "eventID", "eventName", "invokeIdentityArn",
                          "awsRegion", "eventSourceARN"}
    assert set(first["kinesis"]) == {"kinesisSchemaVersion", "partitionKey", "sequenceNumber", "data",
                                     "approximateArrivalTimestamp"}
    assert (first["eventSourceARN"], first["invokeIdentityArn"], first["eventName"]) == (
        probe.stream_arn, probe.role, "aws:kinesis:record")
    assert first["eventID"] == f"shardId-000000000000:{first['kinesis']['sequenceNumber']}"
    assert 0 < invocations[0]["remaining_ms"] <= 10_000


def test_batching_window_gathers_records_put_apart_into_one_invocation(probe):
    function = probe.function()
    probe.map(function, BatchSize=100, MaximumBatchingWindowInSeconds=4)
    for record in numbered(4):
        probe.put(record)
        time.sleep(0.4)  # longer than the poller's interval: without the window each record goes alone
    probe.wait(lambda: probe.delivered(), "the batch")
    assert [i["data"] for i in probe.invocations()] == [numbered(4)]


def test_starting_positions_latest_trim_horizon_and_at_timestamp(probe):
    probe.put(*numbered(3))
    time.sleep(0.3)
    middle = time.time()
    time.sleep(0.3)
    probe.put(*numbered(2, start=3))
    for position, suffix in (("TRIM_HORIZON", "-trim"), ("LATEST", "-latest"), ("AT_TIMESTAMP", "-at")):
        options = {"StartingPositionTimestamp": middle} if position == "AT_TIMESTAMP" else {}
        probe.map(probe.function(suffix), StartingPosition=position, **options)
    probe.put(*numbered(2, start=5))
    probe.wait(lambda: len(probe.delivered("-trim")) == 7 and len(probe.delivered("-latest")) == 2
               and len(probe.delivered("-at")) == 4, "each mapping's records")
    assert probe.delivered("-trim") == numbered(7)
    assert probe.delivered("-latest") == numbered(2, start=5)
    assert probe.delivered("-at") == numbered(4, start=3)


def test_records_of_each_shard_are_delivered_in_order_even_across_a_retry(probes):
    two_shards = probes(shards=2)
    function = two_shards.function(POISON="r13", MODE="raise-once")
    two_shards.map(function, BatchSize=3)
    for start in range(0, 40, 4):
        two_shards.put(*numbered(4, start=start), key=f"turbine-{start}")
    two_shards.wait(lambda: len(two_shards.delivered()) == 40, "all 40 records")
    shards = {i["shard"] for i in two_shards.invocations()}
    assert len(shards) == 2, "the partition keys should spread over both shards"
    assert any(i["failed"] for i in two_shards.invocations()), "the poison batch should have failed once"
    for shard in shards:
        received = [d for i in two_shards.invocations() if i["shard"] == shard and not i["failed"] for d in i["data"]]
        assert received == sorted(received), f"{shard} out of order: {received}"
    assert sorted(two_shards.delivered()) == numbered(40)


def key_order_kept(delivered: list[str], keys: list[str], rounds: int) -> bool:
    return all([d for d in delivered if d.split("/")[0] == key] == [f"{key}/{n}" for n in range(rounds)]
               for key in keys)


def overlapping(invocations: list[dict]) -> int:
    """How many pairs of invocations ran at the same time."""
    return sum(a["started"] < b["ended"] and b["started"] < a["ended"]
               for i, a in enumerate(invocations) for b in invocations[i + 1:])


def test_parallelization_factor_runs_a_shards_batches_at_once_keeping_each_keys_order(probe):
    parallel, serial = probe.function("-parallel", SLEEP="0.4"), probe.function("-serial", SLEEP="0.4")
    keys = [f"turbine-{n}" for n in range(8)]
    sent = probe.put_per_key(keys, rounds=5)
    probe.map(parallel, BatchSize=5, ParallelizationFactor=4)
    probe.map(serial, BatchSize=5)
    probe.wait(lambda: len(probe.delivered("-parallel")) == len(sent) == len(probe.delivered("-serial")),
               "both mappings to deliver all 40 records", timeout_s=60)
    for suffix in ("-parallel", "-serial"):
        delivered = probe.delivered(suffix)  # in the order the invocations ended
        assert sorted(delivered) == sorted(sent), f"{suffix}: every record exactly once"
        assert key_order_kept(delivered, keys, rounds=5), f"{suffix}: a key's records out of order: {delivered}"
        assert all(len(i["data"]) <= 5 for i in probe.invocations(suffix))
    assert overlapping(probe.invocations("-parallel")) > 0, "ParallelizationFactor=4 never ran two batches at once"
    assert overlapping(probe.invocations("-serial")) == 0, "without it a shard's batches must run one at a time"
    invocations = probe.invocations("-parallel")
    for i, invocation in enumerate(invocations):  # a key's records never run in two invocations at once
        for other in invocations[i + 1:]:
            if overlapping([invocation, other]):
                assert not {d.split("/")[0] for d in invocation["data"]} & {d.split("/")[0] for d in other["data"]}


def test_a_failed_batch_in_one_lane_is_retried_without_losing_or_reordering_any_key(probe):
    function = probe.function(POISON="turbine-3/2", MODE="raise-once")
    probe.map(function, BatchSize=3, ParallelizationFactor=3)
    keys = [f"turbine-{n}" for n in range(6)]
    sent = probe.put_per_key(keys, rounds=4)
    probe.wait(lambda: len(probe.delivered()) == len(sent), "all 24 records")
    assert any(i["failed"] for i in probe.invocations()), "the poison batch should have failed once"
    assert sorted(probe.delivered()) == sorted(sent)
    assert key_order_kept(probe.delivered(), keys, rounds=4)


def test_maximum_retry_attempts_then_the_batch_goes_to_the_on_failure_destination(probe):
    url, queue_arn = probe.queue()
    function = probe.function(POISON="r02", MODE="raise")
    probe.put(*numbered(8))
    probe.map(function, BatchSize=5, MaximumRetryAttempts=2,
              DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    probe.wait(lambda: probe.delivered() == numbered(3, start=5), "the batch after the poison one")
    assert [i["data"] for i in probe.invocations() if i["failed"]] == [numbered(5)] * 3  # 1 try + 2 retries
    [failure] = probe.failure_records(url, 1)
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["KinesisBatchInfo"]["batchSize"] == 5


def test_bisect_delivers_every_other_record_and_sends_the_poison_one_away_with_its_reason(probe):
    url, queue_arn = probe.queue()
    function = probe.function(POISON="r06", MODE="raise")
    probe.put(*numbered(10))
    probe.map(function, BatchSize=10, BisectBatchOnFunctionError=True, MaximumRetryAttempts=1,
              DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    [failure] = probe.failure_records(url, 1)
    probe.wait(lambda: len(probe.delivered()) == 9, "the nine good records")
    assert probe.delivered() == [r for r in numbered(10) if r != "r06"]
    poison_sequence = next(i["first"]["kinesis"]["sequenceNumber"] for i in probe.invocations() if i["data"] == ["r06"])
    assert failure["KinesisBatchInfo"]["batchSize"] == 1
    assert failure["KinesisBatchInfo"]["startSequenceNumber"] == poison_sequence
    assert failure["KinesisBatchInfo"]["streamArn"] == probe.stream_arn
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["responseContext"]["functionError"] == "Unhandled"
    logs = aws_client("logs", probe.endpoint).filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    assert any("ValueError: poison record 'r06' in the batch" in e["message"] for e in logs)


def test_report_batch_item_failures_retries_only_from_the_failed_record_on(probe):
    function = probe.function(POISON="r04", MODE="report-once")
    probe.put(*numbered(10))
    probe.map(function, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])
    probe.wait(lambda: len(probe.invocations()) == 2, "the retry")
    assert [i["data"] for i in probe.invocations()] == [numbered(10), numbered(6, start=4)]


def test_reported_item_failures_are_ignored_without_the_response_type(probe):
    function = probe.function(POISON="r04", MODE="report-once")
    probe.put(*numbered(10))
    probe.map(function, BatchSize=10)
    probe.wait(lambda: probe.invocations(), "the first batch")
    probe.put("after")
    probe.wait(lambda: "after" in [d for i in probe.invocations() for d in i["data"]], "the next record")
    assert [i["data"] for i in probe.invocations()] == [numbered(10), ["after"]]


def test_disabled_mapping_holds_records_until_it_is_enabled_again(probe):
    function = probe.function()
    mapping = probe.map(function)
    probe.put("before")
    probe.wait(lambda: probe.delivered() == ["before"], "the first record")
    assert probe.lam.update_event_source_mapping(UUID=mapping, Enabled=False)["State"] == "Disabled"
    probe.put(*numbered(3))
    time.sleep(1.5)  # several polling intervals
    assert probe.delivered() == ["before"]
    probe.lam.update_event_source_mapping(UUID=mapping, Enabled=True)
    probe.wait(lambda: len(probe.delivered()) == 4, "the held records")
    assert probe.delivered() == ["before", *numbered(3)]


def test_a_stream_deleted_and_created_again_is_read_from_its_first_record(probe):
    function = probe.function()
    probe.map(function)
    probe.put(*numbered(5))
    probe.wait(lambda: len(probe.delivered()) == 5, "the first stream's records")
    probe.kinesis.delete_stream(StreamName=probe.name)
    probe.wait(lambda: probe.name not in probe.kinesis.list_streams()["StreamNames"], "the stream to be deleted")
    probe.kinesis.create_stream(StreamName=probe.name, ShardCount=1)
    probe.put(*numbered(3, start=5))
    probe.wait(lambda: len(probe.delivered()) == 8, "the new stream's records")
    assert probe.delivered() == numbered(8)


@pytest.fixture
def own_stack(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_STATE_DIR", str(tmp_path / "state"))
    for var in ("LABKIT_AWS_PORT", "LABKIT_SERVICE_PORT", "LABKIT_FLINK_PORT"):
        monkeypatch.setenv(var, str(free_port()))
    yield control.up(quiet=True)["endpoint"]
    control.down(quiet=True)


def test_checkpoint_and_mapping_survive_a_stack_restart(own_stack, tmp_path):
    probe = Probe(own_stack, tmp_path)
    function = probe.function()
    mapping = probe.map(function, BatchSize=2)
    probe.put(*numbered(5))
    probe.wait(lambda: len(probe.delivered()) == 5, "the first five records")
    control.down(quiet=True)
    control.up(quiet=True)
    assert aws_client("lambda", own_stack).get_event_source_mapping(UUID=mapping)["State"] == "Enabled"
    probe.put(*numbered(5, start=5))
    probe.wait(lambda: len(probe.delivered()) >= 10, "the next five records")
    assert probe.delivered() == numbered(10), "records before the restart must not be delivered again"


def test_lanes_checkpoint_so_a_restart_delivers_nothing_again(own_stack, tmp_path):
    probe = Probe(own_stack, tmp_path)
    probe.map(probe.function(), BatchSize=2, ParallelizationFactor=3)
    keys = [f"turbine-{n}" for n in range(5)]
    before = probe.put_per_key(keys, rounds=3)
    probe.wait(lambda: len(probe.delivered()) == len(before), "the first 15 records")
    control.down(quiet=True)
    control.up(quiet=True)
    after = [f"{key}/later" for key in keys]
    probe.kinesis.put_records(StreamName=probe.name, Records=[{"Data": d.encode(), "PartitionKey": d.split("/")[0]}
                                                               for d in after])
    probe.wait(lambda: len(probe.delivered()) >= len(before) + len(after), "the records put after the restart")
    assert sorted(probe.delivered()) == sorted(before + after), "the restart delivered records again or lost some"


# ---- invocations by hand ------------------------------------------------------------------------------------


@pytest.fixture
def echo(probe):
    probe.functions.append(probe.name)
    probe.lam.create_function(FunctionName=probe.name, Runtime="python3.11", Role=probe.role, Handler="echo.handler",
                              Code={"ZipFile": probe_zip(ECHO.format(version=1), "echo")}, Timeout=1,
                              Environment={"Variables": {"GREETING": "hello", "AWS_REGION": "eu-west-1"}})
    return probe


def invoke(probe: Probe, payload: dict, **options) -> tuple[dict, dict]:
    response = probe.lam.invoke(FunctionName=probe.name, Payload=json.dumps(payload).encode(), **options)
    return response, json.loads(response["Payload"].read() or b"null")


def test_invoke_runs_the_handler_with_lambdas_environment_and_returns_its_log(echo):
    response, result = invoke(echo, {}, LogType="Tail")
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert result["env"] == {"AWS_LAMBDA_FUNCTION_NAME": echo.name, "AWS_REGION": "us-east-1",
                             "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": echo.endpoint, "GREETING": "hello"}
    assert result["context"] == [echo.name, f"/aws/lambda/{echo.name}", True]
    tail = base64.b64decode(response["LogResult"]).decode()
    assert tail.startswith("START RequestId: ") and "END RequestId: " in tail and "REPORT RequestId: " in tail


def test_event_invocation_returns_at_once_and_runs_the_handler(echo, tmp_path):
    marker = tmp_path / "ran"
    response, _ = invoke(echo, {"write": str(marker)}, InvocationType="Event")
    assert response["StatusCode"] == 202
    echo.wait(marker.exists, "the asynchronous invocation")


def test_a_handler_running_past_its_timeout_is_stopped_and_the_next_invocation_works(echo):
    response, result = invoke(echo, {"sleep": 3})
    assert response["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in result["errorMessage"]
    assert invoke(echo, {})[1]["version"] == 1


def test_new_code_takes_effect_at_the_next_invocation(echo):
    assert invoke(echo, {})[1]["version"] == 1
    echo.lam.update_function_code(FunctionName=echo.name, ZipFile=probe_zip(ECHO.format(version=2), "echo"))
    assert invoke(echo, {})[1]["version"] == 2
