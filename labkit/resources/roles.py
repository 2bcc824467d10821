"""The lab's execution role, assumed by Managed Flink and Lambda; its policy names the lab's resources.
Create (`ensure`), describe, delete, and `when_assumable`: the creates that pass the role, retried while AWS
has not yet propagated it."""
from __future__ import annotations

import json
from typing import Callable, TypeVar

from botocore.exceptions import ClientError

from ..clients import account_id, client, pages
from ..config import NAMES, settings
from ..errors import ResourceMissing, WaitTimedOut
from ..progress import wait_until
from . import buckets, tags
from .errors import explained

TRUSTED_SERVICES = ["kinesisanalytics.amazonaws.com", "lambda.amazonaws.com"]
PROPAGATION_TIMEOUT_S = 120  # usually seconds on AWS; Terraform's AWS provider allows 2 minutes too
PROPAGATION_INTERVAL_S = 3.0
PROPAGATING = {  # AWS's answers while a new role, or its new policy, has not reached the service yet
    "InvalidParameterValueException": (  # Lambda: CreateFunction, CreateEventSourceMapping
        "cannot be assumed by Lambda", "execution role does not have permissions"),
    "InvalidArgumentException": ("sufficient privileges",),  # Managed Flink: CreateApplication
}
T = TypeVar("T")


def missing(name: str) -> ResourceMissing:
    return ResourceMissing("IAM role", name, "Create it with `labkit.resources.roles.ensure()`.")


def _iam_errors(name: str):
    return explained("IAM", f"role {name!r}", lambda: missing(name))


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
            {"Effect": "Allow", "Resource": [_arn("sns", NAMES.topic)],
             "Action": ["sns:Publish", "sns:ListSubscriptionsByTopic"]},  # mail only when someone confirmed
            {"Effect": "Allow", "Resource": [f"arn:aws:s3:::{buckets.name()}/*"], "Action": ["s3:GetObject"]},
            {"Effect": "Allow", "Resource": logs,  # Managed Flink checks its log stream (CloudWatchLoggingOptions)
             "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogGroups",
                        "logs:DescribeLogStreams"]},
        ],
    }


def _arn_if_exists(name: str) -> str | None:
    try:
        with _iam_errors(name):
            return client("iam").get_role(RoleName=name)["Role"]["Arn"]
    except ResourceMissing:
        return None


def ensure() -> str:
    """Create the role (idempotent) with its inline policy; return its ARN."""
    iam = client("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": TRUSTED_SERVICES}, "Action": "sts:AssumeRole"}]}
    arn = _arn_if_exists(NAMES.role)
    with _iam_errors(NAMES.role):
        if arn is None:
            arn = iam.create_role(RoleName=NAMES.role, AssumeRolePolicyDocument=json.dumps(trust),
                                  Description="Lab 22 wind farm: Managed Flink and Lambda",
                                  Tags=tags.as_list())["Role"]["Arn"]
        iam.put_role_policy(RoleName=NAMES.role, PolicyName=f"{NAMES.role}Policy",
                            PolicyDocument=json.dumps(policy()))
    return arn


def propagating(error: ClientError) -> bool:
    """Whether AWS refused a create only because the new role has not reached the service yet."""
    found = error.response["Error"]
    return any(text in found.get("Message", "") for text in PROPAGATING.get(found["Code"], ()))


def when_assumable(create: Callable[[], T], service: str, quiet: bool = False) -> T:
    """`create()`, a create that passes the lab's role to `service`, retried (with progress) while AWS answers
    that the role cannot be assumed yet; WaitTimedOut with AWS's last answer after PROPAGATION_TIMEOUT_S."""
    outcome: dict = {}

    def attempt() -> bool:
        try:
            outcome["created"] = create()
            return True
        except ClientError as error:
            if not propagating(error):
                raise
            outcome["refusal"] = error.response["Error"]["Message"]
            return False

    if attempt():
        return outcome["created"]
    try:
        wait_until(attempt, PROPAGATION_TIMEOUT_S, f"{service} to accept the new role {NAMES.role}", quiet=quiet,
                   interval_s=PROPAGATION_INTERVAL_S)
    except WaitTimedOut as error:
        raise WaitTimedOut(
            f"{service} still refuses the role {NAMES.role} after {PROPAGATION_TIMEOUT_S} s: {outcome['refusal']} "
            "A new role usually works within a minute. Check in the IAM console that it exists and trusts "
            f"{' and '.join(TRUSTED_SERVICES)}, then run the step again.") from error
    return outcome["created"]


def describe(name: str = NAMES.role) -> dict:
    """Name, ARN and tags of a role; ResourceMissing if there is none."""
    with _iam_errors(name):
        arn = client("iam").get_role(RoleName=name)["Role"]["Arn"]
        found = [tag for page in pages("iam", "list_role_tags", RoleName=name) for tag in page["Tags"]]
    return {"name": name, "arn": arn, "tags": {t["Key"]: t["Value"] for t in found}}


def delete(name: str = NAMES.role) -> bool:
    """Delete the role and what IAM wants gone first (its policies, its instance profiles); False when there
    was none."""
    if _arn_if_exists(name) is None:
        return False
    with _iam_errors(name):
        _delete(name)
    return True


def _delete(name: str) -> None:
    iam = client("iam")
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
