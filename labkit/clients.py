"""boto3 clients for the chosen target (no lab logic)."""
from __future__ import annotations

import functools

import boto3
from botocore.config import Config

from .config import settings

# The local endpoint accepts any key; these are placeholders, never real credentials.
_LOCAL_KEYS = {"aws_access_key_id": "labkit-local", "aws_secret_access_key": "labkit-local"}


@functools.lru_cache(maxsize=None)
def _client(service: str, target: str, region: str, endpoint_url: str | None):
    extra = _LOCAL_KEYS if target == "local" else {}
    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60)
    return boto3.session.Session().client(
        service, region_name=region, endpoint_url=endpoint_url, config=config, **extra
    )


def client(service: str):
    """A boto3 client for `service` that talks to the current target (local endpoint or AWS)."""
    s = settings()
    return _client(service, s.target, s.region, s.endpoint_url)
