"""`labkit up` / `down` / `status` on a stack of its own (not the shared one)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import psutil
import pytest

from labkit import simulate
from labkit.local import control
from labkit.resources import streams
from tests.conftest import aws_client, free_port


@pytest.fixture
def own_stack_env(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_STATE_DIR", str(tmp_path / "state"))
    for var in ("LABKIT_AWS_PORT", "LABKIT_SERVICE_PORT", "LABKIT_FLINK_PORT"):
        monkeypatch.setenv(var, str(free_port()))
    yield
    control.down(quiet=True)


def _labkit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labkit", *args], capture_output=True, text=True, timeout=120)


def test_status_when_down_says_so_and_names_the_fix(own_stack_env):
    result = _labkit("status")
    assert result.returncode == 3
    assert "not running" in result.stdout and "labkit up" in result.stdout


def test_down_leaves_no_process_and_up_restores_streams_and_records(own_stack_env):
    report = control.up(quiet=True)
    pid = report["pid"]
    kinesis = aws_client("kinesis", report["endpoint"])
    kinesis.create_stream(StreamName="Kept", ShardCount=1)
    kinesis.put_records(StreamName="Kept", Records=[{"Data": b"%d" % i, "PartitionKey": "k"} for i in range(100)])
    _start_simulator()
    family = [pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))]

    assert _labkit("down").returncode == 0
    assert not [p for p in family if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]

    report = control.up(quiet=True)
    kinesis = aws_client("kinesis", report["endpoint"])
    iterator = kinesis.get_shard_iterator(StreamName="Kept", ShardId="shardId-000000000000",
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = kinesis.get_records(ShardIterator=iterator)["Records"]
    assert [r["Data"] for r in records] == [b"%d" % i for i in range(100)]
    kinesis.put_record(StreamName="Kept", Data=b"next", PartitionKey="k")
    tail = kinesis.get_records(ShardIterator=kinesis.get_shard_iterator(
        StreamName="Kept", ShardId="shardId-000000000000", ShardIteratorType="AFTER_SEQUENCE_NUMBER",
        StartingSequenceNumber=records[-1]["SequenceNumber"])["ShardIterator"])["Records"]
    assert [r["Data"] for r in tail] == [b"next"]


def _start_simulator() -> None:
    streams.create("Simulated", quiet=True)
    simulate.start("Simulated", dataset="wind", rate=20, loop=True)


def _simulator_processes(stack: psutil.Process) -> list[psutil.Process]:
    return [c for c in stack.children() if "labkit.local.simulator_process" in c.cmdline()]


def test_simulator_process_ends_when_the_stack_is_killed(own_stack_env):
    stack = psutil.Process(control.up(quiet=True)["pid"])
    _start_simulator()
    simulator = _simulator_processes(stack)
    assert len(simulator) == 1, "the simulator sends from one process of its own, a child of the stack"

    stack.kill()
    _, alive = psutil.wait_procs(simulator, timeout=30)

    assert not alive, "the simulator's process must end by itself when the stack is gone"


def _private_env(state_dir) -> dict[str, str]:
    """An environment copy for a stack of its own (state folder, free ports); the session's stays untouched."""
    env = dict(os.environ, LABKIT_TARGET="local", LABKIT_STATE_DIR=str(state_dir))
    env.update({var: str(free_port()) for var in ("LABKIT_AWS_PORT", "LABKIT_SERVICE_PORT", "LABKIT_FLINK_PORT")})
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labkit.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_garbage_state_file_is_moved_aside_and_the_stack_starts_empty_saying_so(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "aws-state.pickle").write_bytes(os.urandom(4096))
    env = _private_env(state)
    try:
        up = _cli(env, "up", "--quiet")
        report = json.loads(_cli(env, "status", "--json").stdout)
        streams = aws_client("kinesis", report["endpoint"]).list_streams()["StreamNames"]
    finally:
        _cli(env, "down", "--quiet")

    assert up.returncode == 0, up.stderr
    [moved] = state.glob("aws-state.pickle.corrupt-*")
    sentence = (f"the saved state could not be read (it is not a labkit state file); it was moved to {moved}; "
                "the stack started empty.")
    assert sentence in up.stdout
    assert sentence in (state / "stack.log").read_text()
    assert report["notices"] == [sentence]
    assert streams == []
    assert (state / "aws-state.pickle").read_bytes().startswith(b"labkit-aws-state 2 moto "), "saved anew at down"
