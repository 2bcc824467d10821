"""The lab's execution role, assumed by Managed Flink and Lambda; its policy names the lab's resources.
Create (`ensure`), describe, delete."""
from __future__ import annotations

import json

from ..clients import account_id, client, pages
from ..config import NAMES, settings
from ..errors import ResourceMissing
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


def describe(name: str = NAMES.role) -> dict:
    """Name, ARN and tags of a role; ResourceMissing if there is none."""
    iam = client("iam")
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        raise ResourceMissing("IAM role", name, "Create it with `labkit.resources.roles.ensure()`.") from None
    found = [tag for page in pages("iam", "list_role_tags", RoleName=name) for tag in page["Tags"]]
    return {"name": name, "arn": role["Arn"], "tags": {t["Key"]: t["Value"] for t in found}}


def delete(name: str = NAMES.role) -> bool:
    """Delete the role and what IAM wants gone first (its policies, its instance profiles); False when there
    was none."""
    iam = client("iam")
    try:
        iam.get_role(RoleName=name)
    except iam.exceptions.NoSuchEntityException:
        return False
    for page in pages("iam", "list_role_policies", RoleName=name):
        for policy in page["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
    for page in pages("iam", "list_attached_role_policies", RoleName=name):
        for policy in page["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
    for page in pages("iam", "list_instance_profiles_for_role", RoleName=name):
        for profile in page["InstanceProfiles"]:
            iam.remove_role_from_instance_profile(RoleName=name, InstanceProfileName=profile["InstanceProfileName"])
    iam.delete_role(RoleName=name)
    return True
