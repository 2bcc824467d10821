"""`labkit up` on a fresh state folder: seconds until the stack answers healthy, and `labkit down`.

Reference: the foundation's goal, healthy within 15 s. Each run starts a private stack (free ports, empty
state folder) in a fresh process, as a student's first `labkit up` does.
"""
from __future__ import annotations

import time

from .common import TABLE_HEAD, median, private_stack, verdict

GOAL_S = 15.0
QUICK = {"runs": 2}  # `python -m bench --quick`: run()'s sizes for a CI-sized check


def one_run() -> tuple[float, float]:
    """Seconds for `labkit up` to report healthy, and for `labkit down` to stop everything."""
    began = time.perf_counter()
    with private_stack():
        up_s = time.perf_counter() - began
        began = time.perf_counter()
    return up_s, time.perf_counter() - began


def run(runs: int = 5) -> dict:
    ups, downs = [], []
    for index in range(runs):
        up_s, down_s = one_run()
        print(f"stack start-up, run {index + 1}/{runs}: up {up_s:.1f} s, down {down_s:.1f} s", flush=True)
        ups.append(up_s)
        downs.append(down_s)
    result = {"runs": runs, "up_s": round(median(ups), 2), "up_max_s": round(max(ups), 2),
              "down_s": round(median(downs), 2), "goal": f"healthy within {GOAL_S:g} s"}
    result["meets_goal"] = result["up_max_s"] <= GOAL_S
    return result


def render(result: dict) -> str:
    outcome = verdict(result)
    return (
        "## Local stack start-up (`labkit up` on a fresh state folder)\n\n"
        + TABLE_HEAD +
        "| `labkit up` until healthy | {up_s} s (slowest {up_max_s} s) | goal {goal_s:g} s | {ratio} |\n"
        "| `labkit down` until every process has stopped | {down_s} s | | |\n\n"
        "Median of {runs} runs, each a new stack process on free ports with an empty state folder. The Flink "
        "cluster is not part of it: it starts with the first application run. Goal: {goal} (every run) — "
        f"{outcome}.\n"
    ).format(ratio=round(result["up_max_s"] / GOAL_S, 2), goal_s=GOAL_S, **result)
