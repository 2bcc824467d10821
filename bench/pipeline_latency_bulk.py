"""The pipeline latency benchmark fed by the benchmark's load generator (bench/bulk_producer.py) instead of
the course's simulator: the same pipeline and measurement, with one PutRecords call per 0.1 s instead of one per
five readings. Set beside the simulator's run, it shows how much of the latency is the producer's.

    python -m bench.pipeline_latency --producer bulk --minutes 2
"""
from __future__ import annotations

from .pipeline_latency import measured, run as run_pipeline


def run() -> dict:
    return run_pipeline(producer="bulk")


def render(result: dict) -> str:
    return measured(result, "the benchmark's load generator") + (
        "\nSame pipeline, same measurement; only the producer differs: bench/bulk_producer.py sends the readings due "
        "at each tick in one PutRecords call, which does not keep each location's order on a partial failure, so "
        "the course does not use it.\n")
