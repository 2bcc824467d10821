"""The stack component "inbox": what each e-mail subscriber of each SNS topic received.

moto accepts e-mail subscriptions and publishes to them without sending anything. This module's entry in
the moto patch registry (moto_patches.py) records each delivery to an `email` or `email-json` subscription
as it happens (recipient, topic, subject, body, time), in moto's SNS backend itself, so the inbox is saved
and restored with the rest of the SNS state.
GET /api/inbox lists it (optional filters: ?to=ADDRESS&topic=NAME).
"""
from __future__ import annotations

import functools
import json

from flask import Blueprint, jsonify, request
from moto.backends import get_backend
from moto.sns.models import Subscription
from moto.sns.utils import FilterPolicyMatcher

from ..config import Settings, iso_time
from . import replay_clock
from .moto_patches import Patch

EMAIL_PROTOCOLS = ("email", "email-json")
MAILBOX = "_labkit_mailbox"  # attribute of each SNSBackend: the list of delivered messages


def _recording_email(original):
    """Subscription.publish, then the message kept for the inbox when the subscription is an e-mail one."""
    @functools.wraps(original)
    def publish(self: Subscription, message, message_id, subject=None, message_attributes=None, **kwargs):
        original(self, message, message_id, subject=subject, message_attributes=message_attributes, **kwargs)
        if self.protocol in EMAIL_PROTOCOLS:
            body = _email_body(self, message, message_attributes, kwargs.get("message_structure"))
            if body is not None:
                _keep(self, message_id, subject, body)

    return publish


def _email_body(subscription: Subscription, message: str, attributes, structure: str | None) -> str | None:
    """What the subscriber receives, or None when its filter policy drops the message (as moto decided)."""
    policy = subscription.attributes.get("FilterPolicy")
    if policy and not FilterPolicyMatcher(json.loads(policy), subscription.attributes.get("FilterPolicyScope")
                                          ).matches(attributes, message):
        return None
    if structure == "json":  # moto has checked that it parses and has the protocol's key or "default"
        parsed = json.loads(message)
        return parsed.get(subscription.protocol) or parsed["default"]
    return message


def _keep(subscription: Subscription, message_id: str, subject: str | None, body: str) -> None:
    now = iso_time(replay_clock.now() * 1000)
    topic = subscription.topic
    if subscription.protocol == "email-json":
        body = json.dumps({"Type": "Notification", "MessageId": message_id, "TopicArn": topic.arn,
                           "Subject": subject, "Message": body, "Timestamp": now})
    topic.sns_backend.__dict__.setdefault(MAILBOX, []).append({
        "to": subscription.endpoint, "topic": topic.name, "topic_arn": topic.arn, "subject": subject,
        "body": body, "time": now, "message_id": message_id,
    })


def patches() -> list[Patch]:
    return [Patch(Subscription, "publish", _recording_email(Subscription.publish),
                  "moto delivers nothing to e-mail subscribers; here each delivery is kept for the inbox",
                  "test_a_message_published_to_a_topic_reaches_its_email_inbox")]


def messages(to: str | None = None, topic: str | None = None) -> list[dict]:
    """Every e-mail delivered so far, oldest first; optionally only those to `to` or from topic `topic`."""
    found = []
    for regions in list(get_backend("sns").values()):
        for backend in list(regions.values()):
            found += backend.__dict__.get(MAILBOX, [])
    return sorted((m for m in found if (to is None or m["to"] == to) and (topic is None or m["topic"] == topic)),
                  key=lambda m: m["time"])


class Inbox:
    name = "inbox"

    def __init__(self, s: Settings):
        self.url = f"{s.service_url}/api/inbox"
        self.blueprint = Blueprint("inbox", __name__)
        self.blueprint.add_url_rule("/api/inbox", "inbox", self._list)

    @staticmethod
    def _list():
        return jsonify(messages(request.args.get("to"), request.args.get("topic")))

    def start(self) -> None:
        """Nothing to start: deliveries are recorded by the patch to moto's SNS (`patches()`)."""

    def stop(self) -> None:
        """Nothing to stop: the messages live in moto's SNS state, saved with it."""

    def status(self) -> dict:
        return {"url": self.url, "messages": len(messages())}
