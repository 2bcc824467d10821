"""Every patch of moto in labkit's registry (labkit/local/moto_patches.py), each proven in-process.

A proof test (`@proves(...)`) runs twice: with every patch applied, where it must pass, and with every patch
but the ones it proves, a strict xfail that must fail with the exception it names (so a broken set-up cannot
pass for the defect). A meta-test checks that the patches proven here are exactly the registry's entries.
"""
from __future__ import annotations

import binascii
import io
import json
import os
import pickle
import re
import sys
import threading
import time
import tracemalloc
import zipfile
from urllib.parse import parse_qs, urlparse

import boto3
import moto
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.backends import get_backend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from labkit.config import CONFIRMATION_SUBJECT, Settings, settings
from labkit.local import kinesis_fixes, moto_patches, sns_email
from labkit.local.lambda_runtime import LambdaRuntime
from labkit.local.managed_flink import LocalManagedFlink
from labkit.progress import wait_until
from tests.unit.conftest import registry_restored

from ..conftest import free_port
from ..stack.test_kinesis_resharding import (assert_merging_keeps_records, assert_resharding_keeps_records,
                                             double, halve, merge, split)

PROVEN: dict[str, set[str]] = {}  # patch id -> the tests that prove it


def proves(*patch_ids: str, raises: type[BaseException]):
    """Mark a test as the proof of these patches: it passes with them, and fails with `raises` without them."""
    def mark(test):
        for patch_id in patch_ids:
            PROVEN.setdefault(patch_id, set()).add(test.__name__)
        test.proves = patch_ids
        names = ", ".join(".".join(patch_id.split(".")[-2:]) for patch_id in patch_ids)
        without = pytest.param("without", marks=pytest.mark.xfail(strict=True, raises=raises,
                                                                  reason=f"moto without {names}"))
        return pytest.mark.parametrize("patched_moto", ["patched", without], indirect=True)(test)
    return mark


@pytest.fixture
def patched_moto(request):
    """moto in-process with every registry patch, or (param "without") every patch but the test's own."""
    with registry_restored():
        moto_patches.undo()
        moto_patches.apply(request.function.proves if getattr(request, "param", "") == "without" else ())
        with mock_aws():
            yield


@pytest.fixture
def stock_moto():
    with registry_restored():
        moto_patches.undo()
        yield


def _aws(service: str):
    return boto3.client(service, region_name="us-east-1")


# -- the registry --------------------------------------------------------------------------------------

def test_every_registry_entry_is_proven_here_and_names_its_proof():
    entries = {patch.id: patch for patch in moto_patches.patches()}
    assert set(entries) == set(PROVEN), "a patch without a proof, or a proof of a patch that is not in the registry"
    for patch_id, patch in entries.items():
        assert patch.proof in PROVEN[patch_id], f"{patch_id} names {patch.proof} as its proof, which does not prove it"
        assert patch.reason


def test_another_moto_version_is_refused_with_a_sentence_and_nothing_is_patched(stock_moto, monkeypatch):
    monkeypatch.setattr(moto, "__version__", "5.3.0")
    with pytest.raises(moto_patches.WrongMotoVersion, match=r"against moto 5\.2\.5, but moto 5\.3\.0 .*make setup"):
        moto_patches.apply()
    assert moto_patches.applied() == []


def test_undo_puts_every_original_back(stock_moto):
    originals = [(patch.owner, patch.name, patch.owner.__dict__.get(patch.name)) for patch in moto_patches.patches()]
    moto_patches.apply()
    assert all(getattr(owner, name) is patch.replacement for (owner, name, _), patch
               in zip(originals, moto_patches.applied()))
    moto_patches.undo()
    assert [(owner, name, owner.__dict__.get(name)) for owner, name, _ in originals] == originals


# -- Kinesis (kinesis_fixes.py) --------------------------------------------------------------------------

SHARD_LOG = tuple(f"moto.kinesis.models.Shard.{name}" for name in (
    "records", "put_record", "get_records", "get_min_sequence_number", "get_max_sequence_number",
    "get_sequence_number_at"))


@pytest.fixture
def kinesis(patched_moto):
    client = _aws("kinesis")
    client.create_stream(StreamName="s", ShardCount=1)
    return client


def _fill(client, count: int) -> None:
    for start in range(0, count, 500):
        client.put_records(StreamName="s", Records=[
            {"Data": b"%d" % i, "PartitionKey": "p"} for i in range(start, min(start + 500, count))])


def _iterator(client, kind="TRIM_HORIZON", **extra):
    return client.get_shard_iterator(StreamName="s", ShardId="shardId-000000000000",
                                     ShardIteratorType=kind, **extra)["ShardIterator"]


