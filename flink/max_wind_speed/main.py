"""CalculateMaxSpeed: the maximum wind speed per location in event-time tumbling windows.

    WindDataStream --> parse --> event-time watermarks (bounded out-of-orderness, idleness)
                   --> key by location --> tumbling window --> max speed, count --> MaxWindSpeed
    records that are not readings (metric rejectedRecords) and readings that arrive after their window closed
    (metric lateReadings) are printed to the TaskManager's stdout as  rejected> ...  and  late> ...

The same file runs on the labkit local Flink cluster and on Managed Service for Apache Flink. The windowing rules
live in windowing.py beside this file, the window-max rule in window_max.py (the DIY student's own in notebook 06);
both plain Python, unit-tested without Flink.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from pyflink.common import Configuration, Duration, Time, Types, WatermarkStrategy
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import (AggregateFunction, MapFunction, OutputTag, ProcessFunction,
                                ProcessWindowFunction, RuntimeContext, StreamExecutionEnvironment)
from pyflink.datastream.window import TumblingEventTimeWindows

from kinesis_job import kinesis_client, kinesis_sink, kinesis_source, load_property_groups, properties_file
from windowing import (InvalidReading, WatermarkOrIdleTrigger, count_reading, late_report, merge_windows,
                       new_window, parse_reading, window_report)

HERE = Path(__file__).resolve().parent
REJECTED = OutputTag("rejected", Types.STRING())
LATE = OutputTag("late", Types.PICKLED_BYTE_ARRAY())
REJECTED_DATA_CHARS = 1000


def seconds_property(lab: dict[str, str], key: str, default: float) -> int:
    """A duration property in seconds, as whole milliseconds."""
    try:
        seconds = float(lab.get(key, default))
    except ValueError:
        raise ValueError(f"property lab/{key} must be a number of seconds, got {lab[key]!r}") from None
    if seconds <= 0:
        raise ValueError(f"property lab/{key} must be more than 0 seconds, got {lab[key]!r}")
    return round(seconds * 1000)


class ParseReadings(ProcessFunction):
    """Readings out; anything else to the `rejected` side output with the reason, counted, never fatal."""

    def open(self, runtime_context: RuntimeContext):
        self.rejected = runtime_context.get_metrics_group().counter("rejectedRecords")

    def process_element(self, value, ctx):
        try:
            yield parse_reading(value)
        except InvalidReading as error:
            self.rejected.inc()
            yield REJECTED, json.dumps({"reason": str(error), "data": value[:REJECTED_DATA_CHARS]})


class EventTime(TimestampAssigner):
    def extract_timestamp(self, value, record_timestamp: int) -> int:
        return value.event_time_ms


class MaxSpeed(AggregateFunction):
    def create_accumulator(self):
        return new_window()

    def add(self, value, accumulator):
        return count_reading(accumulator, value.speed)

    def get_result(self, accumulator):
        return accumulator

    def merge(self, a, b):
        return merge_windows(a, b)


class ReportWindow(ProcessWindowFunction):
    def process(self, key, context: ProcessWindowFunction.Context, elements):
        window = context.window()
        for result in elements:
            yield json.dumps(window_report(key, result, window.start, window.end))


class ReportLate(MapFunction):
    def __init__(self, window_ms: int):
        self.window_ms = window_ms

    def open(self, runtime_context: RuntimeContext):
        self.late = runtime_context.get_metrics_group().counter("lateReadings")

    def map(self, value):
        self.late.inc()
        return json.dumps(late_report(value, self.window_ms))


def main() -> None:
    # 1. Configuration: runtime properties --------------------------------------------------------------
    # Group "lab": stream names, region, window length, out-of-orderness bound and idle timeout (seconds).
    # Group "kinesis.consumer" says how the source polls (both targets); "kinesis.client" (local runs only) goes
    # to the connector as-is, e.g. aws.endpoint.
    groups = load_property_groups(properties_file(HERE))
    lab = groups["lab"]
    client = kinesis_client(groups)
    window_ms = seconds_property(lab, "windowLengthSeconds", 60)
    out_of_orderness_ms = seconds_property(lab, "outOfOrdernessSeconds", 5)
    idle_ms = seconds_property(lab, "idleTimeoutSeconds", 10)

    config = Configuration()
    config.set_string("python.executable", sys.executable)
    config.set_string("python.client.executable", sys.executable)
    config.set_string("python.execution-mode", "process")
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.add_python_file(str(HERE / "windowing.py"))
    env.add_python_file(str(HERE / "window_max.py"))
    env.add_python_file(str(HERE / "kinesis_job.py"))

    # 2. Source: Kinesis stream WindDataStream ----------------------------------------------------------
    records = kinesis_source(env, groups, client)

    # 3. Logic: parse, event time, tumbling window per location -----------------------------------------
    # Idleness lets the watermark move on when a source subtask has no shard or no data; the trigger
    # reports windows whose readings stopped coming (the watermark stands still when all input stops).
    watermarks = (WatermarkStrategy
                  .for_bounded_out_of_orderness(Duration.of_millis(out_of_orderness_ms))
                  .with_idleness(Duration.of_millis(idle_ms))
                  .with_timestamp_assigner(EventTime()))
    readings = records.process(ParseReadings(), Types.PICKLED_BYTE_ARRAY()).name("ParseReadings")
    windows = (readings
               .assign_timestamps_and_watermarks(watermarks)
               .key_by(lambda reading: reading.location, Types.STRING())
               .window(TumblingEventTimeWindows.of(Time.milliseconds(window_ms)))
               .trigger(WatermarkOrIdleTrigger(idle_ms))
               .side_output_late_data(LATE))
    maxima = (windows
              .aggregate(MaxSpeed(), ReportWindow(), accumulator_type=Types.PICKLED_BYTE_ARRAY(),
                         output_type=Types.STRING())
              .name("MaxSpeedPerWindow").uid("max-speed-window"))

    # 4. Sink: Kinesis stream MaxWindSpeed; rejected and late readings to the TaskManager's stdout -------
    sink = kinesis_sink(lab, client)
    maxima.sink_to(sink).name("MaxWindSpeed").uid("max-wind-speed-sink")
    readings.get_side_output(REJECTED).print("rejected")
    maxima.get_side_output(LATE).map(ReportLate(window_ms), Types.STRING()).print("late")

    env.execute("CalculateMaxSpeed")


if __name__ == "__main__":
    main()
