"""AnomalyDetection: wind readings from Kinesis, scored per location, anomaly records back to Kinesis.

    WindDataStream --> key by location --> parse, Random Cut Forest + stuck-sensor rule
                                           + each turbine's power curve (under-performance, stop)
                   --> AnomalyDetectionStream
    records that are not readings: counted (metric rejectedRecords) and printed to the TaskManager's
    stdout as  rejected> {"reason": ..., "data": ...}  (Flink dashboard: Task Managers > Stdout)

The same file runs on the labkit local Flink cluster and on Managed Service for Apache Flink. The rules live in
detector.py and power_curve.py beside this file (plain Python, unit-tested without Flink).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from pyflink.common import Configuration, Types
from pyflink.datastream import KeyedProcessFunction, OutputTag, RuntimeContext, StreamExecutionEnvironment
from pyflink.datastream.state import ValueStateDescriptor

from kinesis_job import kinesis_client, kinesis_sink, kinesis_source, load_property_groups, properties_file
from detector import DetectorSettings, InvalidReading, LocationDetector, parse_reading

HERE = Path(__file__).resolve().parent
REJECTED = OutputTag("rejected", Types.STRING())
REJECTED_DATA_CHARS = 1000
BUNDLE_SIZE = 300
BUNDLE_TIME_MS = 1000


def location_of(text: str) -> str:
    """The location a record names, to key it by; "" when it names none (ScoreReadings then rejects it)."""
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        return ""
    location = record.get("location") if isinstance(record, dict) else None
    return location if isinstance(location, str) else ""


class ScoreReadings(KeyedProcessFunction):
    """Parses each record and scores it with its location's LocationDetector (forest, stuck run, power curves),
    kept in keyed state so a snapshot restores it. A record that is not a reading goes to the `rejected` side output with the reason, counted,
    never fatal."""

    def __init__(self, settings: DetectorSettings):
        self.settings = settings

    def open(self, runtime_context: RuntimeContext):
        self.rejected = runtime_context.get_metrics_group().counter("rejectedRecords")
        self.detector = runtime_context.get_state(ValueStateDescriptor("detector", Types.PICKLED_BYTE_ARRAY()))

    def process_element(self, value, ctx):
        try:
            reading = parse_reading(value, self.settings.locations)
        except InvalidReading as error:
            self.rejected.inc()
            yield REJECTED, json.dumps({"reason": str(error), "data": value[:REJECTED_DATA_CHARS]})
            return
        detector = self.detector.value() or LocationDetector(self.settings)
        result = detector.assess(reading)
        self.detector.update(detector)
        yield json.dumps(result)


def main() -> None:
    # 1. Configuration: runtime properties --------------------------------------------------------------
    # Group "lab" holds the lab's stream names and region and the detector's settings (turbines.model names
    # each turbine's model, whose manufacturer's curve then applies; other turbines learn theirs). Group
    # "kinesis.consumer" says how the source polls (both targets); "kinesis.client" (local runs only) goes to the
    # connector as-is, e.g. aws.endpoint.
    groups = load_property_groups(properties_file(HERE))
    lab = groups["lab"]
    client = kinesis_client(groups)
    settings = DetectorSettings.from_properties(lab)

    config = Configuration()
    config.set_string("python.executable", sys.executable)
    config.set_string("python.client.executable", sys.executable)
    # Process mode keeps each location's live forest in the Python worker's state cache and writes it to
    # Flink state once per bundle (a bundle always ends before a checkpoint): fast and exactly-once. A bundle
    # ends after BUNDLE_SIZE readings or BUNDLE_TIME_MS, and its scores leave the worker then: smaller bundles
    # mean fresher scores, larger ones fewer forest write-backs (~1 MB each). See BENCHMARKS.md.
    config.set_string("python.execution-mode", "process")
    config.set_string("python.fn-execution.bundle.size", str(BUNDLE_SIZE))
    config.set_string("python.fn-execution.bundle.time", str(BUNDLE_TIME_MS))
    config.set_string("python.state.cache-size", "1000")  # >= locations per task: every forest stays cached
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.add_python_file(str(HERE / "detector.py"))
    env.add_python_file(str(HERE / "power_curve.py"))
    env.add_python_file(str(HERE / "kinesis_job.py"))

    # 2. Source: Kinesis stream WindDataStream ----------------------------------------------------------
    records = kinesis_source(env, groups, client)

    # 3. Logic: key by location, then parse and score ---------------------------------------------------
    # The record crosses from the key step to the scoring step as its JSON text: a string passes the
    # Python/JVM boundary cheaply, a parsed reading would be cloudpickled (measured: ~25% less CPU per record).
    anomalies = (records
                 .key_by(location_of, Types.STRING())
                 .process(ScoreReadings(settings), Types.STRING())
                 .name("RandomCutForest").uid("random-cut-forest"))

    # 4. Sink: Kinesis stream AnomalyDetectionStream; rejected records to the TaskManager's stdout -------
    sink = kinesis_sink(lab, client)
    anomalies.sink_to(sink).name("AnomalyDetectionStream").uid("anomaly-detection-sink")
    anomalies.get_side_output(REJECTED).print("rejected")

    env.execute("AnomalyDetection")


if __name__ == "__main__":
    main()
