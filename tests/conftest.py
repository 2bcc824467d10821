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

import psutil
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
    family = _stack_family(labkit.status())
    labkit.down(quiet=True)
    left = [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, f"labkit down left processes running: {[' '.join(p.cmdline()[:4]) for p in left]}"


def _stack_family(status: dict) -> list[psutil.Process]:
    """The stack's process, its children (Lambda workers, the simulator) and the Flink cluster's processes."""
    if not status["running"]:
        return []
    stack = psutil.Process(status["pid"])
    flink = [psutil.Process(pid) for pid in status["components"]["flink"]["processes"].values()]
    return [stack, *stack.children(recursive=True), *(p for f in flink for p in [f, *f.children(recursive=True)])]


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
