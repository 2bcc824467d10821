"""Shared fixtures. The tests run their own local stack on free ports, in a temporary state folder, so a
student's running stack (or another test run) is never touched. One stack serves the whole test session."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_STATE = Path(tempfile.mkdtemp(prefix="labkit-test-state-"))
os.environ.update(
    LABKIT_TARGET="local",
    LABKIT_STATE_DIR=str(_STATE),
    LABKIT_AWS_PORT=str(free_port()),
    LABKIT_SERVICE_PORT=str(free_port()),
    LABKIT_FLINK_PORT=str(free_port()),
)


@pytest.fixture(scope="session")
def stack():
    """The local stack, started once for the session and stopped at its end."""
    import labkit

    labkit.up(quiet=True)
    yield labkit.settings()
    labkit.down(quiet=True)


@pytest.fixture(scope="session")
def stock_moto_url():
    """A stock moto server (no labkit fixes), to show the defects the fixes remove."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=10)


def aws_client(service: str, endpoint_url: str):
    import boto3

    return boto3.client(service, endpoint_url=endpoint_url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")
