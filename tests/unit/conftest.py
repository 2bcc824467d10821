"""Fixtures of the unit tests."""
from __future__ import annotations

import pytest
from moto import mock_aws

from labkit import clients


@pytest.fixture
def aws(monkeypatch):
    """LABKIT_TARGET=aws with every AWS call answered by moto in this process."""
    monkeypatch.setenv("LABKIT_TARGET", "aws")
    monkeypatch.setenv("LABKIT_REGION", "us-east-1")
    clients._client.cache_clear()
    with mock_aws():
        yield
    clients._client.cache_clear()