def _line_events(fn) -> int:
    """Python lines executed by `fn` inside moto's and labkit's Kinesis code (a work count, not a time)."""
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if event == "line" and "kinesis" in frame.f_code.co_filename:
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return count


@proves(*SHARD_LOG, raises=AssertionError)
def test_reading_the_tail_of_a_long_shard_does_not_rescan_it(kinesis):
    _fill(kinesis, 200)
    short = _line_events(lambda: kinesis.get_records(ShardIterator=_iterator(kinesis, "LATEST"), Limit=10))
    _fill(kinesis, 5000)
    long = _line_events(lambda: kinesis.get_records(ShardIterator=_iterator(kinesis, "LATEST"), Limit=10))
    assert long <= short * 1.5, f"reading at the tail cost {long} lines at 5,200 records vs {short} at 200"


@proves(*SHARD_LOG, raises=AssertionError)
def test_a_put_costs_the_same_memory_at_any_stream_length(kinesis):
    def peak_of_one_put() -> int:
        peaks = []
        for _ in range(3):  # the lowest of three: the first put also allocates one-time caches
            tracemalloc.start()
            kinesis.put_record(StreamName="s", Data=b"x", PartitionKey="p")
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
        return min(peaks)

    _fill(kinesis, 100)
    small = peak_of_one_put()
    _fill(kinesis, 20_000)
    large = peak_of_one_put()
    assert large < small + 40_000, f"one put peaked at {large} bytes with 20k records vs {small} with 100"


@proves("moto.kinesis.models.KinesisBackend.get_records", raises=AssertionError)
def test_records_older_than_the_retention_period_are_trimmed(kinesis, monkeypatch):
    _fill(kinesis, 10)
    monkeypatch.setattr(kinesis_fixes, "clock", lambda: time.time() + 25 * 3600)
    records = kinesis.get_records(ShardIterator=_iterator(kinesis))["Records"]
    assert records == []


@proves("moto.kinesis.models.KinesisBackend.get_records", raises=binascii.Error)
def test_an_invalid_shard_iterator_is_an_invalid_argument(kinesis):
    with pytest.raises(ClientError) as error:
        kinesis.get_records(ShardIterator="not-a-valid-iterator!!")
    assert error.value.response["Error"]["Code"] == "InvalidArgumentException"


@proves("moto.kinesis.models.Shard.get_min_sequence_number", raises=AssertionError)
def test_a_shards_starting_sequence_number_stays_when_its_records_are_trimmed(kinesis, monkeypatch):
    def starting() -> str:
        return kinesis.list_shards(StreamName="s")["Shards"][0]["SequenceNumberRange"]["StartingSequenceNumber"]

    created = starting()
    _fill(kinesis, 3)
    monkeypatch.setattr(kinesis_fixes, "clock", lambda: time.time() + 25 * 3600)
    kinesis.get_records(ShardIterator=_iterator(kinesis))  # trims all 3
    kinesis.put_record(StreamName="s", Data=b"new", PartitionKey="p")
    assert (created, starting()) == ("1", "1")


@proves(*(f"moto.kinesis.models.{name}" for name in ("Stream.split_shard", "Stream.get_shard_for_key",
                                                      "KinesisBackend.get_records")), raises=AssertionError)
@pytest.mark.parametrize("reshard", [split, double], ids=["SplitShard", "UpdateShardCount"])
def test_resharding_keeps_every_record_with_its_number(patched_moto, reshard):
    assert_resharding_keeps_records(_aws("kinesis"), "s", reshard)


@proves("moto.kinesis.models.Stream.merge_shards", raises=AssertionError)
@pytest.mark.parametrize("reshard", [merge, halve], ids=["MergeShards", "UpdateShardCount"])
def test_merging_keeps_every_record_with_its_number(patched_moto, reshard):
    assert_merging_keeps_records(_aws("kinesis"), "s", reshard)


@pytest.fixture
def limits_on(monkeypatch):
    """The stack's setting LABKIT_KINESIS_LIMITS=on, and a client that does not retry what is refused."""
    from botocore.config import Config

    monkeypatch.setenv(kinesis_fixes.LIMITS_SETTING, "on")
    return boto3.client("kinesis", region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}))


def _code(call) -> str | None:
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"]
    return None


@proves("moto.kinesis.models.KinesisBackend.get_records", raises=AssertionError)
def test_a_sixth_get_records_within_a_second_on_one_shard_is_throttled(kinesis, limits_on):
    _fill(kinesis, 3)
    iterator = _iterator(kinesis)
    started = time.monotonic()
    codes = [_code(lambda: limits_on.get_records(ShardIterator=iterator)) for _ in range(6)]
    assert time.monotonic() - started < 1, "the six calls took more than a second: cannot judge the limit"
    assert codes == [None] * 5 + ["ProvisionedThroughputExceededException"]
    time.sleep(1.05)
    assert len(limits_on.get_records(ShardIterator=iterator)["Records"]) == 3


