"""End-to-end latency of the lab's pipeline at 1,000 records/s (one shard's write limit), and records lost.

    python -m bench.pipeline_latency --minutes 2      # a shorter run than the default 10 minutes

The pipeline is built on a private stack as the notebooks build it: WindDataStream -> AnomalyDetection (real
Flink) -> AnomalyDetectionStream -> AnalyticsDestinationFunction (Kinesis trigger, batch 100) ->
WindDataTable. The simulator sends the wind data set in a loop at the rate, stamping each reading's
event_time with the wall clock when it is sent.

How arrival is observed: the simulator's sent-log names every accepted reading; every SAMPLE_EVERY-th one is
watched with BatchGetItem on its WindDataTable key (location, "<event_time>#<event_id>") every POLL_S until
it is there. Its latency is the time of the first answer that holds the item minus its event_time, so it is
an upper bound, late by at most one polling round (the mean round is reported). Nothing in the pipeline
changes for the benchmark. Records lost = distinct readings the simulator sent minus WindDataTable's items,
counted after the pipeline has drained (each reading has its own key; a replay finds its own item).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections import OrderedDict
from datetime import datetime
from pathlib import Path

import psutil
from labkit import simulate

from .anomaly_job_throughput import cpu_seconds, stack_processes
from .bulk_producer import BulkProducer
from .common import TABLE_HEAD, private_stack, save, verdict

RATE = 1000.0
MINUTES = 10.0
SAMPLE_EVERY = 20
POLL_S = 0.1
KEYS_PER_ROUND = 300  # oldest pending samples asked for per round (items arrive about in send order)
DRAIN_TIMEOUT_S = 600
GOAL_P99_S = 2.0
GOAL_LOST = 0
WARMUP_S = 60.0  # readings sent in the first minute (the job's JIT warm-up, the first checkpoint) count apart
QUICK = {"minutes": 0.5, "warmup_s": 10.0}  # `python -m bench --quick`: run()'s sizes for a CI-sized check


def epoch(event_time: str) -> float:
    return datetime.fromisoformat(event_time.replace("Z", "+00:00")).timestamp()


class ArrivalWatch:
    """Follows the simulator's sent-log and times when sampled readings appear in the table."""

    def __init__(self, dynamodb, table: str, sent_log: Path, sample_every: int = SAMPLE_EVERY):
        self.dynamodb, self.table, self.sent_log, self.sample_every = dynamodb, table, sent_log, sample_every
        self.pending: OrderedDict[tuple[str, str], float] = OrderedDict()  # (location, reading_id) -> event time
        self.latencies: list[tuple[float, float]] = []  # (event time, latency), in the order seen
        self.sent_keys: set[str] = set()
        self.rounds, self.round_s = 0, 0.0
        self._offset, self._partial, self._seen_lines = 0, "", 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="arrival-watch", daemon=True)

    def start(self) -> "ArrivalWatch":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def read_sent_log(self) -> None:
        """Take in what the simulator logged since the last call."""
        with open(self.sent_log, encoding="utf-8") as log:
            log.seek(self._offset)
            text = self._partial + log.read()
            self._offset = log.tell()
        lines = text.split("\n")
        self._partial = lines.pop()
        for line in lines:
            record = json.loads(line)["record"]
            reading_id = f"{record['event_time']}#{record['event_id']}"
            self.sent_keys.add(reading_id)
            if self._seen_lines % self.sample_every == 0:
                self.pending[(record["location"], reading_id)] = epoch(record["event_time"])
            self._seen_lines += 1

    def _check(self) -> None:
        keys = list(self.pending)[:KEYS_PER_ROUND]
        for first in range(0, len(keys), 100):
            chunk = keys[first:first + 100]
            answer = self.dynamodb.batch_get_item(RequestItems={self.table: {
                "Keys": [{"location": {"S": loc}, "reading_id": {"S": rid}} for loc, rid in chunk],
                "ProjectionExpression": "reading_id"}})
            now = time.time()
            for item in answer["Responses"].get(self.table, []):
                found = [key for key in chunk if key[1] == item["reading_id"]["S"]]
                for key in found:
                    sent_at = self.pending.pop(key)
                    self.latencies.append((sent_at, now - sent_at))

    def _loop(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            self.read_sent_log()
            if self.pending:
                self._check()
            self.rounds += 1
            self.round_s += time.monotonic() - began
            self._stop.wait(max(0.0, POLL_S - (time.monotonic() - began)))


def children(stack_pid: int, marker: str) -> list[psutil.Process]:
    """The stack's child processes whose command line holds `marker`."""
    return [p for p in psutil.Process(stack_pid).children() if marker in " ".join(p.cmdline())]


def backlog() -> dict[str, int]:
    """Records each stage had yet to take when sending stopped: AnomalyDetection (WindDataStream's newest
    record minus AnomalyDetectionStream's; the job writes one record per reading) and the Lambda trigger
    (AnomalyDetectionStream's newest record minus its checkpoint). The local endpoint numbers each shard's
    records 1, 2, 3, ..., so sequence numbers count records here (not on AWS)."""
    import labkit as lab
    from labkit.config import NAMES

    def newest(stream: str) -> int:
        records = lab.streams.read_records(stream, position="AT_TIMESTAMP", timestamp=time.time() - 2, limit=10_000)
        return int(records["sequence_number"].iloc[-1]) if len(records) else 0

    mappings = lab.status()["components"]["lambda"]["mappings"].values()
    checkpoint = next(int(m["shards"]["shardId-000000000000"]["checkpoint"] or 0) for m in mappings
                      if m["function"] == NAMES.analytics_function)
    scored = newest(NAMES.anomaly_stream)
    return {"anomaly_detection": max(0, newest(NAMES.wind_stream) - scored),
            "lambda_trigger": max(0, scored - checkpoint)}


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1] if len(values) > 1 else values[0]


