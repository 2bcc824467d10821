"""The e-mail the lab's SNS topics sent, as each subscriber would have received it.

    labkit.inbox.inbox()                 # every message: to, topic, subject, body, time
    labkit.inbox.inbox(to="me@example.com")

On the local target the stack's inbox records every delivery to an e-mail subscription. On the aws
target SNS sends real e-mail: read it in the mailbox you subscribed (after confirming the subscription).
"""
from __future__ import annotations

from . import stack_api
from .config import settings
from .errors import LabError


def inbox(to: str | None = None, topic: str | None = None) -> list[dict]:
    """Messages delivered to e-mail subscribers, oldest first: {"to", "topic", "subject", "body", "time", ...};
    `to` and `topic` keep only one recipient's or one topic's."""
    s = settings()
    if not s.is_local:
        raise LabError("on the aws target SNS sends real e-mail: look in the mailbox you subscribed "
                       "(confirm the subscription first, with the link in AWS's confirmation mail).")
    return stack_api.get("/api/inbox", to=to or None, topic=topic or None)