@proves("moto.kinesis.models.KinesisBackend.get_records", raises=AssertionError)
def test_reading_more_than_2_mib_a_second_from_a_shard_holds_the_next_read_back(kinesis, limits_on, monkeypatch):
    monkeypatch.setenv(kinesis_fixes.LIMITS_SETTING, "off")  # 3 MiB in at once, beyond the write limit
    kinesis.put_records(StreamName="s", Records=[{"Data": b"x" * (2**20 - 1), "PartitionKey": "p"}] * 3)
    monkeypatch.setenv(kinesis_fixes.LIMITS_SETTING, "on")
    iterator = _iterator(kinesis)
    first = limits_on.get_records(ShardIterator=iterator)
    assert len(first["Records"]) == 3
    assert _code(lambda: limits_on.get_records(ShardIterator=first["NextShardIterator"])) == (
        "ProvisionedThroughputExceededException")


@proves("moto.kinesis.models.KinesisBackend.put_records", "moto.kinesis.models.Stream.put_record",
        raises=AssertionError)
def test_put_records_beyond_a_shards_write_limit_fail_entry_by_entry(kinesis, limits_on):
    answers = [limits_on.put_records(StreamName="s", Records=[{"Data": b"%d" % i, "PartitionKey": "p"}
                                                              for i in range(count)]) for count in (500, 500, 100)]
    assert [a["FailedRecordCount"] for a in answers] == [0, 0, 100]
    assert {r.get("ErrorCode") for r in answers[2]["Records"]} == {"ProvisionedThroughputExceededException"}
    assert answers[2]["Records"][0]["ErrorMessage"] == (
        "Rate exceeded for shard shardId-000000000000 in stream s under account 123456789012.")
    stored = kinesis.get_records(ShardIterator=_iterator(kinesis), Limit=10_000)["Records"]
    assert len(stored) == 1000, "a refused entry must not be stored"


@proves("moto.kinesis.models.Stream.put_record", raises=AssertionError)
def test_put_record_beyond_a_shards_write_limit_is_throttled(kinesis, limits_on):
    big = [{"Data": b"x" * (2**19), "PartitionKey": "p"}] * 2  # 1 MiB and 2 bytes of key: over by the keys
    answer = limits_on.put_records(StreamName="s", Records=big[:1])
    assert answer["FailedRecordCount"] == 0
    assert _code(lambda: limits_on.put_record(StreamName="s", Data=b"x" * (2**19), PartitionKey="p")) == (
        "ProvisionedThroughputExceededException")


def test_without_the_setting_a_shard_serves_any_rate(kinesis):
    _fill(kinesis, 1500)
    iterator = _iterator(kinesis)
    assert all(kinesis.get_records(ShardIterator=iterator, Limit=1)["Records"] for _ in range(8))


def _function_zip(body: str = "def handler(event, context):\n    return None\n") -> bytes:
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("f.py", body)
    return code.getvalue()


def _create_function(body: str | None = None) -> str:
    role = _aws("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return _aws("lambda").create_function(FunctionName="f", Runtime="python3.11", Role=role, Handler="f.handler",
                                          Code={"ZipFile": _function_zip(*([body] if body else []))})["FunctionArn"]


def _stream_arn(kinesis) -> str:
    return kinesis.describe_stream(StreamName="s")["StreamDescription"]["StreamARN"]


@proves("moto.kinesis.models.Stream.put_record", raises=AssertionError)
def test_put_record_does_not_invoke_mapped_lambdas_synchronously(kinesis, monkeypatch):
    from moto.awslambda.models import LambdaBackend

    calls = []
    monkeypatch.setattr(LambdaBackend, "send_kinesis_message", lambda self, **kw: calls.append(kw))
    _create_function()
    _aws("lambda").create_event_source_mapping(FunctionName="f", EventSourceArn=_stream_arn(kinesis),
                                               StartingPosition="LATEST")
    kinesis.put_record(StreamName="s", Data=b"x", PartitionKey="p")
    assert calls == []


@proves("moto.kinesis.models.Stream.put_record", raises=AssertionError)
def test_concurrent_puts_get_distinct_sequence_numbers(kinesis):
    """The stream lock: without it, threads that switch mid-put hand out one sequence number twice."""
    def produce(producer: int) -> None:
        for n in range(300):
            kinesis.put_records(StreamName="s", Records=[{"Data": b"%d-%d" % (producer, n), "PartitionKey": "p"}])

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=produce, args=(p,)) for p in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    records = kinesis.get_records(ShardIterator=_iterator(kinesis), Limit=10_000)["Records"]
    assert len({r["SequenceNumber"] for r in records}) == len(records) == 1200
    assert {r["Data"] for r in records} == {b"%d-%d" % (p, n) for p in range(4) for n in range(300)}