class CourseSimulator:
    """The course's simulator (in the stack), with BulkProducer's start / status / stop."""

    def __init__(self, stream: str, rate: float):
        self.stream, self.rate = stream, rate

    def start(self) -> dict:
        return simulate.start(self.stream, dataset="wind", rate=self.rate, loop=True)

    @staticmethod
    def status() -> dict:
        return simulate.status()

    @staticmethod
    def stop() -> dict:
        return simulate.stop()


def _deploy_pipeline(parallelization: int) -> None:
    """Streams, AnomalyDetection (fresh), WindDataTable and AnalyticsDestinationFunction with its trigger (its
    ParallelizationFactor `parallelization`)."""
    import labkit as lab
    from labkit.config import NAMES

    for name in (NAMES.wind_stream, NAMES.anomaly_stream):
        lab.streams.create(name, quiet=True)
    lab.apps.create(NAMES.anomaly_app)
    lab.apps.run(NAMES.anomaly_app, from_latest_snapshot=False, quiet=True)
    lab.tables.create(NAMES.wind_table, quiet=True)
    lab.functions.deploy(NAMES.analytics_function, quiet=True)
    lab.functions.add_trigger(NAMES.analytics_function, NAMES.anomaly_stream, parallelization=parallelization,
                              quiet=True)


def _watched_processes(stack: dict, producer: str) -> dict[str, list[psutil.Process]]:
    """The processes whose CPU the run reports, by role."""
    import labkit as lab

    processes = stack_processes(stack["pid"], lab.status()["components"]["flink"]["processes"])
    if producer == "simulator":
        processes["simulator"] = children(stack["pid"], "labkit.local.simulator_process")
    processes[f"bench process ({'bulk producer, ' if producer == 'bulk' else ''}arrival watch)"] = [psutil.Process()]
    processes["lambda workers"] = children(stack["pid"], "worker.py")
    return processes


def _send_for(source, watch: "ArrivalWatch", minutes: float, producer: str) -> None:
    """Let the producer send for `minutes`, printing progress every 30 s; stop if it stops early."""
    sending_until = time.monotonic() + minutes * 60
    while time.monotonic() < sending_until:
        time.sleep(min(30.0, max(0.0, sending_until - time.monotonic())))
        status = source.status()
        recent = [latency for _, latency in watch.latencies[-500:]]
        print(f"  sent {status['sent']:,} ({status['rate_actual']:,.0f} rec/s), sampled arrivals "
              f"{len(watch.latencies):,}, waiting {len(watch.pending):,}, recent p50 "
              f"{statistics.median(recent) if recent else float('nan'):.2f} s", flush=True)
        if status["state"] != "running":
            raise RuntimeError(f"the {producer} producer stopped early: {status['last_error']}")


