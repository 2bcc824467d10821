"""The stack component "inbox": what each e-mail subscriber of each SNS topic received.

moto accepts e-mail subscriptions and publishes to them without sending anything. This module's entries in
the moto patch registry (moto_patches.py) record each delivery to an `email` or `email-json` subscription
as it happens (recipient, topic, subject, body, time), in moto's SNS backend itself, so the inbox is saved
and restored with the rest of the SNS state.
GET /api/inbox lists it (optional filters: ?to=ADDRESS&topic=NAME).

E-mail subscriptions are confirmed as on AWS (stock moto confirms them at once and ignores ConfirmSubscription's
token): a new one is PendingConfirmation (ListSubscriptions* show SubscriptionArn "PendingConfirmation",
GetSubscriptionAttributes PendingConfirmation "true", Subscribe answers "pending confirmation" unless
ReturnSubscriptionArn), AWS's confirmation mail with a token lands in the inbox, and nothing published before
ConfirmSubscription(TopicArn, Token) reaches the address; one still pending 48 hours after it was made is deleted, as
AWS deletes it (its token then is refused, and subscribing again sends a new one). The mail's Confirm link is served here
(GET /confirmation.html on the service port), as AWS serves it on sns.<region>.amazonaws.com. The token comes
from moto's seeded random generator, so a replayed Subscribe (durable_endpoint.py) gets the same token.
"""
from __future__ import annotations

import functools
import json

from html import escape
from urllib.parse import quote

from flask import Blueprint, jsonify, request
from moto.backends import get_backend
from moto.core.responses import ActionResult
from moto.moto_api._internal import mock_random
from moto.sns.exceptions import SNSInvalidParameter
from moto.sns.models import SNSBackend, Subscription
from moto.sns.responses import SNSResponse
from moto.sns.utils import FilterPolicyMatcher

from ..config import CONFIRMATION_SUBJECT, Settings, iso_time, settings
from . import replay_clock
from .moto_patches import Patch

EMAIL_PROTOCOLS = ("email", "email-json")
MAILBOX = "_labkit_mailbox"  # attribute of each SNSBackend: the list of delivered messages
TOKEN = "_labkit_token"  # attribute of a pending e-mail Subscription: the token its confirmation mail carries
CONFIRMATION_PATH = "/confirmation.html"
PENDING_ARN = "PendingConfirmation"  # what ListSubscriptions* show for a pending subscription's ARN
PENDING_ANSWER = "pending confirmation"  # what Subscribe answers without ReturnSubscriptionArn
PENDING_SINCE = "_labkit_pending_since"  # attribute of a pending e-mail Subscription: when it was made (epoch s)
PENDING_LIFETIME_S = 48 * 3600  # AWS deletes a subscription still pending confirmation after 48 hours


def pending(subscription: Subscription) -> bool:
    """An e-mail subscription whose confirmation link has not been followed yet."""
    return subscription.__dict__.get(TOKEN) is not None and not subscription.confirmed


def _pending_email(original):
    """SNSBackend.subscribe; a new e-mail subscription is pending, with a token, and AWS's confirmation mail is
    sent (again, with the same token, when a pending address subscribes again)."""
    @functools.wraps(original)
    def subscribe(self: SNSBackend, topic_arn: str, endpoint: str, protocol: str) -> Subscription:
        existing = self._find_subscription(topic_arn, endpoint, protocol)
        subscription = original(self, topic_arn, endpoint, protocol)
        if protocol in EMAIL_PROTOCOLS and (existing is None or pending(subscription)):
            if existing is None:
                subscription.__dict__[TOKEN] = mock_random.get_random_hex(128)
                subscription.__dict__[PENDING_SINCE] = replay_clock.now()
                subscription.confirmed = False
                subscription.attributes.update(PendingConfirmation="true", ConfirmationWasAuthenticated="false")
            _send_confirmation(subscription)
        return subscription

    return subscribe


def drop_expired(backend: SNSBackend) -> None:
    """Delete the e-mail subscriptions of `backend` pending confirmation for PENDING_LIFETIME_S or longer."""
    now = replay_clock.now()
    for arn, subscription in list(backend.subscriptions.items()):
        if pending(subscription) and now - subscription.__dict__.get(PENDING_SINCE, now) >= PENDING_LIFETIME_S:
            del backend.subscriptions[arn]


def _expiring(original):
    """SNSResponse.backend: the region's backend, without the subscriptions that expired unconfirmed (AWS deletes
    them; here every SNS call drops them first)."""
    @functools.wraps(original)
    def backend(self: SNSResponse) -> SNSBackend:
        found = original(self)
        drop_expired(found)
        return found

    return backend


def confirmation_link(topic_arn: str, token: str, endpoint: str) -> str:
    return (f"{settings().service_url}{CONFIRMATION_PATH}?TopicArn={quote(topic_arn, safe='')}"
            f"&Token={token}&Endpoint={quote(endpoint, safe='')}")


def _send_confirmation(subscription: Subscription) -> None:
    topic = subscription.topic
    link = confirmation_link(topic.arn, subscription.__dict__[TOKEN], subscription.endpoint)
    body = (f"You have chosen to subscribe to the topic:\n{topic.arn}\n\n"
            "To confirm this subscription, click or visit the link below (If this was in error no action is "
            f"necessary):\nConfirm subscription: {link}\n\n"
            "Please do not reply directly to this email. If you wish to remove yourself from receiving all future "
            "SNS subscription confirmation requests please send an email to sns-opt-out")
    now = iso_time(replay_clock.now() * 1000)
    topic.sns_backend.__dict__.setdefault(MAILBOX, []).append({
        "to": subscription.endpoint, "topic": topic.name, "topic_arn": topic.arn, "subject": CONFIRMATION_SUBJECT,
        "body": body, "time": now, "message_id": str(mock_random.uuid4()),
    })


