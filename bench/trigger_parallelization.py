"""The Lambda trigger's ParallelizationFactor chosen by measurement: the pipeline fed at 1,000 records/s by the
benchmark's load generator, once per factor in FACTORS, one after the other in the same run, everything else
as in pipeline_latency_bulk (whose trigger has AWS's default, 1).

    python -m bench trigger_parallelization
"""
from __future__ import annotations

from .common import TABLE_HEAD, verdict
from .pipeline_latency import GOAL_P99_S, RATE, run as run_pipeline

FACTORS = (1, 4)
MINUTES = 4.0  # per factor: long enough for the trigger to fall behind when it cannot keep up
WARMUP_S = 30.0
QUICK = {"minutes": 0.1, "warmup_s": 2.0, "rate": 100.0}  # `python -m bench --quick`: a check that it runs
KEPT = ("rate_actual", "sent", "lost", "p50_s", "p99_s", "max_s", "backlog_when_sending_stopped", "cpu_share",
        "meets_goal")


def run(minutes: float = MINUTES, warmup_s: float = WARMUP_S, rate: float = RATE,
        factors: tuple[int, ...] = FACTORS) -> dict:
    runs = {}
    for factor in factors:
        print(f"trigger ParallelizationFactor {factor}:", flush=True)
        measured = run_pipeline(minutes, rate, producer="bulk", warmup_s=warmup_s, parallelization=factor)
        runs[str(factor)] = {key: measured[key] for key in KEPT}
    fastest = min(runs, key=lambda factor: runs[factor]["p99_s"])
    return {"minutes": minutes, "warmup_s": warmup_s, "rate_target": measured["rate_target"], "factors": list(factors),
            "runs": runs, "fastest": fastest, "goal": f"p99 <= {GOAL_P99_S:g} s and 0 records lost",
            "meets_goal": runs[fastest]["meets_goal"]}


def render(result: dict) -> str:
    reference = result["runs"][str(result["factors"][0])]
    rows = []
    for factor, one in result["runs"].items():
        ratio = round(one["p99_s"] / reference["p99_s"], 2) if reference["p99_s"] else ""
        rows.append(
            f"| ParallelizationFactor {factor}: p50 / p99 / max after the first {result['warmup_s']:g} s | "
            f"{one['p50_s']} / {one['p99_s']} / {one['max_s']} s | factor {result['factors'][0]}: "
            f"{reference['p99_s']} s p99 | {ratio} |\n"
            f"| ParallelizationFactor {factor}: trigger backlog when sending stopped, lost, rate reached | "
            f"{one['backlog_when_sending_stopped']['lambda_trigger']:,} records, {one['lost']:,} of {one['sent']:,} "
            f"lost, {one['rate_actual']:,} rec/s | | |\n"
            f"| ParallelizationFactor {factor}: CPU cores, endpoint / Lambda workers | "
            f"{one['cpu_share']['aws endpoint + stack']} / {one['cpu_share']['lambda workers']} | | |\n")
    return (f"## Lambda trigger: ParallelizationFactor side by side, at {result['rate_target']:,.0f} records/s\n\n"
            + TABLE_HEAD + "".join(rows) +
            f"\nOne run of {result['minutes']:g} minutes per factor, one after the other on a fresh private stack "
            "each, the pipeline and measurement of the load generator's section above; only the trigger's "
            f"ParallelizationFactor differs. Lowest p99: factor {result['fastest']}. Goal: {result['goal']} — "
            + verdict(result) + ".\n")
