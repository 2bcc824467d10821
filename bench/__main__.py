"""`make bench`: run every benchmark, then rewrite BENCHMARKS.md from bench/results/."""
from __future__ import annotations

import argparse
import importlib
import json
import sys

from .common import RESULTS, machine

ROOT = RESULTS.parent.parent
BENCHMARKS = ["rcf_throughput", "anomaly_job_throughput", "pipeline_latency", "pipeline_latency_bulk",
              "kinesis_put_rate", "stack_startup", "course_run", "detection_scoreboard"]


def write_report() -> None:
    m = machine()
    parts = [
        "# Benchmarks\n\n",
        "Written by `make bench` (bench/). Each figure is the median of several runs, next to its reference "
        "measured in the same run.\n\n",
        f"Machine: {m['cores']} cores, {m['memory_gb']} GB, {m['cpu']}, Python {m['python']}, {m['os']}.\n\n",
    ]
    for name in BENCHMARKS:
        path = RESULTS / f"{name}.json"
        if path.exists():
            result = json.loads(path.read_text())
            module = importlib.import_module(f"bench.{name}")
            parts.append(module.render(result) + f"\n_Measured {result['measured_at']}._\n\n")
        else:
            parts.append(f"## {name}\n\nNot measured yet: run `make bench`.\n\n")
    (ROOT / "BENCHMARKS.md").write_text("".join(parts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all: {', '.join(BENCHMARKS)})")
    parser.add_argument("--report-only", action="store_true", help="only rewrite BENCHMARKS.md")
    args = parser.parse_args(argv)
    if not args.report_only:
        for name in args.names or BENCHMARKS:
            importlib.import_module(f"bench.{name}").run()
    write_report()
    print(f"wrote {ROOT / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
