"""What every benchmark shares: a private local stack, the machine's description, medians, results files."""
from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import statistics
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"  # a full run's results, from which BENCHMARKS.md is written
QUICK_DIR = ROOT / "build" / "bench-quick"  # a quick run's results and reports: never bench/results or the docs
TABLE_HEAD = "| figure | value | reference | ratio |\n|---|---|---|---|\n"  # each section's table of figures


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def private_stack(kinesis_limits: bool = True):
    """A local stack on free ports in a temporary state folder, stopped afterwards; `kinesis_limits=False` lifts
    AWS's per-shard limits (for a benchmark of the endpoint itself)."""
    from labkit.local import control, kinesis_fixes

    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="labkit-bench-") as state:
        os.environ.update(LABKIT_TARGET="local", LABKIT_STATE_DIR=state, LABKIT_AWS_PORT=str(free_port()),
                          LABKIT_SERVICE_PORT=str(free_port()), LABKIT_FLINK_PORT=str(free_port()))
        if not kinesis_limits:
            os.environ[kinesis_fixes.LIMITS_SETTING] = "off"
        try:
            yield control.up(quiet=True)
        finally:
            control.down(quiet=True)
            os.environ.clear()
            os.environ.update(saved)


def machine() -> dict:
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": psutil.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
    }


def verdict(result: dict) -> str:
    """How a result stands against its goal, in BENCHMARKS.md's words."""
    return "meets the goal" if result["meets_goal"] else "MISSES the goal"


def median(values: list[float]) -> float:
    return statistics.median(values)


def save(name: str, result: dict, folder: Path = RESULTS, quick: bool = False) -> Path:
    """Write one benchmark's result (with when and where it ran, and whether the run was quick) to
    FOLDER/NAME.json."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    result = {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(),
              "load_average_1_5_15_min": [round(load, 1) for load in os.getloadavg()], "quick": quick, **result}
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
