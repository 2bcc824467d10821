"""Flink applications, as the Managed Flink console has them: create, configure runtime properties, run
(fresh or with the latest snapshot), stop (with a snapshot), status, snapshots, logs, dashboard.

The same kinesisanalyticsv2 calls serve both targets; on `local` the stack runs the applications on its
Flink session cluster (labkit/local/managed_flink/).
"""
from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from .. import stack_api
from ..clients import client, pages
from ..config import ALERT_THRESHOLD, FLINK_DIR, NAMES, settings
from ..errors import BadParameter, LabError, ResourceMissing, WaitTimedOut
from ..progress import wait_until
from . import buckets, logs as log_groups, roles, tags
from .errors import explained
from .functions import python_files

RUNTIME = "FLINK-1_20"
APP_FOLDERS = {NAMES.anomaly_app: "anomaly_detection", NAMES.max_speed_app: "max_wind_speed"}
LOCAL_ONLY_GROUPS = {"kinesis.client"}  # the local endpoint: the local stack adds it itself
LAB_CONSTANTS = {NAMES.anomaly_app: {"rcf.scoreThreshold": str(ALERT_THRESHOLD)}}  # group "lab", from labkit.config
START_TIMEOUT_S = 300
STOP_TIMEOUT_S = 240
SETTLED = ("READY", "RUNNING")  # every other status (STARTING, UPDATING, STOPPING, ...) is on its way to one


def _folder(name: str) -> str:
    if name not in APP_FOLDERS:
        raise BadParameter(f"{name!r} is not a lab application; use one of {', '.join(APP_FOLDERS)}.")
    return APP_FOLDERS[name]


def package(name: str) -> Path:
    """The deployable zip of an application (main.py, its modules, lib/ connector jar), built by Maven."""
    path = FLINK_DIR / "target" / f"{_folder(name)}.zip"
    if not path.exists():
        raise LabError(f"{path} is missing: build the Flink applications with `make setup` "
                       "(it runs `mvn -f flink/pom.xml package`).")
    return path


def default_properties(name: str) -> dict[str, dict[str, str]]:
    """The application's property groups from its application_properties.json, without local-only groups, and
    the lab's constants it needs (LAB_CONSTANTS) in group "lab"."""
    groups = json.loads((FLINK_DIR / _folder(name) / "application_properties.json").read_text())
    properties = {g["PropertyGroupId"]: g["PropertyMap"] for g in groups
                  if g["PropertyGroupId"] not in LOCAL_ONLY_GROUPS}
    properties["lab"] = {**properties.get("lab", {}), **LAB_CONSTANTS.get(name, {})}
    return properties


def _groups(properties: dict[str, dict[str, str]]) -> list[dict]:
    return [{"PropertyGroupId": group, "PropertyMap": {k: str(v) for k, v in values.items()}}
            for group, values in properties.items()]


def missing(name: str) -> ResourceMissing:
    return ResourceMissing("Flink application", name, f"Create it with lab.apps.create({name!r}).")


def _app_errors(name: str, keep: tuple[str, ...] = ()):
    return explained("Managed Flink", f"application {name!r}", lambda: missing(name), keep)


def describe(name: str) -> dict:
    with _app_errors(name):
        return client("kinesisanalyticsv2").describe_application(ApplicationName=name)["ApplicationDetail"]


def exists(name: str) -> bool:
    with _app_errors(name):
        return any(summary["ApplicationName"] == name for page in pages("kinesisanalyticsv2", "list_applications")
                   for summary in page["ApplicationSummaries"])


def status(name: str) -> str:
    """READY, STARTING, RUNNING, STOPPING, ... as the console shows it."""
    return describe(name)["ApplicationStatus"]


def properties(name: str) -> dict[str, dict[str, str]]:
    """The application's runtime properties, by property group."""
    config = describe(name).get("ApplicationConfigurationDescription") or {}
    groups = (config.get("EnvironmentPropertyDescriptions") or {}).get("PropertyGroupDescriptions") or []
    return {g["PropertyGroupId"]: g["PropertyMap"] for g in groups}


