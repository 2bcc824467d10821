"""Fixtures of the unit tests."""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from moto import mock_aws

from labkit import clients
from labkit.local import kinesis_fixes, moto_patches


@pytest.fixture(autouse=True)
def kinesis_limits_off(monkeypatch):
    """The unit tests run the patched moto in this process: without AWS's per-shard limits (on by default),
    which would refuse their bulk fills; the limits' own tests switch them on (fixture `limits_on`)."""
    monkeypatch.setenv(kinesis_fixes.LIMITS_SETTING, "off")


@pytest.fixture
def aws(monkeypatch):
    """LABKIT_TARGET=aws with every AWS call answered by moto in this process."""
    monkeypatch.setenv("LABKIT_TARGET", "aws")
    monkeypatch.setenv("LABKIT_REGION", "us-east-1")
    clients._client.cache_clear()
    with mock_aws():
        yield
    clients._client.cache_clear()


@contextmanager
def registry_restored():
    """Inside: free to apply and undo moto patches. After: the patches in force are those that were before."""
    before = {patch.id for patch in moto_patches.applied()}
    try:
        yield
    finally:
        moto_patches.undo()
        if before:  # a stack may have run in this process
            moto_patches.apply({patch.id for patch in moto_patches.patches()} - before)
