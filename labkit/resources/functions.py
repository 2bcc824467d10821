"""Lambda functions from lambdas/: package, deploy, the Test button, logs, and Kinesis triggers.

    functions.deploy("AnalyticsDestinationFunction")                     # Create function, upload the code
    functions.add_trigger("AnalyticsDestinationFunction", "AnomalyDetectionStream")   # Add trigger: Kinesis
    functions.invoke("AnomalyMessageDeliveryFunction")                   # the Test button
    functions.logs("AnalyticsDestinationFunction")                       # Monitor > CloudWatch logs

The same calls work on both targets: on `local` the stack's Lambda runtime runs the handler files, on
`aws` Lambda does. Every function and trigger is tagged as the course's.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError

from ..clients import client, pages
from ..config import ALERT_SUBJECT, ALERT_THRESHOLD, LAMBDAS_DIR, NAMES
from ..errors import BadParameter, LabError, ResourceMissing, WaitTimedOut, check_whole_number
from ..progress import wait_until
from . import logs as log_groups, roles, streams, tags, topics
from .errors import explained

RUNTIME = "python3.11"
SHARED_MODULES = ("kinesis_batch.py",)  # plumbing the handlers import, zipped next to each of them
HANDLER_MODULES = {"diy_function.py": ("diy_record.py",)}  # a handler's own modules, zipped next to it
WAIT_S = 120
POSITIONS = ("LATEST", "TRIM_HORIZON", "AT_TIMESTAMP")


@dataclass(frozen=True)
class LabFunction:
    handler_file: str
    table: str
    mails: bool = False  # publishes to the AnomalyNotification topic


LAB_FUNCTIONS = {
    NAMES.analytics_function: LabFunction("analytics_destination.py", NAMES.wind_table),
    NAMES.delivery_function: LabFunction("anomaly_message_delivery.py", NAMES.wind_table, mails=True),
    NAMES.diy_function: LabFunction("diy_function.py", NAMES.diy_table),
}


def missing(name: str) -> ResourceMissing:
    return ResourceMissing("Lambda function", name,
                           f"Deploy it with `labkit.resources.functions.deploy({name!r})` and try again.")


def _lambda_errors(name: str, keep: tuple[str, ...] = ()):
    return explained("Lambda", f"function {name!r}", lambda: missing(name), keep)


def python_files(paths: Sequence[Path | str]) -> list[Path]:
    """`paths` as Python files that exist; BadParameter naming the first that is not one."""
    files = [Path(path) for path in paths]
    for file in files:
        if file.suffix != ".py":
            raise BadParameter(f"{file} is not a .py file: modules= takes the Python files to zip with the code.")
        if not file.is_file():
            raise BadParameter(f"there is no file {file}: write it first (modules= takes files to zip with the code).")
    return files


def package(handler_file: str, modules: Sequence[Path | str] = ()) -> bytes:
    """The deployment zip: the handler file, the modules it imports and the shared plumbing, at the zip's root;
    each of `modules` (.py files from elsewhere, e.g. a student's) replaces the lambdas/ file of its name. Byte-for-
    byte the same for the same sources (fixed timestamps), so redeploying unchanged code changes nothing."""
    names = [handler_file, *HANDLER_MODULES.get(handler_file, ()), *(m for m in SHARED_MODULES if m != handler_file)]
    if not (LAMBDAS_DIR / handler_file).is_file():
        imported = {*SHARED_MODULES, *(m for ms in HANDLER_MODULES.values() for m in ms)}
        available = sorted(p.name for p in LAMBDAS_DIR.glob("*.py") if p.name not in imported)
        raise BadParameter(f"there is no handler file {handler_file!r} in {LAMBDAS_DIR}; use one of {available}.")
    given = {file.name: file for file in python_files(modules)}
    sources = [given.pop(name, LAMBDAS_DIR / name) for name in names] + list(given.values())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for source in sources:
            entry = zipfile.ZipInfo(source.name, date_time=(2020, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, source.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def lab_environment(name: str) -> dict[str, str]:
    """The environment variables a lab function needs (none for other functions)."""
    spec = LAB_FUNCTIONS.get(name)
    if spec is None:
        return {}
    environment = {"OUTPUT_TABLE_NAME": spec.table}
    if spec.mails:
        environment.update(SNS_TOPIC_ARN=topics.arn(NAMES.topic), THRESHOLD=f"{ALERT_THRESHOLD:g}",
                           SUBJECT=ALERT_SUBJECT)
    return environment


def _configuration(name: str) -> dict | None:
    try:
        with _lambda_errors(name):
            return client("lambda").get_function_configuration(FunctionName=name)
    except ResourceMissing:
        return None


def _ready(name: str) -> bool:
    config = _configuration(name) or {}
    if config.get("State") == "Failed" or config.get("LastUpdateStatus") == "Failed":
        reason = config.get("StateReason") or config.get("LastUpdateStatusReason")
        raise LabError(f"Lambda could not set up {name!r}: {reason}. Fix it and deploy again.")
    return config.get("State") == "Active" and config.get("LastUpdateStatus", "Successful") == "Successful"


def describe(name: str) -> dict:
    """Name, ARN, state, handler, runtime, environment, limits, code hash and tags; ResourceMissing if absent."""
    lam = client("lambda")
    with _lambda_errors(name):
        config = lam.get_function_configuration(FunctionName=name)
        found = lam.list_tags(Resource=config["FunctionArn"]).get("Tags", {})
    return {
        "name": name,
        "arn": config["FunctionArn"],
        "state": config.get("State"),
        "handler": config["Handler"],
        "runtime": config["Runtime"],
        "role": config["Role"],
        "environment": config.get("Environment", {}).get("Variables", {}),
        "timeout_s": config["Timeout"],
        "memory_mb": config["MemorySize"],
        "code_sha256": config["CodeSha256"],
        "tags": found,
    }


def deploy(name: str, handler_file: str | None = None, environment: dict[str, str] | None = None,
           timeout_s: int = 30, memory_mb: int = 128, quiet: bool = False,
           modules: Sequence[Path | str] = ()) -> dict:
    """Create the function from its handler file in lambdas/ (or update its code and configuration),
    with the lab's execution role, wait until it is ready and return `describe(name)`.

    Lab functions know their handler file and environment; `environment` adds to or overrides it. `modules`
    (.py files) go into the zip beside the handler, each in place of the lambdas/ file of its name."""
    lab = LAB_FUNCTIONS.get(name)
    handler_file = handler_file or (lab.handler_file if lab else None)
    if not handler_file:
        raise BadParameter(f"{name!r} is not one of the lab's functions ({', '.join(LAB_FUNCTIONS)}); "
                           "give its handler_file from lambdas/.")
    code = package(handler_file, modules)
    configuration = {
        "Runtime": RUNTIME, "Role": roles.ensure(), "Handler": f"{handler_file.removesuffix('.py')}.handler",
        "Timeout": timeout_s, "MemorySize": memory_mb,
        "Environment": {"Variables": {**lab_environment(name), **(environment or {})}},
        "Description": f"Lab 22 wind farm: {handler_file}",
    }
    lam = client("lambda")
    existing = _configuration(name)
    log_groups.ensure(log_groups.function_group(name))  # tagged (before Lambda would make it untagged), or adopted
    if existing is None:
        with _lambda_errors(name):
            roles.when_assumable(lambda: lam.create_function(FunctionName=name, Code={"ZipFile": code},
                                                             Tags=tags.as_dict(), **configuration),
                                 f"Lambda ({name})", quiet)
    else:
        if existing["CodeSha256"] != base64.b64encode(hashlib.sha256(code).digest()).decode():
            with _lambda_errors(name):
                lam.update_function_code(FunctionName=name, ZipFile=code)
            wait_until(lambda: _ready(name), WAIT_S, f"function {name} to take the new code", quiet=quiet)
        with _lambda_errors(name):
            lam.update_function_configuration(FunctionName=name, **configuration)
            lam.tag_resource(Resource=existing["FunctionArn"], Tags=tags.as_dict())
    wait_until(lambda: _ready(name), WAIT_S, f"function {name} to become active", quiet=quiet,
               on_timeout="Look at the function in the Lambda console and try again.")
    return describe(name)


def delete(name: str) -> bool:
    """Delete the function and its triggers; False when there was none."""
    if _configuration(name) is None:
        return False
    for trigger in triggers(name):
        remove_trigger(name, trigger["stream"])
    try:
        with _lambda_errors(name):
            client("lambda").delete_function(FunctionName=name)
    except ResourceMissing:
        return False
    return True


def invoke(name: str, payload: dict | None = None) -> dict:
    """The console's Test button: run the function once with `payload` and wait for it.

    Returns {"ok", "error" (Lambda's FunctionError or None), "result" (the handler's return value, or
    Lambda's error document), "log" (the end of this invocation's log)}."""
    with _lambda_errors(name):
        response = client("lambda").invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode(),
                                           LogType="Tail")
    body = response["Payload"].read()
    return {
        "ok": "FunctionError" not in response,
        "error": response.get("FunctionError"),
        "result": json.loads(body) if body else None,
        "log": base64.b64decode(response.get("LogResult", "")).decode("utf-8", "replace"),
    }


def logs(name: str, limit: int = 200, since_minutes: float = 60) -> list[str]:
    """The last `limit` lines the function logged to CloudWatch Logs (/aws/lambda/NAME) in the past
    `since_minutes`, oldest first; [] when it has not logged yet."""
    request = {"logGroupName": log_groups.function_group(name),
               "startTime": int((time.time() - since_minutes * 60) * 1000)}
    try:
        with _lambda_errors(name):
            lines = [event["message"] for page in pages("logs", "filter_log_events", **request)
                     for event in page["events"]]
    except ResourceMissing:
        return []
    return lines[-limit:]


def _mapping(trigger: dict) -> dict:
    return {
        "uuid": trigger["UUID"],
        "function": trigger["FunctionArn"].split(":")[-1],
        "stream": trigger["EventSourceArn"].split("/")[-1],
        "state": trigger.get("State"),
        "batch_size": trigger.get("BatchSize"),
        "starting_position": trigger.get("StartingPosition"),
        "batching_window_s": trigger.get("MaximumBatchingWindowInSeconds", 0),
        "retries": trigger.get("MaximumRetryAttempts", -1),
        "bisect": trigger.get("BisectBatchOnFunctionError", False),
        "report_item_failures": "ReportBatchItemFailures" in trigger.get("FunctionResponseTypes", []),
        "on_failure": trigger.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"),
        "parallelization": trigger.get("ParallelizationFactor", 1),
    }


def triggers(name: str) -> list[dict]:
    """The function's event source mappings (Kinesis triggers)."""
    with _lambda_errors(name):
        return [_mapping(m) for page in pages("lambda", "list_event_source_mappings", FunctionName=name)
                for m in page["EventSourceMappings"]]


def _trigger_state(uuid: str) -> str | None:
    try:
        return client("lambda").get_event_source_mapping(UUID=uuid).get("State")
    except ClientError:
        return None


def add_trigger(name: str, stream: str, batch_size: int = 100, starting_position: str = "TRIM_HORIZON",
                starting_timestamp: float | None = None, batching_window_s: int = 0, retries: int = -1,
                bisect: bool = True, report_item_failures: bool = True, on_failure: str | None = None,
                enabled: bool = True, parallelization: int = 1, quiet: bool = False) -> dict:
    """Add a Kinesis trigger (an event source mapping) from `stream` to the function, or update the one
    there is, and wait until it is enabled. Returns the trigger as `triggers()` lists it.

    Defaults keep every valid record: start at the oldest record (a replayed record finds its own item),
    retry failures without limit (-1, AWS's default) so a missing table only delays records, split a
    failing batch to isolate a bad record, and let the handler report which record failed.
    `on_failure` is the ARN of an SNS topic or SQS queue for AWS's failure records. `parallelization` is
    AWS's ParallelizationFactor: up to that many batches of each shard at once, each partition key's records
    still in order (1, the default, delivers a shard's batches one at a time)."""
    if starting_position not in POSITIONS:
        raise BadParameter(f"starting_position={starting_position!r} is not one of {', '.join(POSITIONS)}.")
    if starting_position == "AT_TIMESTAMP" and starting_timestamp is None:
        raise BadParameter("starting_position='AT_TIMESTAMP' needs starting_timestamp (seconds since 1970).")
    check_whole_number("batch_size", batch_size, 1, 10_000)
    check_whole_number("parallelization", parallelization, 1, 10, " (batches of one shard delivered at once)")
    stream_arn = streams.describe(stream)["arn"]
    options = {
        "BatchSize": batch_size, "MaximumBatchingWindowInSeconds": batching_window_s,
        "MaximumRetryAttempts": retries, "BisectBatchOnFunctionError": bisect, "Enabled": enabled,
        "ParallelizationFactor": parallelization,
        "FunctionResponseTypes": ["ReportBatchItemFailures"] if report_item_failures else [],
    }
    if on_failure:
        options["DestinationConfig"] = {"OnFailure": {"Destination": on_failure}}
    lam = client("lambda")
    with _lambda_errors(name):
        existing = lam.list_event_source_mappings(FunctionName=name, EventSourceArn=stream_arn)["EventSourceMappings"]
        if existing:
            options.setdefault("DestinationConfig", {"OnFailure": {}})  # no destination: remove the old one
            uuid = lam.update_event_source_mapping(UUID=existing[0]["UUID"], FunctionName=name, **options)["UUID"]
        else:
            position = {"StartingPosition": starting_position}
            if starting_timestamp is not None:
                position["StartingPositionTimestamp"] = starting_timestamp
            uuid = roles.when_assumable(lambda: lam.create_event_source_mapping(
                FunctionName=name, EventSourceArn=stream_arn, Tags=tags.as_dict(), **position, **options)["UUID"],
                f"Lambda (trigger {stream} -> {name})", quiet)
    wanted = "Enabled" if enabled else "Disabled"
    try:
        wait_until(lambda: _trigger_state(uuid) == wanted, WAIT_S, f"the trigger {stream} -> {name} to be {wanted}",
                   quiet=quiet, interval_s=1.0)
    except WaitTimedOut as error:
        raise LabError(f"the trigger {stream} -> {name} is {_trigger_state(uuid)}, not {wanted}, after {WAIT_S} s. "
                       "Check the function's execution role can read the stream.") from error
    return _mapping(lam.get_event_source_mapping(UUID=uuid))


def remove_trigger(name: str, stream: str) -> bool:
    """Delete the function's trigger from `stream`; False when there was none."""
    removed = False
    for trigger in triggers(name):
        if trigger["stream"] == stream:
            with _lambda_errors(name):
                client("lambda").delete_event_source_mapping(UUID=trigger["uuid"])
            removed = True
    return removed
