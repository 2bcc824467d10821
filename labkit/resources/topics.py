"""SNS topics and e-mail subscriptions: create / describe / delete (idempotent, tagged).

    topics.create("AnomalyNotification")                        # SNS > Topics > Create topic (Standard)
    topics.subscribe_email("me@example.com")                    # Create subscription, protocol Email
    topics.confirm("me@example.com")                            # the mail's Confirm subscription link
    topics.deliveries()                                         # Monitoring: NumberOfNotificationsDelivered

An e-mail subscription stays "pending confirmation" until the address owner follows the link in AWS's
confirmation mail ("AWS Notification - Subscription Confirmation"); nothing published before reaches it. On the
local target that mail lands in `labkit.inbox()` and `confirm` follows its link (ConfirmSubscription with the
mail's token); on the aws target the student clicks it and `confirm` waits until AWS shows the subscription
confirmed (progress, timeout, a sentence saying what to do).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlparse

from ..clients import client, pages
from ..config import CONFIRMATION_SUBJECT, NAMES, settings
from ..errors import BadParameter, LabError, ResourceMissing
from ..progress import wait_until
from . import tags
from .errors import explained

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
CONFIRM_TIMEOUT_S = 900  # the aws target: how long `confirm` waits for the student to click the link
CONFIRM_POLL_S = 5.0  # ... and how often it asks SNS meanwhile
LINK = re.compile(r"https?://\S+[?&]Token=\S+")


def missing(name: str) -> ResourceMissing:
    return ResourceMissing("SNS topic", name,
                           f"Create it with `labkit.resources.topics.create({name!r})` and try again.")


def _sns_errors(name: str):
    return explained("SNS", f"topic {name!r}", lambda: missing(name))


def create(name: str = NAMES.topic) -> str:
    """Create the standard topic (or keep the existing one), tagged; return its ARN. A topic of this name made
    without the course's tag (e.g. in the console lab) is adopted: SNS refuses CreateTopic with tags that differ
    from the existing topic's, so it is looked up without tags and then tagged."""
    sns = client("sns")
    try:
        with _sns_errors(name):
            return sns.create_topic(Name=name, Tags=tags.as_list())["TopicArn"]
    except BadParameter as error:
        if "already exists with different tags" not in str(error):
            raise
    with _sns_errors(name):
        topic_arn = sns.create_topic(Name=name)["TopicArn"]
        sns.tag_resource(ResourceArn=topic_arn, Tags=tags.as_list())
    return topic_arn


def arn(name: str = NAMES.topic) -> str:
    """The ARN of an existing topic; ResourceMissing if there is none."""
    with _sns_errors(name):
        for page in pages("sns", "list_topics"):
            for topic in page["Topics"]:
                if topic["TopicArn"].rsplit(":", 1)[-1] == name:
                    return topic["TopicArn"]
    raise missing(name)


def describe(name: str = NAMES.topic) -> dict:
    """Name, ARN and tags of a topic; ResourceMissing if there is none."""
    topic_arn = arn(name)
    with _sns_errors(name):
        found = client("sns").list_tags_for_resource(ResourceArn=topic_arn).get("Tags", [])
    return {"name": name, "arn": topic_arn, "tags": {t["Key"]: t["Value"] for t in found}}


def subscriptions(topic: str = NAMES.topic) -> list[dict]:
    """The topic's subscriptions: protocol, endpoint (the address), ARN and whether it is confirmed."""
    topic_arn = arn(topic)
    with _sns_errors(topic):
        return [{"protocol": s["Protocol"], "endpoint": s["Endpoint"], "arn": s["SubscriptionArn"],
                 "confirmed": s["SubscriptionArn"] not in ("PendingConfirmation", "Deleted")}
                for page in pages("sns", "list_subscriptions_by_topic", TopicArn=topic_arn)
                for s in page["Subscriptions"]]


def subscribe_email(address: str, topic: str = NAMES.topic) -> dict:
    """Subscribe an e-mail address to the topic (idempotent): {"arn", "endpoint", "confirmed"}. A new
    subscription is pending ("confirmed": False) until the link in SNS's confirmation mail is followed: `confirm`."""
    if not isinstance(address, str) or not EMAIL.fullmatch(address):
        raise BadParameter(f"{address!r} is not an e-mail address; give one like student@example.com.")
    sns, topic_arn = client("sns"), arn(topic)
    with _sns_errors(topic):
        subscription = sns.subscribe(TopicArn=topic_arn, Protocol="email", Endpoint=address,
                                     ReturnSubscriptionArn=True)["SubscriptionArn"]
        pending = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"].get(
            "PendingConfirmation", "false")
    return {"arn": subscription, "endpoint": address, "confirmed": pending == "false"}


