"""A load generator for the pipeline benchmark: the wind data set in a loop into a stream at a steady rate,
with as few requests as Kinesis allows.

Every 0.1 s one PutRecords call carries the readings due (100 at 1,000 records/s), each stamped with the send
time; refused records go again, first, in the next call. Unlike the course's simulator it does not keep each
location's order when Kinesis refuses part of a call: it is here to load the pipeline, not to teach with. It
writes the same sent-log as the simulator (JSON lines of shard, sequence number and record).
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from labkit.clients import client
from labkit.datasets import load_records
from labkit.simulator import iso_now

TICK_S = 0.1
MAX_PER_CALL = 500  # PutRecords' limit


class BulkProducer:
    def __init__(self, stream: str, rate: float, log_dir: Path):
        self.stream, self.rate = stream, rate
        self.sent_log = Path(log_dir) / "bulk-sent.jsonl"
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bulk-producer", daemon=True)
        self._started = 0.0
        self.error: str | None = None

    def start(self) -> dict:
        self.sent_log.parent.mkdir(parents=True, exist_ok=True)
        self.sent_log.touch()
        self._started = time.monotonic()
        started_at = iso_now()
        self._thread.start()
        return {"sent_log": str(self.sent_log), "started_at": started_at}

    def status(self) -> dict:
        elapsed = max(1e-9, time.monotonic() - self._started)
        state = "running" if self._thread.is_alive() else "failed" if self.error else "stopped"
        return {"state": state, "sent": self.sent, "rate_actual": self.sent / elapsed, "last_error": self.error}

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        return self.status()

    def _readings(self):
        records, passes = load_records("wind"), 0
        while True:
            passes += 1
            for record in records:
                yield {**record, "event_id": f"{record['event_id']}-b{passes}"}

    def _run(self) -> None:
        kinesis, readings, retry = client("kinesis"), self._readings(), []
        due, next_tick = 0.0, time.monotonic()
        try:
            with open(self.sent_log, "a", encoding="utf-8") as log:
                while not self._stop.is_set():
                    due += self.rate * TICK_S
                    batch, stamp = retry, iso_now()
                    while due >= 1 and len(batch) < MAX_PER_CALL:
                        batch.append({**next(readings), "event_time": stamp})
                        due -= 1
                    retry = self._put(kinesis, batch, log) if batch else []
                    next_tick += TICK_S
                    self._stop.wait(max(0.0, next_tick - time.monotonic()))
        except Exception as error:  # the benchmark reports it and stops
            self.error = repr(error)

    def _put(self, kinesis, batch: list[dict], log) -> list[dict]:
        """Send one call; return the refused records."""
        answer = kinesis.put_records(StreamName=self.stream, Records=[
            {"Data": json.dumps(r, separators=(",", ":")).encode(), "PartitionKey": r["location"]} for r in batch])
        refused = [r for r, result in zip(batch, answer["Records"]) if "ErrorCode" in result]
        log.writelines(json.dumps({"shard_id": result["ShardId"], "sequence_number": result["SequenceNumber"],
                                   "record": r}) + "\n"
                       for r, result in zip(batch, answer["Records"]) if "ErrorCode" not in result)
        log.flush()
        self.sent += len(batch) - len(refused)
        return refused
