"""SNS topics and e-mail subscriptions: create / describe / delete (idempotent, tagged).

    topics.create("AnomalyNotification")                        # SNS > Topics > Create topic (Standard)
    topics.subscribe_email("me@example.com")                    # Create subscription, protocol Email

On AWS an e-mail subscription stays "pending confirmation" until the address owner clicks the link in the
confirmation mail; on the local target it is confirmed at once and mail lands in `labkit.inbox()`.
"""
from __future__ import annotations

import re

from ..clients import client, pages
from ..config import NAMES
from ..errors import BadParameter, ResourceMissing
from . import tags
from .errors import explained

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


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
    """Subscribe an e-mail address to the topic (idempotent): {"arn", "endpoint", "confirmed"}."""
    if not isinstance(address, str) or not EMAIL.fullmatch(address):
        raise BadParameter(f"{address!r} is not an e-mail address; give one like student@example.com.")
    sns, topic_arn = client("sns"), arn(topic)
    with _sns_errors(topic):
        subscription = sns.subscribe(TopicArn=topic_arn, Protocol="email", Endpoint=address,
                                     ReturnSubscriptionArn=True)["SubscriptionArn"]
        pending = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"].get(
            "PendingConfirmation", "false")
    return {"arn": subscription, "endpoint": address, "confirmed": pending == "false"}


def delete(name: str = NAMES.topic) -> bool:
    """Delete the topic and its subscriptions; False when there was none."""
    try:
        topic_arn = arn(name)
    except ResourceMissing:
        return False
    with _sns_errors(name):
        client("sns").delete_topic(TopicArn=topic_arn)
    return True
