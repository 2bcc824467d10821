"""The whole course headless (`python -m labkit.course run`, what `make lab` runs): wall time and peak memory.

The course runs in a child process with its own state folder and free ports, so a student's stack is never
touched. This process makes itself a child subreaper (Linux prctl), so the local stack — which outlives the
notebook kernel that started it — and everything under it (Flink's JVMs, Python workers, Lambda workers)
stay in its process tree. Twice a second the resident memory (RSS) of the whole tree is summed; the peak is
the figure. RSS counts pages shared between processes once per process, so the sum is an upper bound; the
proportional set size (PSS, shared pages split) is sampled every PSS_EVERY_S seconds as the lower reference.
Goal: <= 10 min and <= 3 GB.
"""
from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from .common import TABLE_HEAD, free_port, median, verdict

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_S = 0.5
PSS_EVERY_S = 10.0
PR_SET_CHILD_SUBREAPER = 36
GOAL_MINUTES, GOAL_GB = 10.0, 3.0
TIMEOUT_S = 3600
QUICK: dict = {}  # `python -m bench --quick`: the course is the unit, one whole run in both modes


def become_subreaper() -> None:
    """Orphaned descendants (the stack after its kernel exits) are re-parented to this process, not init."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed: the course benchmark needs Linux")


class TreeMemory:
    """Peak summed RSS (and PSS, sampled less often) of this process's descendants."""

    def __init__(self):
        self.peak_rss = self.peak_pss = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="tree-memory", daemon=True)

    def __enter__(self) -> "TreeMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        last_pss = 0.0
        while not self._stop.is_set():
            processes = psutil.Process().children(recursive=True)
            rss = pss = 0
            with_pss = time.monotonic() - last_pss >= PSS_EVERY_S
            for process in processes:
                try:
                    rss += process.memory_info().rss
                    if with_pss:
                        pss += process.memory_full_info().pss
                except psutil.Error:
                    continue
            if rss > self.peak_rss:
                self.peak_rss, self.peak_processes = rss, len(processes)
            if with_pss:
                self.peak_pss, last_pss = max(self.peak_pss, pss), time.monotonic()
            self._stop.wait(SAMPLE_S)


def reap_leftovers() -> list[str]:
    """Stop what the course left running under this process (it should leave nothing); what they were."""
    leftovers, names = psutil.Process().children(recursive=True), []
    for process in leftovers:
        try:
            names.append(" ".join(process.cmdline())[:160])
            process.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(leftovers, timeout=30)
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            pass
    return names


def one_run() -> dict:
    """Run the course once in a child process; wall time, peak memory and the course's own summary."""
    summary_file = ROOT / "build" / "executed" / "summary.json"
    summary_file.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="labkit-bench-course-") as state:
        environment = {**os.environ, "LABKIT_TARGET": "local", "LABKIT_STATE_DIR": state,
                       "LABKIT_AWS_PORT": str(free_port()), "LABKIT_SERVICE_PORT": str(free_port()),
                       "LABKIT_FLINK_PORT": str(free_port())}
        with TreeMemory() as memory:
            began = time.monotonic()
            done = subprocess.run([sys.executable, "-m", "labkit.course", "run"], cwd=ROOT, env=environment,
                                  stdin=subprocess.DEVNULL, timeout=TIMEOUT_S)
            seconds = time.monotonic() - began
        leftovers = reap_leftovers()
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    failed = {name: nb["error"] for name, nb in summary.get("notebooks", {}).items() if nb.get("error")}
    if done.returncode != 0 or failed:
        raise RuntimeError(f"the course run failed (exit code {done.returncode}): {failed or 'see its output above'}")
    return {"seconds": seconds, "peak_rss_gb": memory.peak_rss / 2**30, "peak_pss_gb": memory.peak_pss / 2**30,
            "processes_at_peak": memory.peak_processes, "leftover_processes": leftovers,
            "notebooks": {name: nb["seconds"] for name, nb in summary.get("notebooks", {}).items()}}


def run(runs: int = 1) -> dict:
    become_subreaper()
    measured = []
    for index in range(runs):
        print(f"course run {index + 1}/{runs}", flush=True)
        measured.append(one_run())
        print(f"  {measured[-1]['seconds'] / 60:.1f} min, peak RSS {measured[-1]['peak_rss_gb']:.2f} GB", flush=True)
    minutes = median([m["seconds"] for m in measured]) / 60
    rss = median([m["peak_rss_gb"] for m in measured])
    result = {
        "runs": runs, "minutes": round(minutes, 1), "peak_rss_gb": round(rss, 2),
        "peak_pss_gb": round(median([m["peak_pss_gb"] for m in measured]), 2),
        "processes_at_peak": measured[0]["processes_at_peak"], "notebooks": measured[0]["notebooks"],
        "leftover_processes": sorted({name for m in measured for name in m["leftover_processes"]}),
        "ratio_minutes_to_goal": round(minutes / GOAL_MINUTES, 2), "ratio_memory_to_goal": round(rss / GOAL_GB, 2),
        "goal": f"<= {GOAL_MINUTES:g} min and <= {GOAL_GB:g} GB",
        "meets_goal": minutes <= GOAL_MINUTES and rss <= GOAL_GB,
    }
    return result


def render(result: dict) -> str:
    outcome = verdict(result)
    slowest = sorted(result["notebooks"].items(), key=lambda kv: -kv[1])[:3]
    runs = "one run (a run is long)" if result["runs"] == 1 else f"median of {result['runs']} runs"
    leftovers = (f" It left {', '.join(result['leftover_processes'])} running (stopped by the benchmark)."
                 if result["leftover_processes"] else " It left no process running.")
    return (
        "## Whole course headless\n\n"
        + TABLE_HEAD +
        f"| wall time | {result['minutes']} min | goal {GOAL_MINUTES:g} min | {result['ratio_minutes_to_goal']} |\n"
        f"| peak memory (RSS, whole process tree) | {result['peak_rss_gb']} GB | goal {GOAL_GB:g} GB | "
        f"{result['ratio_memory_to_goal']} |\n\n"
        f"`python -m labkit.course run` (every notebook under papermill, the DIY reference solution, the preview), "
        f"{runs}, "
        f"on its own state folder and ports. Memory: RSS of every descendant process (kernels, stack, Flink "
        f"JVMs and Python workers, Lambda workers), summed twice a second; {result['processes_at_peak']} "
        f"processes at the peak; PSS (shared pages split) peaked at {result['peak_pss_gb']} GB. Slowest notebooks: "
        + ", ".join(f"{name} {seconds} s" for name, seconds in slowest) + "." + leftovers +
        f" Goal: {result['goal']} — {outcome}.\n"
    )
