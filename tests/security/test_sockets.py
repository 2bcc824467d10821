"""Every socket of the running stack, its Flink cluster and their workers stays on this machine.

The e2e test checks the TCP listeners of the stack's and Flink's process trees during the lab's pipeline.
This one covers more, while the drill pipeline runs (after the drills, the TaskManager is the one started to
replace a killed one): UDP sockets and IPv6 wildcards too, processes found by their process group as well as
by parenthood (a worker whose parent died is re-parented and would escape a tree walk), a warm Lambda
execution environment, and every connected socket's peer: nothing talks to another machine (e.g. real AWS).
"""
from __future__ import annotations

import os
import socket

import psutil
import pytest

import labkit as lab
from tests.reliability.pipeline import FUNCTION

pytestmark = pytest.mark.flink
LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


def stack_processes() -> dict[int, psutil.Process]:
    """The stack process, the Flink JobManager and TaskManager, everything they started, and everything in
    their process groups."""
    report = lab.status()
    roots = [report["pid"], *report["components"]["flink"]["processes"].values()]
    groups = {os.getpgid(pid) for pid in roots}
    found = {}
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) in groups:
                found[process.pid] = process
        except (ProcessLookupError, psutil.Error):
            continue
    for root in roots:
        for process in [psutil.Process(root), *psutil.Process(root).children(recursive=True)]:
            found[process.pid] = process
    return found


def command(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def test_no_socket_of_the_stack_or_flink_listens_beyond_loopback_or_reaches_another_machine(drill):
    assert lab.functions.invoke(FUNCTION, {"Records": []})["ok"]  # a warm Lambda execution environment
    processes = stack_processes()
    commands = [command(p) for p in processes.values()]
    assert any("TaskManagerRunner" in c for c in commands) and any("StandaloneSessionClusterEntrypoint" in c
                                                                   for c in commands)
    assert any("pyflink" in c or "fn_execution" in c for c in commands), "the job's Python worker"
    assert any("lambda_runtime/worker.py" in c for c in commands), "a Lambda execution environment"

    bound, peers = [], []
    for process in processes.values():
        try:
            connections = process.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        for c in connections:
            if c.status == psutil.CONN_LISTEN or c.type == socket.SOCK_DGRAM:
                bound.append((command(process)[:60], c.laddr))
            if c.raddr:
                peers.append((command(process)[:60], c.raddr))
    assert len(bound) >= 6
    assert [b for b in bound if b[1].ip not in LOOPBACK] == []
    assert peers and [p for p in peers if p[1].ip not in LOOPBACK] == []
