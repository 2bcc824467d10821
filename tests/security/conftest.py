"""Shared fixtures of the security tests: the drill pipeline (the socket test runs while it runs) and the aws
target against moto in this process (no AWS account is reachable here)."""
from __future__ import annotations

import json

import pytest
from moto import mock_aws
from moto.kinesisanalyticsv2 import responses

from labkit import clients
from tests.reliability.pipeline import drill  # noqa: F401  (the session fixture)


def _delete_application(self) -> str:
    """DeleteApplication, which moto 5.2.5 lacks (AWS halts a running application and deletes it)."""
    del self.kinesisanalyticsv2_backend.applications[json.loads(self.body)["ApplicationName"]]
    return "{}"


@pytest.fixture
def aws(monkeypatch):
    """LABKIT_TARGET=aws with every AWS call answered by moto in this process."""
    monkeypatch.setenv("LABKIT_TARGET", "aws")
    monkeypatch.setenv("LABKIT_REGION", "us-east-1")
    for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "moto")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "moto")
    if not hasattr(responses.KinesisAnalyticsV2Response, "delete_application"):
        monkeypatch.setattr(responses.KinesisAnalyticsV2Response, "delete_application", _delete_application,
                            raising=False)
    clients._client.cache_clear()
    with mock_aws():
        yield
    clients._client.cache_clear()
