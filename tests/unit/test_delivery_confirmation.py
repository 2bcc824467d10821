"""The delivery function marks an anomaly as mailed only when the topic has a confirmed subscriber: SNS delivers
nothing to a subscription that is PendingConfirmation, so an alert "sent" then would never arrive."""
from __future__ import annotations

import logging
import sys

import boto3
import pytest
from botocore.stub import Stubber

from labkit.config import LAMBDAS_DIR

from .test_lambdas import aws, create_wind_table, table_item  # noqa: F401  (aws: the fixture)

sys.path.insert(0, str(LAMBDAS_DIR))
import anomaly_message_delivery as delivery  # noqa: E402

WHY = ("the topic has no confirmed subscriber, so SNS would deliver to nobody: confirm the subscription "
       "(the link in its confirmation e-mail), then run the function again")


@pytest.fixture
def anomalies(aws, monkeypatch):  # noqa: F811
    """WindDataTable with two anomaly events, and the topic the function publishes to."""
    table = create_wind_table()
    for second, score in enumerate([0.7, 4.5, 0.8, 5.1]):
        table.put_item(Item=table_item("North Ridge", second, score))
    topic = boto3.client("sns").create_topic(Name="AnomalyNotification")["TopicArn"]
    monkeypatch.setenv("SNS_TOPIC_ARN", topic)
    return table, topic


def _sent(topic: str) -> list:
    from moto.sns.models import sns_backends

    return sns_backends["123456789012"]["us-east-1"].topics[topic].sent_notifications


def test_with_nobody_subscribed_nothing_is_published_or_marked_and_the_result_says_why(anomalies, caplog):
    table, topic = anomalies
    with caplog.at_level(logging.WARNING):
        result = delivery.handler({}, None)
    assert result == {"anomaly_events": 2, "mailed": 0, "already_mailed": 0, "not_mailed": 2, "why_not_mailed": WHY}
    assert f"2 anomaly events not mailed and not marked: {WHY}" in caplog.text
    assert _sent(topic) == [] and not any("alerted_at" in item for item in table.scan()["Items"])


def test_a_pending_subscription_holds_the_mail_back_until_it_is_confirmed(anomalies, monkeypatch):
    table, topic = anomalies
    sns = boto3.client("sns")
    pending = {"SubscriptionArn": "PendingConfirmation", "Owner": "123456789012", "Protocol": "email",
               "Endpoint": "student@example.com", "TopicArn": topic}
    with Stubber(sns) as stub, monkeypatch.context() as patched:
        stub.add_response("list_subscriptions_by_topic", {"Subscriptions": [pending]}, {"TopicArn": topic})
        patched.setattr(boto3, "client", lambda service, *args, **kwargs: sns)
        assert delivery.handler({}, None)["not_mailed"] == 2
        stub.assert_no_pending_responses()
    assert _sent(topic) == [] and not any("alerted_at" in item for item in table.scan()["Items"])
    boto3.client("sns").subscribe(TopicArn=topic, Protocol="email", Endpoint="student@example.com")  # confirmed
    assert delivery.handler({}, None) == {"anomaly_events": 2, "mailed": 2, "already_mailed": 0}
    assert len(_sent(topic)) == 2


def test_with_everything_mailed_already_the_subscriptions_are_not_asked(anomalies, monkeypatch):
    table, topic = anomalies
    boto3.client("sns").subscribe(TopicArn=topic, Protocol="email", Endpoint="student@example.com")
    delivery.handler({}, None)
    monkeypatch.setattr(delivery, "confirmed_subscribers", lambda *args: pytest.fail("asked without need"))
    assert delivery.handler({}, None) == {"anomaly_events": 2, "mailed": 0, "already_mailed": 2}
