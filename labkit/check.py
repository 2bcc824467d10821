"""Check cells: each verifies one expected outcome and prints ✓, or raises CheckFailed saying what to do."""
from __future__ import annotations

from .config import settings
from .errors import LabError
from .local import control


class CheckFailed(LabError, AssertionError):
    """An expected outcome is not there; the message says what to do next."""


def passed(message: str) -> None:
    print(f"✓ {message}")


def stack_is_healthy() -> dict:
    """The target answers: the local stack is up (local), or credentials reach AWS (aws)."""
    s = settings()
    if s.is_local:
        report = control.status(s)
        if not report["running"]:
            raise CheckFailed(report["hint"])
        passed(f"local stack running; AWS API endpoint {report['endpoint']}")
        return report
    from .clients import client

    identity = client("sts").get_caller_identity()
    passed(f"AWS credentials work (account {identity['Account']}, region {s.region})")
    return identity