@proves("moto.kinesis.models.Stream.__getstate__", raises=TypeError)
def test_a_stream_that_was_written_pickles(kinesis):
    _fill(kinesis, 3)
    stream = get_backend("kinesis")["123456789012"]["us-east-1"].streams["s"]
    copy = pickle.loads(pickle.dumps(stream))
    assert [r.data for r in copy.shards["shardId-000000000000"].records.values()] == ["MA==", "MQ==", "Mg=="]


# -- the server's dispatch (moto_dispatch.py) ------------------------------------------------------------

@proves("moto.backends.list_of_moto_modules", raises=AssertionError)
def test_the_dispatcher_lists_moto_s_folder_once(patched_moto, monkeypatch):
    dispatcher = DomainDispatcherApplication(create_backend_app)
    dispatcher.get_backend_for_host("kinesis")  # the first request may list it
    listings = []
    real_listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda path: listings.append(path) or real_listdir(path))
    found = [dispatcher.get_backend_for_host(host) for host in ["kinesis", "dynamodb", "sns"] * 3]
    assert found == ["kinesis", "dynamodb", "sns"] * 3
    assert listings == [], f"moto's folder was listed {len(listings)} times for 9 requests"


# -- SNS e-mail (sns_email.py) ----------------------------------------------------------------------------

def _email_subscription(to: str = "ops@example.com", **attributes) -> str:
    """A topic with a confirmed e-mail subscription (through the token of its confirmation mail)."""
    sns = _aws("sns")
    topic = sns.create_topic(Name="Alerts")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=to, Attributes=attributes)
    sns.confirm_subscription(TopicArn=topic, Token=_confirmation_token(to))
    return topic


def _confirmation_token(to: str) -> str:
    """The token in the link of the newest confirmation mail to `to`."""
    mail = [m for m in sns_email.messages(to=to) if m["subject"] == CONFIRMATION_SUBJECT][-1]
    link = re.search(r"http\S+", mail["body"]).group(0)
    return parse_qs(urlparse(link).query)["Token"][0]


def _alerts(to: str = "ops@example.com") -> list[str]:
    return [m["body"] for m in sns_email.messages(to=to) if m["subject"] != CONFIRMATION_SUBJECT]


@proves("moto.sns.models.Subscription.publish", raises=AssertionError)
def test_a_message_published_to_a_topic_reaches_its_email_inbox(patched_moto):
    topic = _email_subscription()
    _aws("sns").publish(TopicArn=topic, Subject="Anomaly", Message="score 4.5 at North Ridge")
    assert [(m["to"], m["topic"], m["subject"], m["body"]) for m in sns_email.messages()
            if m["subject"] != CONFIRMATION_SUBJECT] == [
        ("ops@example.com", "Alerts", "Anomaly", "score 4.5 at North Ridge")]


def test_the_inbox_keeps_what_the_filter_policy_lets_through_in_the_email_form(patched_moto):
    topic = _email_subscription(FilterPolicy=json.dumps({"level": ["high"]}))
    sns = _aws("sns")
    for level in ("low", "high"):
        sns.publish(TopicArn=topic, Message=json.dumps({"default": f"{level} default", "email": f"{level} mail"}),
                    MessageStructure="json",
                    MessageAttributes={"level": {"DataType": "String", "StringValue": level}})
    assert _alerts() == ["high mail"]


@proves("moto.sns.models.SNSBackend.subscribe", "moto.sns.responses.SNSResponse.confirm_subscription",
        "moto.sns.models.Subscription.subscription_arn", raises=AssertionError)
def test_an_email_subscription_gets_mail_only_after_it_is_confirmed(patched_moto):
    sns, to = _aws("sns"), "ops@example.com"
    topic = sns.create_topic(Name="Alerts")["TopicArn"]
    arn = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=to, ReturnSubscriptionArn=True)["SubscriptionArn"]
    assert [s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]] == [
        "PendingConfirmation"]
    assert [s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]] == ["PendingConfirmation"]
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"] == "true"
    sns.publish(TopicArn=topic, Subject="Anomaly", Message="before the confirmation")
    assert _alerts() == [], "nothing reaches a pending subscription"

    mail, = sns_email.messages(to=to)
    assert (mail["subject"], mail["topic"]) == (CONFIRMATION_SUBJECT, "Alerts")
    link = f"Confirm subscription: {settings().service_url}/confirmation.html?TopicArn=arn%3Aaws%3Asns%3A"
    assert link in mail["body"]
    with pytest.raises(ClientError, match=r"InvalidParameter.*Invalid token"):
        sns.confirm_subscription(TopicArn=topic, Token="0" * 64)
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=to)  # subscribing again sends the mail again
    assert [m["subject"] for m in sns_email.messages(to=to)] == [CONFIRMATION_SUBJECT] * 2
    assert sns.confirm_subscription(TopicArn=topic, Token=_confirmation_token(to))["SubscriptionArn"] == arn

    assert [s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]] == [arn]
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"] == "false"
    sns.publish(TopicArn=topic, Subject="Anomaly", Message="after the confirmation")
    assert _alerts() == ["after the confirmation"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=to)  # confirmed: no mail again
    assert len(sns_email.messages(to=to)) == 3


