"""The pipeline latency benchmark fed by the benchmark's load generator (bench/bulk_producer.py) instead of
the course's simulator: the same pipeline and measurement, with one PutRecords call per 0.1 s instead of one per
five readings. Set beside the simulator's run, it shows how much of the latency is the producer's.

    python -m bench.pipeline_latency --producer bulk --minutes 2
"""
from __future__ import annotations

from . import pipeline_latency
from .pipeline_latency import MINUTES, WARMUP_S, measured, run as run_pipeline

QUICK = pipeline_latency.QUICK  # `python -m bench --quick`: the same sizes as the simulator's run


def run(minutes: float = MINUTES, warmup_s: float = WARMUP_S) -> dict:
    return run_pipeline(minutes, producer="bulk", warmup_s=warmup_s)


def render(result: dict) -> str:
    return measured(result, "the benchmark's load generator") + (
        "\nSame pipeline, same measurement; only the producer differs: bench/bulk_producer.py sends the readings due "
        "at each tick in one PutRecords call, which does not keep each location's order on a partial failure, so "
        "the course does not use it.\n")