def _drain(watch: "ArrivalWatch") -> int:
    """Wait (up to DRAIN_TIMEOUT_S) until the table holds every sent record; the table's item count."""
    import labkit as lab
    from labkit.config import NAMES
    from labkit.errors import WaitTimedOut
    from labkit.progress import wait_until

    def drained() -> bool:
        return lab.tables.describe(NAMES.wind_table)["item_count"] >= len(watch.sent_keys) and not watch.pending

    try:
        wait_until(drained, DRAIN_TIMEOUT_S, "WindDataTable to hold every record sent", interval_s=2.0)
    except WaitTimedOut:
        pass  # what did not arrive counts as lost in the result
    watch.stop()
    watch.read_sent_log()
    return lab.tables.describe(NAMES.wind_table)["item_count"]  # exact locally; a scan takes minutes in moto


def run(minutes: float = MINUTES, rate: float = RATE, sample_every: int = SAMPLE_EVERY,
        producer: str = "simulator", warmup_s: float = WARMUP_S, parallelization: int = 1) -> dict:
    """Measure with the course's simulator ("simulator") or the benchmark's load generator ("bulk"); readings
    sent in the first `warmup_s` count apart; `parallelization` is the trigger's ParallelizationFactor."""
    import labkit as lab
    from labkit.clients import client
    from labkit.config import NAMES

    with private_stack() as stack:
        _deploy_pipeline(parallelization)
        print(f"pipeline latency: {rate:,.0f} rec/s for {minutes:g} min from the {producer} producer", flush=True)
        source = (CourseSimulator(NAMES.wind_stream, rate) if producer == "simulator" else
                  BulkProducer(NAMES.wind_stream, rate, Path(stack["state_dir"])))
        started = source.start()
        processes = _watched_processes(stack, producer)
        cpu_before, cpu_at = cpu_seconds(processes), time.monotonic()
        watch = ArrivalWatch(client("dynamodb"), NAMES.wind_table, Path(started["sent_log"]), sample_every).start()
        _send_for(source, watch, minutes, producer)
        processes["lambda workers"] = children(stack["pid"], "worker.py")  # started with the first batch; all its CPU counts
        cpu_after, cpu_until = cpu_seconds(processes), time.monotonic()
        behind = backlog()
        final = source.stop()
        items = _drain(watch)
        lab.apps.stop(NAMES.anomaly_app, snapshot=False, quiet=True)
    cpu_share = {role: round((cpu_after[role] - cpu_before[role]) / (cpu_until - cpu_at), 2) for role in cpu_after}
    return {**_result(producer, minutes, rate, warmup_s, watch, started, final, items, behind, cpu_share),
            "trigger_parallelization": parallelization}