@proves("moto.sns.responses.SNSResponse.subscribe", raises=AssertionError)
def test_subscribe_answers_pending_confirmation_unless_asked_for_the_arn(patched_moto):
    sns = _aws("sns")
    topic = sns.create_topic(Name="Alerts")["TopicArn"]
    assert sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")["SubscriptionArn"] == (
        "pending confirmation")
    assert sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com",
                         ReturnSubscriptionArn=True)["SubscriptionArn"].startswith(f"{topic}:")


@proves("moto.sns.responses.SNSResponse.backend", raises=AssertionError)
def test_an_email_subscription_still_pending_after_48_hours_is_deleted(patched_moto):
    from labkit.local import replay_clock

    sns = _aws("sns")
    topic = sns.create_topic(Name="Alerts")["TopicArn"]
    with replay_clock.frozen_at(time.time() - sns_email.PENDING_LIFETIME_S - 1):
        sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="old@example.com")
    with replay_clock.frozen_at(time.time() - sns_email.PENDING_LIFETIME_S + 60):
        sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")
    expired = _confirmation_token("old@example.com")

    assert [s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]] == [
        "ops@example.com"], "the one pending for 48 hours is gone, the younger one stays"
    with pytest.raises(ClientError, match=r"InvalidParameter.*Invalid token"):
        sns.confirm_subscription(TopicArn=topic, Token=expired)
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="old@example.com")  # a new one, with a new token
    assert _confirmation_token("old@example.com") != expired
    sns.confirm_subscription(TopicArn=topic, Token=_confirmation_token("old@example.com"))
    sns.publish(TopicArn=topic, Subject="Anomaly", Message="after subscribing again")
    assert _alerts("old@example.com") == ["after subscribing again"]


# -- the Lambda runtime (lambda_runtime/runtime.py) ------------------------------------------------------

class RecordingRuntime:
    """Stands in for the Lambda runtime: notes what moto's patched methods hand it."""

    def __init__(self):
        self.heard: list = []
        self.mappings = self

    def sync(self) -> None:
        self.heard.append("sync")

    def stream_deleted(self, arn: str) -> None:
        self.heard.append(("stream deleted", arn))

    def forget_function(self, name: str) -> None:
        self.heard.append(("forget", name))


@pytest.fixture
def recording_runtime(patched_moto):
    runtime = RecordingRuntime()
    moto_patches.attach(LambdaRuntime.name, runtime)
    yield runtime
    moto_patches.detach(LambdaRuntime.name)


def _settings(tmp_path) -> Settings:
    return Settings(target="local", region="us-east-1", state_dir=tmp_path, aws_port=free_port(),
                    service_port=free_port(), flink_port=free_port())


@proves("moto.awslambda.models.LambdaFunction.invoke", raises=AssertionError)
def test_invoke_runs_the_handler_file(patched_moto, tmp_path):
    runtime = LambdaRuntime(_settings(tmp_path))
    moto_patches.attach(runtime.name, runtime)
    try:
        _create_function("def handler(event, context):\n    return {'doubled': event['n'] * 2}\n")
        answer = _aws("lambda").invoke(FunctionName="f", Payload=json.dumps({"n": 21}).encode())
        assert answer["Payload"].read() == b'{"doubled": 42}'
    finally:
        runtime.stop()


@proves(*(f"moto.awslambda.models.LambdaBackend.{verb}_event_source_mapping"
          for verb in ("create", "update", "delete")), raises=AssertionError)
def test_each_change_to_a_mapping_reaches_its_pollers(kinesis, recording_runtime):
    _create_function()
    lam = _aws("lambda")
    heard = []
    mapping = lam.create_event_source_mapping(FunctionName="f", EventSourceArn=_stream_arn(kinesis),
                                              StartingPosition="LATEST")["UUID"]
    heard.append(list(recording_runtime.heard))
    lam.update_event_source_mapping(UUID=mapping, BatchSize=50)
    heard.append(list(recording_runtime.heard))
    lam.delete_event_source_mapping(UUID=mapping)
    heard.append(list(recording_runtime.heard))
    assert heard == [["sync"], ["sync"] * 2, ["sync"] * 3]


