"""AnomalyDetection job sustained throughput on the local stack (real Flink, Kinesis connector, local endpoint).

Each run: a private stack; N synthetic readings of 5 locations preloaded into WindDataStream; the app created
and started through kinesisanalyticsv2 (as the notebooks do); the sink's count of records sent is watched
through Flink's metrics (reading the stream meanwhile would load the endpoint the job uses), then
AnomalyDetectionStream is read until all N outputs are there. The sustained rate comes from the outputs'
Kinesis arrival times, from the 10th percentile output to the last (job start-up excluded); the end-to-end
rate also counts from the moment the app is RUNNING.
While the job runs, the CPU time of the stack process (AWS endpoint), the Flink TaskManager JVM and its Python
worker is sampled, with Flink's busy/back-pressure metrics per operator, to show where the time goes.
Reference: the job's Random Cut Forest work alone on one core (a forest per location, score + attribution +
update, as the job's detector calls them). Goal: >= 5,000 rec/s.
"""
from __future__ import annotations

import json
import math
import os
import random
import time
import urllib.request
from datetime import datetime, timedelta, timezone

import krcf
import psutil

from .common import TABLE_HEAD, median, private_stack, verdict

LOCATIONS = ("North Ridge", "Lakeshore", "Quarry Hill", "Airport Flats", "Harbor Point")
RECORDS = 60_000
PUT_BATCH = 500
OUTPUT_TIMEOUT_S = 900
STEADY_FROM = 0.10  # the sustained rate counts outputs from this fraction of N to the last
REFERENCE_RECORDS = 20_000  # readings the RCF-alone reference scores
START = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)
GOAL_REC_S = 5000  # sustained
QUICK = {"runs": 1, "records": 5_000}  # `python -m bench --quick`: run()'s sizes for a CI-sized check


def synthetic_readings(count: int, seed: int = 11) -> list[dict]:
    """`count` readings, the 5 locations interleaved 200 ms apart, each location a drifting wind speed."""
    rng = random.Random(seed)
    levels = [20.0 + 2 * k for k in range(len(LOCATIONS))]
    records = []
    for n in range(count):
        k = n % len(LOCATIONS)
        levels[k] += 0.02 * (22.0 - levels[k]) + rng.gauss(0, 0.3)
        moment = START + timedelta(milliseconds=200 * n)
        records.append({
            "event_id": f"bench-{n:07d}",
            "event_time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "location": LOCATIONS[k], "turbine_id": f"WT-0{k + 1}",
            "speed": round(max(0.0, levels[k] + rng.gauss(0, 3)), 1), "power_kw": 1500.0,
        })
    return records


def preload(kinesis, stream: str, records: list[dict]) -> None:
    """Put every record into `stream` (PutRecords of 500, partition key = location), in order."""
    for first in range(0, len(records), PUT_BATCH):
        batch = records[first:first + PUT_BATCH]
        answer = kinesis.put_records(StreamName=stream, Records=[
            {"Data": json.dumps(r).encode(), "PartitionKey": r["location"]} for r in batch])
        if answer["FailedRecordCount"]:
            raise RuntimeError(f"the local endpoint refused {answer['FailedRecordCount']} records while preloading")


class StreamTail:
    """Reads one shard of a stream from its start, a page at a time, keeping data and arrival times."""

    def __init__(self, kinesis, stream: str):
        self.kinesis = kinesis
        shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
        self.iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard,
                                                   ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        self.data: list[bytes] = []
        self.arrivals: list[float] = []

    def poll(self) -> int:
        """Read what arrived since the last poll; return how many records that was."""
        got = 0
        while True:
            page = self.kinesis.get_records(ShardIterator=self.iterator, Limit=10_000)
            self.iterator = page["NextShardIterator"]
            self.data += [r["Data"] for r in page["Records"]]
            self.arrivals += [r["ApproximateArrivalTimestamp"].timestamp() for r in page["Records"]]
            got += len(page["Records"])
            if not page["Records"] or page.get("MillisBehindLatest", 0) == 0:
                return got


def _get(url: str):
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


def flink_operator_load(flink_url: str, job_id: str) -> dict:
    """Per operator: busy and back-pressured ms per second (Flink's own metrics, averaged over subtasks)."""
    load = {}
    for vertex in _get(f"{flink_url}/jobs/{job_id}")["vertices"]:
        metrics = _get(f"{flink_url}/jobs/{job_id}/vertices/{vertex['id']}/subtasks/metrics"
                       "?get=busyTimeMsPerSecond,backPressuredTimeMsPerSecond")
        values = {m["id"]: float(m.get("avg", "nan")) for m in metrics}
        load[vertex["name"]] = {name: round(value) for name, value in values.items() if math.isfinite(value)}
    return load