def _result(producer: str, minutes: float, rate: float, warmup_s: float, watch: "ArrivalWatch", started: dict,
            final: dict, items: int, behind: dict, cpu_share: dict) -> dict:
    """The run's figures: latencies after the warm-up, losses, backlog and CPU shares."""
    sent_from = epoch(started["started_at"])
    latencies = sorted(latency for _, latency in watch.latencies)
    steady = sorted(latency for sent_at, latency in watch.latencies if sent_at >= sent_from + warmup_s)
    start_up = [latency for sent_at, latency in watch.latencies if sent_at < sent_from + warmup_s]
    sent = len(watch.sent_keys)
    result = {
        "producer": producer, "minutes": minutes, "rate_target": rate,
        "rate_actual": round(final["sent"] / (minutes * 60)),
        "sent": sent, "items": items, "lost": max(0, sent - items), "drain_timeout_s": DRAIN_TIMEOUT_S,
        "samples": len(latencies),
        "sample_every": watch.sample_every, "unseen_samples": len(watch.pending),
        "warmup_s": warmup_s, "steady_samples": len(steady),
        "p50_s": round(percentile(steady, 0.50), 3), "p99_s": round(percentile(steady, 0.99), 3),
        "max_s": round(steady[-1], 3),
        "with_start_up_p99_s": round(percentile(latencies, 0.99), 3), "start_up_max_s": round(max(start_up), 3),
        "last_tenth_p50_s": round(statistics.median([lat for _, lat in watch.latencies[-max(1, len(latencies) // 10):]]), 3),
        "mean_poll_round_s": round(watch.round_s / max(1, watch.rounds) + POLL_S, 3),
        "backlog_when_sending_stopped": behind,
        "over_limit": final.get("over_limit"),  # records the shard's write limit refused (the simulator counts them)
        "cpu_share": cpu_share,
        "goal": f"p99 <= {GOAL_P99_S:g} s and {GOAL_LOST} records lost",
    }
    result["meets_goal"] = result["p99_s"] <= GOAL_P99_S and result["lost"] <= GOAL_LOST
    return result


def render(result: dict) -> str:
    """The section of BENCHMARKS.md for a run with the course's simulator."""
    return measured(result, "the course's simulator")


def cpu_budget(result: dict) -> str:
    """CPU used while sending, in all and per reading, and what the target rate would need."""
    shares = result["cpu_share"]
    cores = sum(shares.values())
    per_reading_ms = cores * 1000 / result["rate_actual"]
    at_target = cores * result["rate_target"] / result["rate_actual"]
    return (f"CPU cores used while sending: {', '.join(f'{role} {share:.2f}' for role, share in shares.items())} — "
            f"{cores:.2f} in all, {per_reading_ms:.2f} ms of CPU per reading, so {result['rate_target']:,.0f} "
            f"readings/s would need ~{at_target:.1f} cores on this {result['machine']['cores']}-core machine.")


def measured(result: dict, producer: str) -> str:
    """The figures of one run, and how they were measured."""
    behind = result.get("backlog_when_sending_stopped")
    backlog_note = "" if behind is None else (
        f" When sending stopped, AnomalyDetection had {behind['anomaly_detection']:,} readings yet to score and the "
        f"Lambda trigger {behind['lambda_trigger']:,} scored records yet to deliver.")
    limit_note = "" if result.get("over_limit") is None else (
        f" The producer met the shard's write limit {result['over_limit']:,} times (each of those records was sent "
        "again).")
    lost_note = "" if not result["lost"] else (
        f" The {result['lost']:,} missing readings were still behind the backlog when the benchmark stopped waiting, "
        "or lost: this run cannot tell them apart.")
    return (
        "## End-to-end pipeline latency at {rate_target:,.0f} records/s, from " + producer + "\n\n"
        + TABLE_HEAD +
        "| p50 event time → WindDataTable item, after the first {warmup_s:g} s | {p50_s} s "
        "| goal for p99: {goal_p99:g} s | |\n"
        "| p99 event time → WindDataTable item, after the first {warmup_s:g} s | {p99_s} s | goal {goal_p99:g} s "
        "| {ratio} |\n"
        "| p99 including the first {warmup_s:g} s | {with_start_up_p99_s} s | goal {goal_p99:g} s | {ratio_all} |\n"
        "| records missing from the table {drain_timeout_s} s after sending stopped | {lost:,} of {sent:,} "
        "| goal {goal_lost} lost | |\n"
        "| rate the producer reached | {rate_actual:,} rec/s | target {rate_target:,.0f} rec/s | {ratio_rate} |\n\n"
        "One run of {minutes:g} minutes (a run is long: one run, not a median) on a private stack: " + producer + " "
        "→ WindDataStream → AnomalyDetection (real Flink) → AnomalyDetectionStream → AnalyticsDestinationFunction "
        "(Kinesis trigger) → WindDataTable. Every {sample_every}th reading ({samples:,} samples, {steady_samples:,} "
        "after the first {warmup_s:g} s) was watched with BatchGetItem until its item appeared; latencies are upper "
        "bounds, late by at most one polling round (mean {mean_poll_round_s} s). Max after the first {warmup_s:g} s "
        "{max_s} s; before it (the job's warm-up and first checkpoint) up to {start_up_max_s} s. "
        + cpu_budget(result) + backlog_note + limit_note + " Goal: {goal_text} — " + verdict(result) + "." + lost_note + "\n"
    ).format(ratio=round(result["p99_s"] / GOAL_P99_S, 2),
             ratio_all=round(result["with_start_up_p99_s"] / GOAL_P99_S, 2),
             ratio_rate=round(result["rate_actual"] / result["rate_target"], 2),
             goal_p99=GOAL_P99_S, goal_lost=GOAL_LOST, goal_text=result["goal"], **result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline_latency")
    parser.add_argument("--minutes", type=float, default=MINUTES, help="how long the producer sends (default 10)")
    parser.add_argument("--rate", type=float, default=RATE, help="records per second (default 1000)")
    parser.add_argument("--producer", choices=("simulator", "bulk"), default="simulator",
                        help="the course's simulator (default) or the benchmark's load generator")
    args = parser.parse_args(argv)
    if args.minutes * 60 <= WARMUP_S:
        parser.error(f"--minutes {args.minutes:g} ends inside the first minute, which is counted apart (warm-up): "
                     "give more than 1, e.g. --minutes 2.")
    result = run(args.minutes, args.rate, producer=args.producer)
    save("pipeline_latency" if args.producer == "simulator" else "pipeline_latency_bulk", result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