def _email_subscription(topic_arn: str, address: str, topic: str) -> dict | None:
    """The address's e-mail subscription to the topic, as `subscriptions` lists it; None when there is none."""
    with _sns_errors(topic):
        for page in pages("sns", "list_subscriptions_by_topic", TopicArn=topic_arn):
            for s in page["Subscriptions"]:
                if s["Protocol"] == "email" and s["Endpoint"] == address:
                    return {"protocol": "email", "endpoint": address, "arn": s["SubscriptionArn"],
                            "confirmed": s["SubscriptionArn"] not in ("PendingConfirmation", "Deleted")}
    return None


def _confirmation_token(address: str, topic_arn: str) -> str:
    """The token of the newest confirmation mail the topic sent to `address` (local target: the stack's inbox)."""
    from ..inbox import inbox

    for mail in reversed(inbox(to=address)):
        link = LINK.search(mail["body"]) if mail.get("subject") == CONFIRMATION_SUBJECT else None
        if link:
            query = parse_qs(urlparse(link.group(0)).query)
            if query.get("TopicArn") == [topic_arn] and query.get("Token"):
                return query["Token"][0]
    raise LabError(f"no confirmation mail for {address} is in the local inbox: subscribe the address again "
                   f"(`lab.topics.subscribe_email({address!r})`); SNS sends the mail again.")


def confirm(address: str, topic: str = NAMES.topic, timeout_s: float = CONFIRM_TIMEOUT_S,
            quiet: bool = False) -> dict:
    """Confirm the address's pending e-mail subscription (the confirmation mail's link); return
    {"arn", "endpoint", "confirmed": True}. Local target: follows the link of the mail in the inbox. aws target:
    the address owner clicks it; this waits (progress) until SNS lists the subscription confirmed, at most
    `timeout_s`. An already confirmed subscription is returned as it is."""
    topic_arn = arn(topic)
    found = _email_subscription(topic_arn, address, topic)
    if found is None:
        raise LabError(f"{address} is not subscribed to {topic} (SNS deletes a subscription left unconfirmed for 48 "
                       "hours, locally too): subscribe it first "
                       f"(`lab.topics.subscribe_email({address!r}, topic={topic!r})`).")
    if found["confirmed"]:
        return {"arn": found["arn"], "endpoint": address, "confirmed": True}
    if settings().is_local:
        token = _confirmation_token(address, topic_arn)
        with _sns_errors(topic):
            subscription = client("sns").confirm_subscription(TopicArn=topic_arn, Token=token)["SubscriptionArn"]
        return {"arn": subscription, "endpoint": address, "confirmed": True}
    if not quiet:
        print(f"AWS sent “{CONFIRMATION_SUBJECT}” to {address}: open it and click “Confirm subscription”. "
              "Waiting for the confirmation…")

    def confirmed() -> dict | None:
        now = _email_subscription(topic_arn, address, topic)
        return now if now and now["confirmed"] else None

    subscription = wait_until(
        confirmed, timeout_s, f"the confirmation of {address}", quiet=quiet, interval_s=CONFIRM_POLL_S,
        on_timeout=(f"The subscription of {address} to {topic} is still pending: find the mail “"
                    f"{CONFIRMATION_SUBJECT}” in that mailbox (look in the spam folder too), click “Confirm "
                    "subscription”, then run this cell again. No mail? Check the address and subscribe again "
                    f"(`lab.topics.subscribe_email(...)`)."))
    return {"arn": subscription["arn"], "endpoint": address, "confirmed": True}


def deliveries(name: str = NAMES.topic, since_minutes: float = 60) -> int | None:
    """How many notifications SNS reports delivered from the topic in the past `since_minutes` (CloudWatch metric
    AWS/SNS NumberOfNotificationsDelivered, per minute, summed); None when CloudWatch has no data point yet (SNS
    publishes the metric a few minutes after the deliveries)."""
    now = datetime.now(timezone.utc)
    with explained("CloudWatch", f"the metrics of topic {name!r}", lambda: missing(name)):
        points = client("cloudwatch").get_metric_statistics(
            Namespace="AWS/SNS", MetricName="NumberOfNotificationsDelivered",
            Dimensions=[{"Name": "TopicName", "Value": name}], StartTime=now - timedelta(minutes=since_minutes),
            EndTime=now, Period=60, Statistics=["Sum"])["Datapoints"]
    return round(sum(point["Sum"] for point in points)) if points else None


def delete(name: str = NAMES.topic) -> bool:
    """Delete the topic and its subscriptions; False when there was none."""
    try:
        topic_arn = arn(name)
    except ResourceMissing:
        return False
    with _sns_errors(name):
        client("sns").delete_topic(TopicArn=topic_arn)
    return True