def records_sent(flink_url: str, job_id: str) -> int:
    """Records the job's Kinesis sink has sent so far (Flink's numRecordsSend, summed over subtasks)."""
    sent = 0
    for vertex in _get(f"{flink_url}/jobs/{job_id}")["vertices"]:
        base = f"{flink_url}/jobs/{job_id}/vertices/{vertex['id']}/subtasks/metrics"
        names = [m["id"] for m in _get(base) if m["id"].endswith(".numRecordsSend")]
        if names:
            sent += sum(int(float(m.get("sum", 0))) for m in _get(f"{base}?get={','.join(names)}"))
    return sent


def stack_processes(stack_pid: int, flink_pids: dict) -> dict[str, list[psutil.Process]]:
    """The processes whose CPU time the benchmark samples, by role."""
    taskmanager = psutil.Process(flink_pids["taskmanager"])
    java = [p for p in [taskmanager, *taskmanager.children(recursive=True)] if "java" in p.name()]
    python = [p for p in taskmanager.children(recursive=True) if "python" in p.name()]
    return {"aws endpoint + stack": [psutil.Process(stack_pid)], "taskmanager jvm": java,
            "python worker": python, "jobmanager": [psutil.Process(flink_pids["jobmanager"])]}


def cpu_seconds(processes: dict[str, list[psutil.Process]]) -> dict[str, float]:
    times = {}
    for role, members in processes.items():
        total = 0.0
        for process in members:
            try:
                cpu = process.cpu_times()
                total += cpu.user + cpu.system
            except psutil.Error:
                pass
        times[role] = total
    return times


def run_job(records: list[dict], timeout_s: float = OUTPUT_TIMEOUT_S, **lab_properties) -> dict:
    """Preload `records`, run AnomalyDetection on a private stack until every output arrived; return the
    outputs (parsed), their arrival times and what was measured on the way. The preload puts every record at once,
    so the stack runs without AWS's per-shard limits: this measures the job, not a shard's quota."""
    import labkit as lab
    from labkit.clients import client
    from labkit.config import NAMES, settings

    with private_stack(kinesis_limits=False) as stack:
        for name in (NAMES.wind_stream, NAMES.anomaly_stream):
            lab.streams.create(name, quiet=True)
        kinesis = client("kinesis")
        preload(kinesis, NAMES.wind_stream, records)
        lab.apps.create(NAMES.anomaly_app, **lab_properties)
        tail = StreamTail(kinesis, NAMES.anomaly_stream)
        requested = time.time()
        lab.apps.run(NAMES.anomaly_app, from_latest_snapshot=False, quiet=True)
        running = time.time()
        flink = lab.status()["components"]["flink"]
        job_id = flink["applications"][NAMES.anomaly_app]["job_id"]
        processes = stack_processes(stack["pid"], flink["processes"])
        cpu_before, cpu_at, load = cpu_seconds(processes), time.time(), None
        deadline = time.monotonic() + timeout_s
        sent = 0
        while sent < len(records):  # watched through Flink's metrics: reading the stream would load the endpoint
            if time.monotonic() > deadline:
                raise RuntimeError(f"AnomalyDetection sent {sent:,} of {len(records):,} outputs in {timeout_s} s; "
                                   "see the Flink logs in the stack's state folder.")
            time.sleep(1.0)
            sent = records_sent(settings().flink_url, job_id)
            if load is None and sent >= len(records) // 2:
                load = flink_operator_load(settings().flink_url, job_id)
        cpu_after, cpu_until = cpu_seconds(processes), time.time()
        while len(tail.data) < len(records):
            if time.monotonic() > deadline:
                raise RuntimeError(f"AnomalyDetectionStream holds {len(tail.data):,} of {len(records):,} outputs "
                                   f"after {timeout_s} s; see the Flink logs in the stack's state folder.")
            if not tail.poll():
                time.sleep(1.0)
        lab.apps.stop(NAMES.anomaly_app, snapshot=False, quiet=True)
    arrivals = sorted(tail.arrivals)
    first = int(len(arrivals) * STEADY_FROM)
    return {
        "outputs": [json.loads(data) for data in tail.data],
        "sustained_rec_s": (len(arrivals) - 1 - first) / (arrivals[-1] - arrivals[first]),
        "end_to_end_rec_s": len(records) / (arrivals[-1] - running),
        "start_s": running - requested,
        "first_output_after_running_s": arrivals[0] - running,
        "cpu_share": {role: round((cpu_after[role] - cpu_before[role]) / (cpu_until - cpu_at), 2)
                      for role in cpu_after},
        "cpu_us_per_record": {role: round((cpu_after[role] - cpu_before[role]) / len(records) * 1e6)
                              for role in cpu_after},
        "operator_load_ms_per_s": load,
    }


