"""The lab's execution role, assumed by Managed Flink and Lambda; its policy names the lab's resources."""
from __future__ import annotations

import json

from ..clients import account_id, client
from ..config import NAMES, settings
from . import buckets, tags

TRUSTED_SERVICES = ["kinesisanalytics.amazonaws.com", "lambda.amazonaws.com"]


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{settings().region}:{account_id()}:{resource}"


def policy() -> dict:
    """Least privilege: each action on the lab's own streams, tables, topic, bucket and logs only."""
    streams = [_arn("kinesis", f"stream/{n}") for n in (NAMES.wind_stream, NAMES.anomaly_stream, NAMES.max_speed_stream)]
    tables = [_arn("dynamodb", f"table/{n}") for n in (NAMES.wind_table, NAMES.diy_table)]
    logs = [_arn("logs", f"log-group:/aws/lambda/{n}:*")
            for n in (NAMES.analytics_function, NAMES.delivery_function, NAMES.diy_function)]
    logs += [_arn("logs", f"log-group:/aws/kinesis-analytics/{n}:*") for n in (NAMES.anomaly_app, NAMES.max_speed_app)]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Resource": streams, "Action": [
                "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:ListShards",
                "kinesis:GetShardIterator", "kinesis:GetRecords", "kinesis:PutRecord", "kinesis:PutRecords"]},
            {"Effect": "Allow", "Resource": tables, "Action": [
                "dynamodb:DescribeTable", "dynamodb:PutItem", "dynamodb:BatchWriteItem", "dynamodb:UpdateItem",
                "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan"]},
            {"Effect": "Allow", "Resource": [_arn("sns", NAMES.topic)], "Action": ["sns:Publish"]},
            {"Effect": "Allow", "Resource": [f"arn:aws:s3:::{buckets.name()}/*"], "Action": ["s3:GetObject"]},
            {"Effect": "Allow", "Resource": logs,
             "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]},
        ],
    }


def ensure() -> str:
    """Create the role (idempotent) with its inline policy; return its ARN."""
    iam = client("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": TRUSTED_SERVICES}, "Action": "sts:AssumeRole"}]}
    try:
        arn = iam.get_role(RoleName=NAMES.role)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName=NAMES.role, AssumeRolePolicyDocument=json.dumps(trust),
                              Description="Lab 22 wind farm: Managed Flink and Lambda", Tags=tags.as_list())["Role"]["Arn"]
    iam.put_role_policy(RoleName=NAMES.role, PolicyName=f"{NAMES.role}Policy", PolicyDocument=json.dumps(policy()))
    return arn
