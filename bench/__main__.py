"""`make bench`: run every benchmark, then rewrite BENCHMARKS.md from bench/results/."""
from __future__ import annotations

import argparse
import importlib
import json
import sys

from .common import RESULTS

ROOT = RESULTS.parent.parent
BENCHMARKS = ["rcf_throughput", "anomaly_job_throughput", "pipeline_latency", "pipeline_latency_bulk",
              "kinesis_put_rate", "journal_cost", "stack_startup", "course_run", "detection_scoreboard",
              "real_data_alerts"]
HAND_WRITTEN = "<!-- Hand-written from here on: `make bench` keeps it as it is. -->"


def section(name: str) -> str:
    """One benchmark's section, from its results file alone."""
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return f"## {name}\n\nNot measured yet: run `make bench`.\n\n"
    result = json.loads(path.read_text())
    where = result["machine"]
    return (importlib.import_module(f"bench.{name}").render(result) +
            f"\n_Measured {result['measured_at']} on {where['cores']} cores, {where['memory_gb']} GB, {where['cpu']}, "
            f"Python {where['python']}, {where['os']}; load average over its last minute "
            f"{result['load_average_1_5_15_min'][0]}._\n\n")


def write_report() -> None:
    """Rewrite BENCHMARKS.md's tables from bench/results/; the hand-written part after HAND_WRITTEN stays."""
    report = ROOT / "BENCHMARKS.md"
    old = report.read_text() if report.exists() else ""
    kept = old[old.index(HAND_WRITTEN):] if HAND_WRITTEN in old else ""
    head = ("# Benchmarks\n\nWritten by `make bench` (bench/) from bench/results/: each section shows only what the "
            "run that wrote its results file measured, with when and where. Each says whether a figure is a median "
            "of several runs or one run, and what its reference is: measured in the same run, or the goal, "
            "labelled goal. The hand-written notes at the end tell what was found and changed, by date.\n\n")
    report.write_text(head + "".join(section(name) for name in BENCHMARKS) + kept)


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
