"""An e-mail subscription is pending until its confirmation link is followed, as on AWS: on the local target
labkit follows the link of the confirmation mail in the inbox (`topics.confirm`), or the student opens it on the
service port; on the aws target the student clicks it in the real mail and `topics.confirm` waits for SNS to show
the subscription confirmed (Stubber: moto cannot click a link)."""
from __future__ import annotations

import re
from types import SimpleNamespace

import boto3
import pytest
from botocore.stub import Stubber
from flask import Flask

import labkit.inbox
from labkit import clients
from labkit.config import CONFIRMATION_SUBJECT
from labkit.errors import LabError, WaitTimedOut
from labkit.local import moto_patches, sns_email
from labkit.progress import wait_until
from labkit.resources import topics

from .conftest import registry_restored

ADDRESS = "student@example.com"
TOPIC = "AnomalyNotification"
TOPIC_ARN = f"arn:aws:sns:us-east-1:123456789012:{TOPIC}"
SUBSCRIPTION_ARN = f"{TOPIC_ARN}:6f1c0a3e-0000-4000-8000-000000000001"


# -- local target: the patched moto in this process, the stack's inbox read from it ---------------------------

@pytest.fixture
def local_sns(aws, monkeypatch):
    """boto3 against the patched moto in this process; labkit believes it is on the local target and reads the
    inbox from moto's SNS state (as the stack's /api/inbox does)."""
    with registry_restored():
        moto_patches.undo()
        moto_patches.apply()
        monkeypatch.setattr(topics, "settings", lambda: SimpleNamespace(is_local=True))
        monkeypatch.setattr(labkit.inbox, "inbox", lambda to=None, topic=None: sns_email.messages(to, topic))
        yield clients.client("sns")


def alerts(to: str = ADDRESS) -> list[str]:
    return [m["body"] for m in sns_email.messages(to=to) if m["subject"] != CONFIRMATION_SUBJECT]


def test_a_pending_subscription_gets_nothing_until_labkit_confirms_it_then_every_message(local_sns):
    topic_arn = topics.create(TOPIC)
    subscription = topics.subscribe_email(ADDRESS, topic=TOPIC)
    assert subscription["confirmed"] is False
    assert [s["confirmed"] for s in topics.subscriptions(TOPIC)] == [False]
    local_sns.publish(TopicArn=topic_arn, Subject="Anomaly", Message="published while pending")
    assert alerts() == []
    assert [m["subject"] for m in sns_email.messages(to=ADDRESS)] == [CONFIRMATION_SUBJECT]

    assert topics.confirm(ADDRESS, topic=TOPIC) == {"arn": subscription["arn"], "endpoint": ADDRESS,
                                                    "confirmed": True}
    assert topics.subscriptions(TOPIC) == [{"protocol": "email", "endpoint": ADDRESS, "arn": subscription["arn"],
                                            "confirmed": True}]
    local_sns.publish(TopicArn=topic_arn, Subject="Anomaly", Message="published after the confirmation")
    assert alerts() == ["published after the confirmation"]
    assert topics.confirm(ADDRESS, topic=TOPIC)["confirmed"] is True  # again: nothing to do, nothing refused


def test_confirming_an_address_that_never_subscribed_says_to_subscribe_first(local_sns):
    topics.create(TOPIC)
    with pytest.raises(LabError, match=r"not subscribed to AnomalyNotification .*: subscribe it first .*subscribe_email"):
        topics.confirm("nobody@example.com", topic=TOPIC)


def test_the_confirmation_link_on_the_service_port_confirms_and_a_wrong_token_is_refused(local_sns):
    topic_arn = topics.create(TOPIC)
    topics.subscribe_email(ADDRESS, topic=TOPIC)
    app = Flask(__name__)
    app.register_blueprint(sns_email.Inbox(labkit.settings()).blueprint)
    link = re.search(r"http\S+", sns_email.messages(to=ADDRESS)[0]["body"]).group(0)
    path = link.split("127.0.0.1", 1)[1].split("/", 1)[1]

    wrong = app.test_client().get("/" + re.sub(r"Token=[0-9a-f]+", "Token=00", path))
    assert wrong.status_code == 400 and "Invalid token" in wrong.text
    assert [s["confirmed"] for s in topics.subscriptions(TOPIC)] == [False]
    page = app.test_client().get("/" + path)
    assert page.status_code == 200 and "Subscription confirmed!" in page.text
    local_sns.publish(TopicArn=topic_arn, Message="after the link")
    assert alerts() == ["after the link"]


# -- aws target: the student clicks the link; labkit waits ----------------------------------------------------

def _listing(state: str) -> dict:
    return {"Subscriptions": [{"SubscriptionArn": state, "Owner": "123456789012", "Protocol": "email",
                               "Endpoint": ADDRESS, "TopicArn": TOPIC_ARN}]}