@contextlib.contextmanager
def _code(name: str, modules: Sequence[Path | str]) -> Iterator[Path]:
    """The zip to upload: `package(name)`, or a temporary copy in which `modules` replace the files of their name."""
    built, given = package(name), {file.name: file for file in python_files(modules)}
    if not given:
        yield built
        return
    with tempfile.TemporaryDirectory(prefix="labkit-app-") as folder:
        copy = Path(folder) / built.name
        with zipfile.ZipFile(built) as original, zipfile.ZipFile(copy, "w") as archive:
            for entry in original.infolist():
                kept = zipfile.ZipInfo(entry.filename, entry.date_time)
                kept.external_attr, kept.compress_type = entry.external_attr, entry.compress_type
                if entry.is_dir():
                    archive.writestr(kept, b"")
                elif entry.filename not in given:
                    with original.open(entry) as source, archive.open(kept, "w") as target:
                        shutil.copyfileobj(source, target, 1 << 20)
            for module in given.values():
                archive.write(module, module.name, zipfile.ZIP_DEFLATED)
        yield copy


def create(name: str, modules: Sequence[Path | str] = (), **lab_properties) -> dict:
    """Upload the code to S3 and create the application with its runtime properties (idempotent:
    an existing application gets the new code and properties). `modules` (.py files) go into the zip beside
    main.py, each in place of the file of its name (the DIY's window rule)."""
    key = f"{_folder(name)}.zip"
    with _code(name, modules) as code:
        bucket_arn = buckets.upload(code, key)
    props = default_properties(name)
    props["lab"] = {**props.get("lab", {}), **{k: str(v) for k, v in lab_properties.items()}}
    if not exists(name):
        request = dict(
            ApplicationName=name, RuntimeEnvironment=RUNTIME, ServiceExecutionRole=roles.ensure(),
            ApplicationConfiguration={
                "ApplicationCodeConfiguration": {"CodeContentType": "ZIPFILE", "CodeContent": {
                    "S3ContentLocation": {"BucketARN": bucket_arn, "FileKey": key}}},
                "EnvironmentProperties": {"PropertyGroups": _groups(props)},
                "ApplicationSnapshotConfiguration": {"SnapshotsEnabled": True},
            },
            CloudWatchLoggingOptions=[{"LogStreamARN": log_groups.ensure(log_groups.app_group(name),
                                                                         log_groups.APP_STREAM)}],
            Tags=tags.as_list(),
        )
        with _app_errors(name):
            roles.when_assumable(lambda: client("kinesisanalyticsv2").create_application(**request),
                                 f"Managed Flink ({name})")
        return describe(name)
    _update(name, {
        "ApplicationCodeConfigurationUpdate": {"CodeContentUpdate": {"S3ContentLocationUpdate": {
            "BucketARNUpdate": bucket_arn, "FileKeyUpdate": key}}},
        "EnvironmentPropertyUpdates": {"PropertyGroups": _groups(props)},
    })
    return describe(name)


def configure(name: str, group: str = "lab", quiet: bool = False, **values) -> dict[str, dict[str, str]]:
    """Set runtime properties in one group (console: Configure > Runtime properties); others are kept. A
    running application restarts with them (from a snapshot), as on Managed Flink."""
    props = properties(name)
    props[group] = {**props.get(group, {}), **{k: str(v) for k, v in values.items()}}
    _update(name, {"EnvironmentPropertyUpdates": {"PropertyGroups": _groups(props)}}, quiet=quiet)
    return props


def _update(name: str, configuration_update: dict, quiet: bool = True) -> None:
    """UpdateApplication; a RUNNING application goes UPDATING while its job restarts: wait for RUNNING."""
    settle(name, quiet)
    current = describe(name)
    with _app_errors(name):
        client("kinesisanalyticsv2").update_application(
            ApplicationName=name, CurrentApplicationVersionId=current["ApplicationVersionId"],
            ApplicationConfigurationUpdate=configuration_update)
    if current["ApplicationStatus"] == "RUNNING":
        _wait_running(name, "restart with the update", quiet)


def settle(name: str, quiet: bool = False) -> str:
    """Wait (with progress) while the application is in a transitional status (STARTING after `labkit up`,
    UPDATING, STOPPING, ...); return the status it settles in, READY or RUNNING."""
    now = status(name)
    if now in SETTLED:
        return now
    if now == "DELETING":
        raise LabError(f"{name} is being deleted. Wait until it is gone, then create it again with "
                       f"lab.apps.create({name!r}).")
    seen = {"status": now}

    def settled() -> bool:
        seen["status"] = status(name)
        return seen["status"] in SETTLED

    try:
        wait_until(settled, START_TIMEOUT_S, f"{name} to finish {now.lower()}", quiet=quiet, interval_s=1)
    except WaitTimedOut as error:
        raise WaitTimedOut(f"{name} is still {seen['status']} after {START_TIMEOUT_S} s: open "
                           f"{dashboard_url(name)} to see why, then run the step again.") from error
    return seen["status"]


