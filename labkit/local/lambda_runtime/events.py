"""The exact JSON shapes AWS Lambda uses for Kinesis: the event a function receives and the record an
event source mapping sends to its on-failure destination."""
from __future__ import annotations

import base64
import time
from datetime import datetime

from ...config import iso_time


def _iso_ms(moment: datetime) -> str:
    return iso_time(moment.timestamp() * 1000)


def kinesis_record(record: dict, shard_id: str, stream_arn: str, region: str, role_arn: str) -> dict:
    """One entry of a Kinesis event's "Records", from a boto3 GetRecords record."""
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record["PartitionKey"],
            "sequenceNumber": record["SequenceNumber"],
            "data": base64.b64encode(record["Data"]).decode("ascii"),
            "approximateArrivalTimestamp": round(record["ApproximateArrivalTimestamp"].timestamp(), 3),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role_arn,
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    }


def failure_record(*, request_id: str, function_arn: str, condition: str, invoke_count: int,
                   function_error: str | None, shard_id: str, stream_arn: str, records: list[dict]) -> dict:
    """What an on-failure destination receives for a discarded batch (metadata, not the data itself).

    `condition` is RetryAttemptsExhausted or RecordAgeExceeded; `records` are boto3 GetRecords records."""
    response = {"statusCode": 200, "executedVersion": "$LATEST"}
    if function_error:
        response["functionError"] = function_error
    return {
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": iso_time(time.time() * 1000),
        "KinesisBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": records[0]["SequenceNumber"],
            "endSequenceNumber": records[-1]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": _iso_ms(records[0]["ApproximateArrivalTimestamp"]),
            "approximateArrivalOfLastRecord": _iso_ms(records[-1]["ApproximateArrivalTimestamp"]),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }
