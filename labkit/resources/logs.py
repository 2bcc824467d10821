"""CloudWatch log groups of the course's functions and applications: create (tagged, up front), describe,
delete.

Lambda creates /aws/lambda/NAME itself at the first invocation, untagged, so teardown would never find it:
the course creates it first, tagged. Managed Flink writes only to a log stream the application names in its
CloudWatchLoggingOptions, so the course creates /aws/kinesis-analytics/NAME and its stream before the app.
"""
from __future__ import annotations

from ..clients import account_id, client, pages
from ..config import settings
from ..errors import ResourceMissing
from . import tags
from .errors import explained

APP_STREAM = "kinesis-analytics-log-stream"  # the stream name the Managed Flink console creates
RETENTION_DAYS = 7


def function_group(name: str) -> str:
    return f"/aws/lambda/{name}"


def app_group(name: str) -> str:
    return f"/aws/kinesis-analytics/{name}"


def missing(group: str) -> ResourceMissing:
    return ResourceMissing("log group", group, "It is made with the function or application that writes it "
                                               "(lab.functions.deploy, lab.apps.create).")


def _logs_errors(group: str):
    return explained("CloudWatch Logs", f"log group {group!r}", lambda: missing(group))


def _arn(group: str) -> str | None:
    for page in pages("logs", "describe_log_groups", logGroupNamePrefix=group):
        for found in page["logGroups"]:
            if found["logGroupName"] == group:
                return found.get("logGroupArn") or found["arn"].removesuffix(":*")
    return None


def ensure(group: str, stream: str | None = None) -> str:
    """Create the log group (and `stream` in it) if missing, tagged as the course's, with RETENTION_DAYS;
    an existing group of this name (e.g. from the console lab) is adopted: tagged. Returns the group's ARN, or
    the stream's when `stream` is given (what CloudWatchLoggingOptions names)."""
    logs = client("logs")
    with _logs_errors(group):
        arn = _arn(group)
        if arn is None:
            logs.create_log_group(logGroupName=group, tags=tags.as_dict())
            logs.put_retention_policy(logGroupName=group, retentionInDays=RETENTION_DAYS)
            arn = f"arn:aws:logs:{settings().region}:{account_id()}:log-group:{group}"
        else:
            logs.tag_resource(resourceArn=arn, tags=tags.as_dict())
        if stream is None:
            return arn
        if not any(s["logStreamName"] == stream for page in pages("logs", "describe_log_streams", logGroupName=group,
                                                                  logStreamNamePrefix=stream)
                   for s in page["logStreams"]):
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
    return f"{arn}:log-stream:{stream}"


def describe(group: str) -> dict:
    """Name, ARN and tags of a log group; ResourceMissing if there is none."""
    with _logs_errors(group):
        arn = _arn(group)
        if arn is None:
            raise missing(group)
        found = client("logs").list_tags_for_resource(resourceArn=arn).get("tags", {})
    return {"name": group, "arn": arn, "tags": found}


def delete(group: str) -> bool:
    """Delete the log group and its streams; False when there was none."""
    try:
        with _logs_errors(group):
            client("logs").delete_log_group(logGroupName=group)
    except ResourceMissing:
        return False
    return True
