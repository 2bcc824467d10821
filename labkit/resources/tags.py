"""The tag every lab resource carries, so teardown deletes exactly the lab's resources."""
from __future__ import annotations

from ..config import NAMES


def as_dict() -> dict[str, str]:
    return {NAMES.tag_key: NAMES.tag_value}


def as_list() -> list[dict[str, str]]:
    """The Key/Value list form (IAM, S3, Kinesis Analytics)."""
    return [{"Key": NAMES.tag_key, "Value": NAMES.tag_value}]