@proves("moto.awslambda.models.LambdaBackend.delete_function", raises=AssertionError)
def test_deleting_a_function_stops_its_environments(recording_runtime):
    arn = _create_function()
    _aws("lambda").delete_function(FunctionName=arn)
    assert recording_runtime.heard == [("forget", "f")]


@proves("moto.kinesis.models.KinesisBackend.delete_stream", raises=AssertionError)
def test_deleting_a_stream_restarts_its_mappings(kinesis, recording_runtime):
    arn = _stream_arn(kinesis)
    kinesis.delete_stream(StreamName="s")
    assert recording_runtime.heard == [("stream deleted", arn)]


def test_invoke_while_the_runtime_is_not_running_answers_with_a_sentence(patched_moto):
    _create_function()
    with pytest.raises(ClientError) as error:
        _aws("lambda").invoke(FunctionName="f", Payload=b"{}")
    assert error.value.response["Error"]["Code"] == "ServiceException"
    assert "lambda component is not running" in error.value.response["Error"]["Message"]


# -- the local Managed Flink (managed_flink/) ------------------------------------------------------------

class FakeCluster:
    """The Flink session cluster as the component uses it, without JVMs: a job runs until it is stopped."""

    url = "http://127.0.0.1:1"

    def __init__(self):
        self.jobs: dict[str, str] = {}
        self.submitted: list[dict] = []

    def start(self, quiet: bool = False) -> None:
        pass

    def stop(self) -> None:
        pass

    def status(self) -> dict:
        return {"running": True, "processes": {}}

    def replace_lost_taskmanager(self) -> bool:
        return False

    def submit(self, app_dir, properties_file, savepoint=None, quiet: bool = False) -> str:
        job_id = f"job-{len(self.jobs) + 1}"
        self.jobs[job_id] = "RUNNING"
        self.submitted.append({"main": (app_dir / "main.py").read_text(), "savepoint": savepoint,
                               "properties": json.loads(properties_file.read_text())})
        return job_id

    def job_status(self, job_id: str) -> str:
        return self.jobs[job_id]

    def stop_with_savepoint(self, job_id: str, quiet: bool = False) -> str:
        self.jobs[job_id] = "FINISHED"
        return f"/savepoints/{job_id}"

    def cancel(self, job_id: str, quiet: bool = False) -> None:
        self.jobs[job_id] = "CANCELED"


