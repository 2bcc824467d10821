"""What both lab jobs share: their runtime properties, and the Kinesis source and sink.

Each app folder links this file, so it ships at the root of each app's zip beside main.py.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from pyflink.common import Types
from pyflink.common.serialization import SimpleStringSchema
from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.datastream.connectors.kinesis import FlinkKinesisConsumer, KinesisStreamsSink, PartitionKeyGenerator

MANAGED_FLINK_PROPERTIES = Path("/etc/flink/application_properties.json")
PROPERTIES_OVERRIDE_ENV = "LABKIT_FLINK_PROPERTIES"
CONSUMER_GROUP = "kinesis.consumer"  # how the source polls its shards: AWS's app gets this group too
SINK_FLUSH_MS = 250  # a sink batch waits at most this long for 500 records (the connector's default is 5 s)


def properties_file(app_dir: Path) -> Path:
    """LABKIT_FLINK_PROPERTIES if set, else Managed Flink's file, else the local file beside main.py."""
    override = os.environ.get(PROPERTIES_OVERRIDE_ENV)
    if override:
        return Path(override)
    return MANAGED_FLINK_PROPERTIES if MANAGED_FLINK_PROPERTIES.is_file() else app_dir / "application_properties.json"


def load_property_groups(path: Path) -> dict[str, dict[str, str]]:
    """Managed Flink's property-group list as {group id: {key: value}}."""
    return {group["PropertyGroupId"]: group["PropertyMap"] for group in json.loads(path.read_text())}


def kinesis_client(groups: dict[str, dict[str, str]]) -> dict[str, str]:
    """The connector's client properties: the lab's region, plus group "kinesis.client" as-is (local runs
    only: aws.endpoint and the protocol the local endpoint speaks)."""
    return {"aws.region": groups["lab"]["region"], **groups.get("kinesis.client", {})}


def kinesis_source(env: StreamExecutionEnvironment, groups: dict[str, dict[str, str]],
                   client: dict[str, str]) -> DataStream:
    """The records of stream lab/inputStreamName as strings, from lab/startingPosition (TRIM_HORIZON), polled as
    group "kinesis.consumer" says (a shard serves 5 GetRecords a second to all its readers, and both lab apps
    read WindDataStream: the connector's default, every 200 ms, would take the whole allowance)."""
    lab = groups["lab"]
    source = FlinkKinesisConsumer(lab["inputStreamName"], SimpleStringSchema(),
                                  {**client, **groups.get(CONSUMER_GROUP, {}),
                                   "flink.stream.initpos": lab.get("startingPosition", "TRIM_HORIZON")})
    return env.add_source(source, lab["inputStreamName"], Types.STRING()).uid("wind-data-source")


def kinesis_sink(lab: dict[str, str], client: dict[str, str]) -> KinesisStreamsSink:
    """A sink of strings into stream lab/outputStreamName."""
    return (KinesisStreamsSink.builder()
            .set_kinesis_client_properties(client)
            .set_stream_name(lab["outputStreamName"])
            .set_serialization_schema(SimpleStringSchema())
            .set_partition_key_generator(PartitionKeyGenerator.fixed())
            .set_max_time_in_buffer_ms(SINK_FLUSH_MS)
            .build())
