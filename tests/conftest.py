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

from tests.processes import kill_all


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_STATE = Path(tempfile.mkdtemp(prefix="labkit-test-state-"))
# The session's stack runs without AWS's per-shard Kinesis limits (on by default for `labkit up` and the course):
# many tests fill a shard in bulk to test something else. The limits' own tests start a stack with them on
# (tests/stack/test_kinesis_limits.py, test_simulator_write_limit.py); LABKIT_KINESIS_LIMITS=on runs all with them.
os.environ.update(
    LABKIT_KINESIS_LIMITS=os.environ.get("LABKIT_KINESIS_LIMITS", "off"),
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


def kill_stack(status: dict) -> None:
    """SIGKILL the stack, its children and the Flink cluster's processes at once: a laptop losing power."""
    kill_all(_stack_family(status))


@pytest.fixture(scope="session")
def stock_moto_url(tmp_path_factory):
    """A stock moto server (no labkit patches), to show the defects the patches remove. It must answer an AWS
    call before any test uses it, so a server that did not start fails the test instead of passing for a defect."""
    port = free_port()
    output = tmp_path_factory.mktemp("stock-moto") / "server.log"
    with open(output, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_stock_moto(process, url, output)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for_stock_moto(process: subprocess.Popen, url: str, output: Path, timeout_s: float = 30) -> None:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    kinesis = boto3.client("kinesis", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                           aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))
    deadline = time.monotonic() + timeout_s
    while process.poll() is None and time.monotonic() < deadline:
        try:
            kinesis.list_streams()
            return
        except BotoCoreError:  # not listening yet
            time.sleep(0.2)
    running = process.poll() is None
    state = f"did not answer in {timeout_s:.0f} s" if running else f"exited with code {process.returncode}"
    tail = output.read_text(errors="replace")[-2000:]
    pytest.fail(f"the stock moto server on {url} {state}; its output:\n{tail}", pytrace=False)


def aws_client(service: str, endpoint_url: str):
    import boto3

    return boto3.client(service, endpoint_url=endpoint_url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")