def rcf_reference_rate(records: list[dict]) -> float:
    """Readings/s of the job's Random Cut Forest work alone on one core: one krcf forest per location, the
    readings in the same order, score + attribution + update each (as the job's detector calls them)."""
    from .rcf_throughput import FOREST, one_cpu

    forests = {location: krcf.RandomCutForest({
        "dimensions": 1, "shingle_size": FOREST["shingle_size"], "internal_shingling": True,
        "num_trees": FOREST["trees"], "sample_size": FOREST["sample_size"],
        "output_after": FOREST["output_after"], "random_seed": FOREST["seed"]}) for location in LOCATIONS}
    with one_cpu(max(os.sched_getaffinity(0))):
        started = time.perf_counter()
        for record in records:
            forest, point = forests[record["location"]], [record["speed"]]
            forest.score(point)
            forest.attribution(point)
            forest.update(point)
        return len(records) / (time.perf_counter() - started)


def run(runs: int = 3, records: int = RECORDS) -> dict:
    data = synthetic_readings(records)
    measured, references = [], []
    for index in range(runs):
        print(f"anomaly job throughput, run {index + 1}/{runs}: {records:,} records", flush=True)
        job = run_job(data)
        ids = [output["event_id"] for output in job["outputs"]]
        if len(ids) != len(set(ids)) or set(ids) != {r["event_id"] for r in data}:
            raise RuntimeError("AnomalyDetectionStream does not hold exactly one output per input")
        job.pop("outputs")
        measured.append(job)
        references.append(rcf_reference_rate(data[:REFERENCE_RECORDS]))
        print(f"  sustained {job['sustained_rec_s']:,.0f} rec/s, end to end {job['end_to_end_rec_s']:,.0f} rec/s, "
              f"cpu {job['cpu_share']}, RCF alone {references[-1]:,.0f} points/s", flush=True)
    sustained = median([m["sustained_rec_s"] for m in measured])
    reference = median(references)
    result = {
        "records": records, "runs": runs,
        "sustained_rec_s": round(sustained),
        "end_to_end_rec_s": round(median([m["end_to_end_rec_s"] for m in measured])),
        "start_s": round(median([m["start_s"] for m in measured]), 1),
        "rcf_alone_points_s": round(reference), "ratio_to_rcf_alone": round(sustained / reference, 2),
        "cpu_us_per_record": {role: round(median([m["cpu_us_per_record"][role] for m in measured]))
                              for role in measured[0]["cpu_us_per_record"]},
        "per_run": measured,
        "goal_rec_s": GOAL_REC_S, "goal": f">= {GOAL_REC_S:,} rec/s sustained",
        "meets_goal": sustained >= GOAL_REC_S,
    }
    return result


def render(result: dict) -> str:
    cpu = result["cpu_us_per_record"]
    total = sum(cpu.values())
    cores = result["machine"]["cores"]
    middle = result["per_run"][len(result["per_run"]) // 2]
    return (
        "## AnomalyDetection job throughput on the local stack\n\n"
        + TABLE_HEAD +
        f"| sustained throughput | {{sustained_rec_s:,}} rec/s | goal {GOAL_REC_S:,} rec/s | "
        f"{result['sustained_rec_s'] / GOAL_REC_S:.2f} |\n"
        "| sustained throughput | {sustained_rec_s:,} rec/s | the job's RCF work alone (a forest per location, "
        "score + attribution + update, one core): {rcf_alone_points_s:,} rec/s | {ratio_to_rcf_alone} |\n"
        "| end to end (from RUNNING to the last output) | {end_to_end_rec_s:,} rec/s | | |\n\n"
        "Median of {runs} runs of {records:,} preloaded records, each on a fresh private stack: real Flink "
        "(PyFlink, process mode), the Flink Kinesis connector both ways, labkit's local endpoint. Sustained = the "
        "outputs' Kinesis arrival times, start-up excluded (bench/anomaly_job_throughput.py); start-up "
        "(StartApplication to RUNNING) took {start_s} s. CPU time per record (median, JIT warm-up included): "
        + ", ".join(f"{role} {us} µs" for role, us in cpu.items()) +
        f" — {total} µs in all, so {cores} idle cores could carry at most ~{round(cores * 1e6 / total):,} rec/s. "
        f"In the middle run the Python worker used {middle['cpu_share']['python worker']} of a core. "
        f"Goal: {{goal}} — {verdict(result)}.\n"
    ).format(**result)
