"""boto3 clients for the chosen target (no lab logic)."""
from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import boto3
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from .config import LOCAL_ACCOUNT_ID, settings
from .errors import StackNotRunning

# The local endpoint accepts any key; these are placeholders, never real credentials.
_LOCAL_KEYS = {"aws_access_key_id": "labkit-local", "aws_secret_access_key": "labkit-local"}


@contextlib.contextmanager
def _stack_answers(endpoint_url: str | None):
    """On the local target, a call that finds nothing listening says "start the stack"."""
    try:
        yield
    except EndpointConnectionError as error:
        if endpoint_url is None:
            raise
        raise StackNotRunning(f"nothing answers on {endpoint_url}") from error


class _LocalClient:
    """A boto3 client of the local endpoint whose calls say "start the stack" when nothing answers."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name: str):
        attribute = getattr(self._inner, name)
        if name.startswith("_") or not callable(attribute) or name in ("get_paginator", "get_waiter"):
            return attribute

        @functools.wraps(attribute)
        def call(*args, **kwargs):
            with _stack_answers(self._inner.meta.endpoint_url):
                return attribute(*args, **kwargs)

        return call


@functools.lru_cache(maxsize=None)
def _client(service: str, target: str, region: str, endpoint_url: str | None):
    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60)
    if target != "local":
        return boto3.session.Session().client(service, region_name=region, config=config)
    return _LocalClient(boto3.session.Session().client(
        service, region_name=region, endpoint_url=endpoint_url, config=config, **_LOCAL_KEYS))


def client(service: str):
    """A boto3 client for `service` that talks to the current target (local endpoint or AWS)."""
    s = settings()
    return _client(service, s.target, s.region, s.endpoint_url)


def pages(service: str, operation: str, **request) -> Iterator[dict]:
    """Every page of a listing call, through boto3's paginator for `operation` (it passes the tokens on).
    As with `client()`'s calls, nothing answering on the local target is StackNotRunning: the paginator's
    requests do not go through the wrapper of `client()`, so this is the one way to page."""
    paginator = client(service).get_paginator(operation)
    with _stack_answers(settings().endpoint_url):
        yield from paginator.paginate(**request)


def account_id() -> str:
    """The AWS account the calls go to (the local stack's is fixed)."""
    s = settings()
    return LOCAL_ACCOUNT_ID if s.is_local else _account_id(s.target, s.region, s.endpoint_url)


@functools.lru_cache(maxsize=None)
def _account_id(target: str, region: str, endpoint_url: str | None) -> str:
    """One GetCallerIdentity per client, not one per ARN (the execution role's policy names a dozen)."""
    return _client("sts", target, region, endpoint_url).get_caller_identity()["Account"]