@pytest.fixture
def flink(patched_moto, tmp_path):
    """The local Managed Flink component on a fake cluster, and one application "App" whose zip is in S3."""
    component = LocalManagedFlink(_settings(tmp_path))
    component.cluster = FakeCluster()
    component.start()
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("main.py", "print('the job')\n")
    _aws("s3").create_bucket(Bucket="code")
    _aws("s3").put_object(Bucket="code", Key="app.zip", Body=code.getvalue())
    role = _aws("iam").create_role(RoleName="flink", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    _aws("kinesisanalyticsv2").create_application(
        ApplicationName="App", RuntimeEnvironment="FLINK-1_20", ServiceExecutionRole=role,
        ApplicationConfiguration={
            "ApplicationCodeConfiguration": {"CodeContentType": "ZIPFILE", "CodeContent": {
                "S3ContentLocation": {"BucketARN": "arn:aws:s3:::code", "FileKey": "app.zip"}}},
            "EnvironmentProperties": {"PropertyGroups": [{"PropertyGroupId": "lab", "PropertyMap": {"rate": "1"}}]}})
    yield component
    component.stop()


def _status() -> str:
    return _aws("kinesisanalyticsv2").describe_application(ApplicationName="App")["ApplicationDetail"][
        "ApplicationStatus"]


def _wait_for(status: str) -> None:
    wait_until(lambda: _status() == status, 10, f"App to be {status}", quiet=True, interval_s=0.02)


def _run(**restore) -> None:
    _aws("kinesisanalyticsv2").start_application(ApplicationName="App", RunConfiguration={
        "ApplicationRestoreConfiguration": {"ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT", **restore}})
    _wait_for("RUNNING")


def _stop(force: bool = False) -> None:
    _aws("kinesisanalyticsv2").stop_application(ApplicationName="App", Force=force)
    _wait_for("READY")


@proves("moto.kinesisanalyticsv2.models.KinesisAnalyticsV2Backend.create_application", raises=AssertionError)
def test_a_new_application_is_ready(flink):
    assert _status() == "READY"


@proves(*(f"moto.kinesisanalyticsv2.{module}.{operation}" for module in (
    "models.KinesisAnalyticsV2Backend", "responses.KinesisAnalyticsV2Response") for operation in (
    "start_application", "stop_application", "list_application_snapshots")), raises=NotImplementedError)
def test_an_application_stops_with_a_snapshot_and_runs_from_it(flink):
    _run()
    _stop()
    snapshots = _aws("kinesisanalyticsv2").list_application_snapshots(ApplicationName="App")["SnapshotSummaries"]
    _run()
    first, again = flink.cluster.submitted
    assert first["savepoint"] is None and again["savepoint"] == "/savepoints/job-1"
    assert [(s["SnapshotStatus"], s["ApplicationVersionId"]) for s in snapshots] == [("READY", 1)]
    assert first["main"] == "print('the job')\n"
    groups = {g["PropertyGroupId"]: g["PropertyMap"] for g in first["properties"]}
    assert groups["lab"] == {"rate": "1"} and groups["kinesis.client"]["aws.endpoint"] == flink.settings.endpoint_url


@proves(*(f"moto.kinesisanalyticsv2.{module}.update_application" for module in (
    "models.KinesisAnalyticsV2Backend", "responses.KinesisAnalyticsV2Response")), raises=NotImplementedError)
def test_updating_a_running_application_restarts_its_job_from_a_snapshot(flink):
    _run()
    _aws("kinesisanalyticsv2").update_application(
        ApplicationName="App", CurrentApplicationVersionId=1, ApplicationConfigurationUpdate={
            "EnvironmentPropertyUpdates": {"PropertyGroups": [
                {"PropertyGroupId": "lab", "PropertyMap": {"rate": "5"}}]}})
    wait_until(lambda: len(flink.cluster.submitted) == 2 and _status() == "RUNNING", 10, "the restart", quiet=True,
               interval_s=0.02)
    restarted = flink.cluster.submitted[1]
    assert restarted["savepoint"] == "/savepoints/job-1"
    assert {g["PropertyGroupId"]: g["PropertyMap"] for g in restarted["properties"]}["lab"] == {"rate": "5"}
    assert flink.cluster.jobs == {"job-1": "FINISHED", "job-2": "RUNNING"}


@proves(*(f"moto.kinesisanalyticsv2.{module}.delete_application" for module in (
    "models.KinesisAnalyticsV2Backend", "responses.KinesisAnalyticsV2Response")), raises=NotImplementedError)
def test_a_stopped_application_can_be_deleted(flink):
    _run()
    _stop(force=True)
    assert (flink.apps_dir / "App").is_dir()
    _aws("kinesisanalyticsv2").delete_application(ApplicationName="App", CreateTimestamp=time.time())
    assert _aws("kinesisanalyticsv2").list_applications()["ApplicationSummaries"] == []
    assert not (flink.apps_dir / "App").exists() and flink.cluster.jobs == {"job-1": "CANCELED"}


@proves("moto.kinesisanalyticsv2.models.KinesisAnalyticsV2Backend.describe_application", raises=AssertionError)
def test_an_application_whose_job_ended_is_ready(flink):
    _run()
    flink.cluster.jobs["job-1"] = "FAILED"
    assert _status() == "READY"
    assert flink.status()["applications"]["App"]["error"] == "the Flink job ended (FAILED); see `labkit flink logs`"


def test_a_running_application_cannot_be_deleted(flink):
    _run()
    with pytest.raises(ClientError) as error:
        _aws("kinesisanalyticsv2").delete_application(ApplicationName="App", CreateTimestamp=time.time())
    assert error.value.response["Error"]["Code"] == "ResourceInUseException"


def test_starting_while_the_flink_component_is_not_running_answers_with_a_sentence(flink):
    flink.stop()
    with pytest.raises(ClientError) as error:
        _aws("kinesisanalyticsv2").start_application(ApplicationName="App", RunConfiguration={})
    assert error.value.response["Error"]["Code"] == "ServiceException"
    assert "flink component is not running" in error.value.response["Error"]["Message"]
    assert _status() == "READY"


# -- the replay clock (replay_clock.py) ---------------------------------------------------------------------

@proves("moto.kinesis.models.utcnow", raises=AssertionError)
def test_a_record_put_while_the_clock_is_frozen_arrives_at_that_time(kinesis):
    from labkit.local import replay_clock

    an_hour_ago = round(time.time()) - 3600.25  # within the stream's retention
    with replay_clock.frozen_at(an_hour_ago):
        kinesis.put_record(StreamName="s", Data=b"x", PartitionKey="p")
    [record] = kinesis.get_records(ShardIterator=_iterator(kinesis))["Records"]
    assert record["ApproximateArrivalTimestamp"].timestamp() == pytest.approx(an_hour_ago, abs=0.001)


# -- DynamoDB item answers (dynamodb_fixes.py) ----------------------------------------------------------

ITEM = {"location": {"S": "North Ridge"}, "reading_id": {"S": "r1"}, "speed": {"N": "31.5"}, "stuck": {"BOOL": False},
        "rule": {"NULL": True}, "raw": {"B": b"\x00\x01"}, "tags": {"SS": ["a", "b"]}, "levels": {"NS": ["1", "2"]},
        "attribution": {"M": {"t": {"N": "0.5"}, "t-1": {"N": "0.25"}}}, "history": {"L": [{"N": "1"}, {"S": "x"}]}}
KEY = {"location": ITEM["location"], "reading_id": ITEM["reading_id"]}


@pytest.fixture
def dynamodb(patched_moto):
    dynamodb = _aws("dynamodb")
    dynamodb.create_table(TableName="T", BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "location", "KeyType": "HASH"},
                                     {"AttributeName": "reading_id", "KeyType": "RANGE"}],
                          AttributeDefinitions=[{"AttributeName": "location", "AttributeType": "S"},
                                                {"AttributeName": "reading_id", "AttributeType": "S"}])
    dynamodb.put_item(TableName="T", Item=ITEM)
    return dynamodb