def _token_checked(original):
    """SNSResponse.confirm_subscription: stock moto ignores the token and answers a made-up ARN; here the token
    of a pending e-mail subscription of the topic confirms it (again: the same answer), any other is refused."""
    @functools.wraps(original)
    def confirm_subscription(self: SNSResponse) -> ActionResult:
        topic_arn, token = self._get_param("TopicArn"), self._get_param("Token")
        self.backend.get_topic(topic_arn)  # NotFound "Topic does not exist", as AWS
        for subscription in list(self.backend.subscriptions.values()):
            if subscription.topic.arn == topic_arn and token and subscription.__dict__.get(TOKEN) == token:
                subscription.confirmed = True
                subscription.attributes.update(PendingConfirmation="false", ConfirmationWasAuthenticated="true")
                return ActionResult({"SubscriptionArn": subscription.arn})
        raise SNSInvalidParameter("Invalid token")

    return confirm_subscription


def _pending_answer(original):
    """SNSResponse.subscribe: AWS answers "pending confirmation", not the ARN, for a pending subscription unless
    the request sets ReturnSubscriptionArn."""
    @functools.wraps(original)
    def subscribe(self: SNSResponse) -> ActionResult:
        result = original(self)
        found = self.backend._find_subscription(self._get_param("TopicArn"), self._get_param("Endpoint"),
                                                self._get_param("Protocol"))
        if found is not None and pending(found) and str(self._get_param("ReturnSubscriptionArn")).lower() != "true":
            return ActionResult({"SubscriptionArn": PENDING_ANSWER})
        return result

    return subscribe


def _listed_arn(subscription: Subscription) -> str:
    """The SubscriptionArn ListSubscriptions and ListSubscriptionsByTopic show (moto's serializer reads
    `subscription_arn` before `arn`)."""
    return PENDING_ARN if pending(subscription) else subscription.arn


def _recording_email(original):
    """Subscription.publish, then the message kept for the inbox when the subscription is an e-mail one."""
    @functools.wraps(original)
    def publish(self: Subscription, message, message_id, subject=None, message_attributes=None, **kwargs):
        if pending(self):  # AWS delivers nothing to an address that has not confirmed
            return
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
    return [
        Patch(Subscription, "publish", _recording_email(Subscription.publish),
              "moto delivers nothing to e-mail subscribers; here each delivery to a confirmed one is kept for the "
              "inbox", "test_a_message_published_to_a_topic_reaches_its_email_inbox"),
        Patch(SNSBackend, "subscribe", _pending_email(SNSBackend.subscribe),
              "moto confirms an e-mail subscription at once; on AWS it is pending until the confirmation mail's "
              "link is followed", "test_an_email_subscription_gets_mail_only_after_it_is_confirmed"),
        Patch(SNSResponse, "confirm_subscription", _token_checked(SNSResponse.confirm_subscription),
              "moto's ConfirmSubscription ignores the token and confirms nothing",
              "test_an_email_subscription_gets_mail_only_after_it_is_confirmed"),
        Patch(SNSResponse, "subscribe", _pending_answer(SNSResponse.subscribe),
              "moto's Subscribe answers the ARN of a pending subscription; AWS answers \"pending confirmation\"",
              "test_subscribe_answers_pending_confirmation_unless_asked_for_the_arn"),
        Patch(SNSResponse, "backend", property(_expiring(SNSResponse.backend.fget)),
              "moto keeps a subscription pending confirmation for ever; AWS deletes it after 48 hours",
              "test_an_email_subscription_still_pending_after_48_hours_is_deleted"),
        Patch(Subscription, "subscription_arn", property(_listed_arn),
              "moto lists a pending subscription with its ARN; AWS lists it as PendingConfirmation",
              "test_an_email_subscription_gets_mail_only_after_it_is_confirmed"),
    ]


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
        self.blueprint.add_url_rule(CONFIRMATION_PATH, "confirmation", self._confirm)

    @staticmethod
    def _list():
        return jsonify(messages(request.args.get("to"), request.args.get("topic")))

    @staticmethod
    def _confirm():
        """The confirmation mail's link: ConfirmSubscription through the AWS endpoint (so the call is journaled
        like any other), then AWS's page."""
        from ..clients import client

        try:
            answer = client("sns").confirm_subscription(TopicArn=request.args.get("TopicArn", ""),
                                                        Token=request.args.get("Token", ""))
        except Exception as error:  # noqa: BLE001 - the page says what went wrong
            return (f"<h1>Subscription not confirmed</h1><p>{escape(str(error))}</p><p>Subscribe again "
                    "(`lab.topics.subscribe_email(...)`) and follow the link in the newest confirmation mail.</p>", 400)
        return (f"<h1>Subscription confirmed!</h1><p>You have successfully subscribed.</p>"
                f"<p>Your subscription's id is:<br>{escape(answer['SubscriptionArn'])}</p>")

    def start(self) -> None:
        """Nothing to start: deliveries are recorded by the patch to moto's SNS (`patches()`)."""

    def stop(self) -> None:
        """Nothing to stop: the messages live in moto's SNS state, saved with it."""

    def status(self) -> dict:
        return {"url": self.url, "messages": len(messages())}