def _start_error(name: str) -> str:
    """Why the application fell back to READY: the local runner's error, or where to look."""
    if not settings().is_local:
        return "see the application's CloudWatch logs"
    flink = stack_api.get("/api/status").get("components", {}).get("flink", {})
    return (flink.get("applications", {}).get(name) or {}).get("error") or "see `labkit flink logs`"


def run(name: str, from_latest_snapshot: bool = True, quiet: bool = False) -> str:
    """Start the application (console: Run, "with latest snapshot" by default) and wait until RUNNING."""
    if settle(name, quiet) == "RUNNING":
        return "RUNNING"
    restore = "RESTORE_FROM_LATEST_SNAPSHOT" if from_latest_snapshot else "SKIP_RESTORE_FROM_SNAPSHOT"
    with _app_errors(name):
        client("kinesisanalyticsv2").start_application(ApplicationName=name, RunConfiguration={
            "ApplicationRestoreConfiguration": {"ApplicationRestoreType": restore}})
    _wait_running(name, "run", quiet)
    return "RUNNING"


def _wait_running(name: str, action: str, quiet: bool) -> None:
    def running():
        now = status(name)
        if now == "READY":
            raise LabError(f"{name} did not {action}: {_start_error(name)}")
        return now == "RUNNING"

    wait_until(running, START_TIMEOUT_S, f"{name} to {action}", quiet=quiet, interval_s=1,
               on_timeout=f"Open the Flink dashboard ({dashboard_url(name)}) to see why.")


def stop(name: str, snapshot: bool = True, quiet: bool = False) -> str:
    """Stop the application; with `snapshot` (the default) it takes one first, to run from later."""
    if settle(name, quiet) == "READY":
        return "READY"
    with _app_errors(name):
        client("kinesisanalyticsv2").stop_application(ApplicationName=name, Force=not snapshot)
    wait_until(lambda: status(name) == "READY", STOP_TIMEOUT_S, f"{name} to stop", quiet=quiet, interval_s=1)
    return "READY"


def snapshots(name: str) -> list[dict]:
    """The application's snapshots, newest first."""
    with _app_errors(name):
        return [snapshot for page in pages("kinesisanalyticsv2", "list_application_snapshots", ApplicationName=name)
                for snapshot in page["SnapshotSummaries"]]


def summary(name: str) -> dict:
    """Status, snapshot count and dashboard of an application ("not created" when there is none)."""
    try:
        current = status(name)
    except ResourceMissing:
        return {"status": "not created", "snapshots": 0, "dashboard": dashboard_url(name)}
    return {"status": current, "snapshots": len(snapshots(name)), "dashboard": dashboard_url(name)}


def delete(name: str) -> bool:
    """Delete the application; one the service will not delete while it runs (the local one) is stopped first,
    without a snapshot. False if it did not exist."""
    if not exists(name):
        return False
    kda = client("kinesisanalyticsv2")
    try:
        with _app_errors(name, keep=("ResourceInUseException",)):
            kda.delete_application(ApplicationName=name, CreateTimestamp=describe(name)["CreateTimestamp"])
    except kda.exceptions.ResourceInUseException:
        stop(name, snapshot=False, quiet=True)
        with _app_errors(name):
            kda.delete_application(ApplicationName=name, CreateTimestamp=describe(name)["CreateTimestamp"])
    return True


def dashboard_url(name: str) -> str:
    """Where to watch the job: the local Flink dashboard, or the application's page in the AWS console."""
    s = settings()
    if s.is_local:
        return s.flink_url
    return f"https://console.aws.amazon.com/flink/home?region={s.region}#/applications/{name}"


def logs(name: str, lines: int = 100) -> str:
    """The job's last `lines` log lines (local: the Flink cluster's logs; aws: the past hour of its CloudWatch log
    group, oldest first)."""
    s = settings()
    if s.is_local:
        files = stack_api.get("/api/flink/logs", timeout_s=10, lines=lines)
        return "\n".join(f"==> {file} <==\n{text}" for file, text in files.items())
    group = log_groups.app_group(name)
    with explained("CloudWatch Logs", f"the log of {name!r}", lambda: log_groups.missing(group)):
        events = [event["message"] for page in pages("logs", "filter_log_events", logGroupName=group,
                                                     startTime=int((time.time() - 3600) * 1000))
                  for event in page["events"]]
    return "\n".join(events[-lines:])