@proves("moto.dynamodb.responses.DynamoResult.execute_result", raises=AssertionError)
def test_an_item_answer_is_the_serializers_document_without_the_serializer(dynamodb, monkeypatch):
    from moto.core import serialize

    written, serialize_result = [], serialize.JSONSerializer.serialize
    monkeypatch.setattr(serialize.JSONSerializer, "serialize",
                        lambda self, result: written.append(self.operation_model.name)
                        or serialize_result(self, result))
    answers = {
        "Scan": dynamodb.scan(TableName="T")["Items"],
        "Query": dynamodb.query(TableName="T", KeyConditionExpression="#l = :l",
                                ExpressionAttributeNames={"#l": "location"},
                                ExpressionAttributeValues={":l": ITEM["location"]})["Items"],
        "GetItem": [dynamodb.get_item(TableName="T", Key=KEY)["Item"]],
        "BatchGetItem": dynamodb.batch_get_item(RequestItems={"T": {"Keys": [KEY]}})["Responses"]["T"],
    }
    assert answers == {operation: [ITEM] for operation in answers}, "every type comes back as it was written"
    assert dynamodb.describe_table(TableName="T")["Table"]["ItemCount"] == 1  # other answers: moto's serializer
    assert written == ["DescribeTable"], "an item answer went through moto's serializer"


@proves("moto.dynamodb.models.dynamo_type.Item.project", raises=AssertionError)
def test_a_projection_converts_each_item_once(dynamodb, monkeypatch):
    from moto.dynamodb.models.dynamo_type import Item

    conversions, to_regular_json = [], Item.to_regular_json
    monkeypatch.setattr(Item, "to_regular_json", lambda self: conversions.append(1) or to_regular_json(self))
    [item] = dynamodb.scan(TableName="T", ProjectionExpression="#s, stuck, attribution.#t",
                           ExpressionAttributeNames={"#s": "speed", "#t": "t-1"})["Items"]
    assert item == {"speed": ITEM["speed"], "stuck": ITEM["stuck"], "attribution": {"M": {"t-1": {"N": "0.25"}}}}
    assert len(conversions) == 1, f"the item was converted {len(conversions)} times for 3 projected attributes"


# -- IAM propagation (iam_propagation.py) ----------------------------------------------------------------

@proves("moto.awslambda.responses.LambdaResponse.create_function",
        "moto.kinesisanalyticsv2.responses.KinesisAnalyticsV2Response.create_application", raises=AssertionError)
def test_a_role_younger_than_the_propagation_delay_is_refused_as_on_aws(patched_moto, monkeypatch):
    from labkit.local import iam_propagation

    monkeypatch.setenv(iam_propagation.SETTING, "1")
    role = _aws("iam").create_role(RoleName="young", AssumeRolePolicyDocument="{}")["Role"]["Arn"]

    def create_function():
        _aws("lambda").create_function(FunctionName="f", Runtime="python3.11", Role=role, Handler="f.handler",
                                       Code={"ZipFile": _function_zip()})

    def create_application():
        _aws("kinesisanalyticsv2").create_application(ApplicationName="App", RuntimeEnvironment="FLINK-1_20",
                                                      ServiceExecutionRole=role)

    def refusal(call) -> tuple[str, str] | None:
        try:
            call()
        except ClientError as error:
            return error.response["Error"]["Code"], error.response["Error"]["Message"]
        return None

    young = [refusal(create_function), refusal(create_application)]
    time.sleep(1.1)
    assert young == [("InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda."),
                     ("InvalidArgumentException",
                      f"Kinesis Analytics service doesn't have sufficient privileges to assume the role {role}")]
    assert [refusal(create_function), refusal(create_application)] == [None, None]
