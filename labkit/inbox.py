"""The e-mail the lab's SNS topics sent, as each subscriber would have received it.

    labkit.inbox.inbox()                 # every message: to, topic, subject, body, time
    labkit.inbox.inbox(to="me@example.com")

On the local target the stack's inbox records every delivery to an e-mail subscription. On the aws
target SNS sends real e-mail: read it in the mailbox you subscribed (after confirming the subscription).
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from .config import settings
from .errors import LabError, StackNotRunning


def inbox(to: str | None = None, topic: str | None = None) -> list[dict]:
    """Messages delivered to e-mail subscribers, oldest first: {"to", "topic", "subject", "body", "time", ...};
    `to` and `topic` keep only one recipient's or one topic's."""
    s = settings()
    if not s.is_local:
        raise LabError("on the aws target SNS sends real e-mail: look in the mailbox you subscribed "
                       "(confirm the subscription first, with the link in AWS's confirmation mail).")
    query = urllib.parse.urlencode({k: v for k, v in (("to", to), ("topic", topic)) if v})
    try:
        with urllib.request.urlopen(f"{s.service_url}/api/inbox?{query}", timeout=30) as response:
            return json.load(response)
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        raise StackNotRunning(f"nothing answers on {s.service_url}") from error
