"""`make bench`: fetch and build what the benchmarks need, run every benchmark and the reliability drills, then
rewrite BENCHMARKS.md from bench/results/ (the drills rewrite docs/RELIABILITY.md).

    python -m bench                  # full: bench/results/, BENCHMARKS.md, docs/RELIABILITY.md
    python -m bench --quick          # each module's QUICK sizes: everything under build/bench-quick/ instead
    python -m bench reliability      # one step (or several), by name

Each benchmark module's run() takes its sizes as keyword arguments: the defaults are the full run's, the module's
QUICK dict the quick run's (one place per module). A step that fails does not stop the others; the run ends with
a non-zero exit and names the failed steps.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from pathlib import Path

from .common import QUICK_DIR, RESULTS, save

ROOT = RESULTS.parent.parent
BENCHMARKS = ["rcf_throughput", "anomaly_job_throughput", "pipeline_latency", "pipeline_latency_bulk",
              "trigger_parallelization",
              "kinesis_put_rate", "journal_cost", "stack_startup", "course_run", "detection_scoreboard",
              "real_data_alerts"]
STEPS = [*BENCHMARKS, "reliability"]  # the drills last: their report is docs/RELIABILITY.md, not a section here
HAND_WRITTEN = "<!-- Hand-written from here on: `make bench` keeps it as it is. -->"


def section(name: str, folder: Path | None = None) -> str:
    """One benchmark's section, from its results file alone."""
    path = (folder or RESULTS) / f"{name}.json"
    if not path.exists():
        return f"## {name}\n\nNot measured yet: run `make bench`.\n\n"
    result = json.loads(path.read_text())
    where = result["machine"]
    quick = (" A quick run (`python -m bench --quick`): small sizes, not the report's figures."
             if result.get("quick") else "")
    return (importlib.import_module(f"bench.{name}").render(result) +
            f"\n_Measured {result['measured_at']} on {where['cores']} cores, {where['memory_gb']} GB, {where['cpu']}, "
            f"Python {where['python']}, {where['os']}; load average over its last minute "
            f"{result['load_average_1_5_15_min'][0]}.{quick}_\n\n")


def write_report(quick: bool = False) -> Path:
    """Rewrite BENCHMARKS.md's tables from bench/results/; the hand-written part after HAND_WRITTEN stays. A quick
    run's report is build/bench-quick/BENCHMARKS.md, from build/bench-quick/results/, without the notes."""
    folder, report = ((QUICK_DIR / "results", QUICK_DIR / "BENCHMARKS.md") if quick else
                      (RESULTS, ROOT / "BENCHMARKS.md"))
    old = report.read_text() if report.exists() and not quick else ""
    kept = old[old.index(HAND_WRITTEN):] if HAND_WRITTEN in old else ""
    head = ("# Benchmarks\n\nWritten by `make bench` (bench/) from bench/results/: each section shows only what the "
            "run that wrote its results file measured, with when and where. Each says whether a figure is a median "
            "of several runs or one run, and what its reference is: measured in the same run, or the goal, "
            "labelled goal. The hand-written notes at the end tell what was found and changed, by date.\n\n")
    if quick:
        head = ("# Benchmarks, quick run\n\nWritten by `python -m bench --quick` from build/bench-quick/results/: "
                "every benchmark with its module's QUICK sizes (fewer runs, fewer records, shorter runs), to check "
                "that the benchmarks run, not to measure. The report's figures are in BENCHMARKS.md, from a full "
                "`make bench`.\n\n")
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(head + "".join(section(name, folder) for name in BENCHMARKS) + kept)
    return report


def run_step(name: str, quick: bool) -> None:
    """Run one step with its full or QUICK sizes and save its result (marked quick or not)."""
    module = importlib.import_module(f"bench.{name}")
    sizes = dict(module.QUICK) if quick else {}
    if name == "reliability" and quick:
        sizes["report"] = QUICK_DIR / "RELIABILITY.md"
    result = module.run(**sizes)
    save(name, result, QUICK_DIR / "results" if quick else RESULTS, quick)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", metavar="name", help=f"steps to run (default all: {', '.join(STEPS)})")
    parser.add_argument("--quick", action="store_true",
                        help="each module's QUICK sizes, a CI-sized check; writes only under build/bench-quick/")
    parser.add_argument("--report-only", action="store_true", help="only rewrite BENCHMARKS.md")
    args = parser.parse_args(argv)
    if set(args.names) - set(STEPS):
        parser.error(f"no step named {', '.join(sorted(set(args.names) - set(STEPS)))}; the steps: {', '.join(STEPS)}")
    names = [] if args.report_only else args.names or STEPS
    began, failed = time.monotonic(), {}
    for name in names:  # fetch and build first: a missing tool or data set fails before an hour of runs
        prepare = getattr(importlib.import_module(f"bench.{name}"), "prepare", None)
        if prepare:
            print(f"bench: preparing {name}", flush=True)
            try:
                prepare()
            except Exception as error:  # reported with the others at the end
                traceback.print_exc()
                failed[name] = f"preparing it failed: {error}"
    for name in [n for n in names if n not in failed]:
        print(f"bench: {name}{' (quick)' if args.quick else ''}, {(time.monotonic() - began) / 60:.1f} min in",
              flush=True)
        try:
            run_step(name, args.quick)
        except Exception as error:  # the other steps still run; the exit code says it failed
            traceback.print_exc()
            failed[name] = str(error) or type(error).__name__
    if args.report_only or set(names) & set(BENCHMARKS):
        print(f"wrote {write_report(args.quick)}")
    if names:
        print(f"bench: {len(names)} step(s) in {(time.monotonic() - began) / 60:.1f} min", flush=True)
    if failed:
        print("bench: FAILED: " + "; ".join(f"{name}: {why}" for name, why in failed.items()), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