@pytest.fixture
def sns_stub(aws, monkeypatch):
    monkeypatch.setattr(topics, "CONFIRM_POLL_S", 0.01)
    sns = clients.client("sns")
    with Stubber(sns) as stub:
        stub.add_response("list_topics", {"Topics": [{"TopicArn": TOPIC_ARN}]}, {})
        yield stub


def test_on_aws_confirm_waits_with_progress_until_the_student_clicked_the_link(sns_stub, capsys, monkeypatch):
    waits = []
    monkeypatch.setattr(topics, "wait_until", lambda *args, **kwargs: waits.append((args, kwargs)) or
                        wait_until(*args, **kwargs))
    for state in ("PendingConfirmation", "PendingConfirmation", "PendingConfirmation", SUBSCRIPTION_ARN):
        sns_stub.add_response("list_subscriptions_by_topic", _listing(state), {"TopicArn": TOPIC_ARN})
    assert topics.confirm(ADDRESS, topic=TOPIC, timeout_s=30) == {"arn": SUBSCRIPTION_ARN, "endpoint": ADDRESS,
                                                                  "confirmed": True}
    sns_stub.assert_no_pending_responses()
    out, _ = capsys.readouterr()
    assert f"AWS sent “{CONFIRMATION_SUBJECT}” to {ADDRESS}: open it and click “Confirm subscription”" in out
    (_, timeout_s, what), settings = waits[0]
    assert (timeout_s, what, settings["quiet"]) == (30, f"the confirmation of {ADDRESS}", False)  # a progress bar


def test_on_aws_confirm_gives_up_after_its_timeout_with_what_to_do(sns_stub):
    for _ in range(2):
        sns_stub.add_response("list_subscriptions_by_topic", _listing("PendingConfirmation"), {"TopicArn": TOPIC_ARN})
    with pytest.raises(WaitTimedOut) as timed_out:
        topics.confirm(ADDRESS, topic=TOPIC, timeout_s=0, quiet=True)
    assert str(timed_out.value) == (
        f"gave up waiting for the confirmation of {ADDRESS} after 0 s. The subscription of {ADDRESS} to "
        f"{TOPIC} is still pending: find the mail “{CONFIRMATION_SUBJECT}” in that mailbox (look in the spam "
        "folder too), click “Confirm subscription”, then run this cell again. No mail? Check the address and subscribe "
        "again (`lab.topics.subscribe_email(...)`).")
    sns_stub.assert_no_pending_responses()


def test_on_aws_a_confirmed_subscription_is_not_waited_for(sns_stub):
    sns_stub.add_response("list_subscriptions_by_topic", _listing(SUBSCRIPTION_ARN), {"TopicArn": TOPIC_ARN})
    assert topics.confirm(ADDRESS, topic=TOPIC, quiet=True)["arn"] == SUBSCRIPTION_ARN
    sns_stub.assert_no_pending_responses()


def test_the_stock_moto_answer_is_still_a_confirmed_subscription_for_the_aws_target_tests(aws):
    """The aws-target tests run against stock moto, where a subscription is confirmed at once."""
    topic_arn = topics.create(TOPIC)
    assert topics.subscribe_email(ADDRESS, topic=TOPIC)["confirmed"] is True
    assert topics.confirm(ADDRESS, topic=TOPIC, quiet=True)["confirmed"] is True
    assert boto3.client("sns", region_name="us-east-1").list_subscriptions_by_topic(
        TopicArn=topic_arn)["Subscriptions"][0]["SubscriptionArn"] != "PendingConfirmation"


def test_the_delivery_function_on_the_patched_moto_mails_only_once_the_subscription_is_confirmed(local_sns,
                                                                                                  monkeypatch):
    import sys

    from labkit.config import LAMBDAS_DIR

    from .test_lambdas import create_wind_table, table_item

    sys.path.insert(0, str(LAMBDAS_DIR))
    import anomaly_message_delivery as delivery

    for name, value in {"AWS_DEFAULT_REGION": "us-east-1", "OUTPUT_TABLE_NAME": "WindDataTable"}.items():
        monkeypatch.setenv(name, value)
    table = create_wind_table()
    for second, score in enumerate([0.7, 4.5, 0.8, 5.1]):
        table.put_item(Item=table_item("North Ridge", second, score))
    monkeypatch.setenv("SNS_TOPIC_ARN", topics.create(TOPIC))
    topics.subscribe_email(ADDRESS, topic=TOPIC)
    assert delivery.handler({}, None)["not_mailed"] == 2
    assert alerts() == [] and not any("alerted_at" in item for item in table.scan()["Items"])
    topics.confirm(ADDRESS, topic=TOPIC)
    assert delivery.handler({}, None) == {"anomaly_events": 2, "mailed": 2, "already_mailed": 0}
    assert len(alerts()) == 2
