"""The stack component "inbox": what each e-mail subscriber of each SNS topic received.

moto accepts e-mail subscriptions and publishes to them without sending anything. This component records
each delivery to an `email` or `email-json` subscription as it happens (recipient, topic, subject, body,
time), in moto's SNS backend itself, so the inbox is saved and restored with the rest of the SNS state.
GET /api/inbox lists it (optional filters: ?to=ADDRESS&topic=NAME).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from flask import Blueprint, jsonify, request
from moto.backends import get_backend
from moto.sns.models import Subscription

from ..config import Settings

EMAIL_PROTOCOLS = ("email", "email-json")
MAILBOX = "_labkit_mailbox"  # attribute of each SNSBackend: the list of delivered messages


def _record_email(original):
    def publish(self: Subscription, message, message_id, subject=None, message_attributes=None, **kwargs):
        original(self, message, message_id, subject=subject, message_attributes=message_attributes, **kwargs)
        if self.protocol not in EMAIL_PROTOCOLS:
            return
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(message_attributes,
                                                                                              message):
            return
        if kwargs.get("message_structure") == "json":
            message = self._parse_message_structure(message, self.protocol)
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if self.protocol == "email-json":
            message = json.dumps({"Type": "Notification", "MessageId": message_id, "TopicArn": self.topic.arn,
                                  "Subject": subject, "Message": message, "Timestamp": now})
        self.topic.sns_backend.__dict__.setdefault(MAILBOX, []).append({
            "to": self.endpoint, "topic": self.topic.name, "topic_arn": self.topic.arn, "subject": subject,
            "body": message, "time": now, "message_id": message_id,
        })

    publish.__wrapped__ = original
    return publish


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
        if not hasattr(Subscription.publish, "__wrapped__"):
            Subscription.publish = _record_email(Subscription.publish)

    def stop(self) -> None:
        """Nothing to stop: the messages live in moto's SNS state, saved with it."""

    def status(self) -> dict:
        return {"url": self.url, "messages": len(messages())}
