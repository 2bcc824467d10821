"""State changes of the local Managed Flink, as methods of moto's kinesisanalyticsv2 backend.

moto stores applications but lacks the operations that run them. These backend methods check an
application's state as Managed Flink does, change it, and hand the work on its job to the running stack
component (component.py), found through the moto patch registry: a call that needs it while it is not
running gets an error response that says so.
"""
from __future__ import annotations

import datetime
import functools

from moto.core.exceptions import JsonRESTError
from moto.kinesisanalyticsv2.models import Application, KinesisAnalyticsV2Backend

from .. import moto_patches, replay_clock

COMPONENT = "flink"  # the stack component's name, under which it attaches to the registry


class ApiError(JsonRESTError):
    def __init__(self, code: str, message: str):
        super().__init__(code, message)


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def run_state(app: Application) -> dict:
    """labkit's bookkeeping on the moto application (pickled with it): job, snapshots, resume flag, error."""
    if not hasattr(app, "labkit"):
        app.labkit = {"job_id": None, "snapshots": [], "resume_from": None, "error": None}
    return app.labkit


def application(backend: KinesisAnalyticsV2Backend, name: str) -> Application:
    if name not in backend.applications:
        raise ApiError("ResourceNotFoundException", f"Application {name} not found. Create it first.")
    return backend.applications[name]


def property_groups(app: Application) -> list[dict]:
    described = (app.app_config_description or {}).get("EnvironmentPropertyDescriptions") or {}
    return described.get("PropertyGroupDescriptions") or []


def code_location(app: Application) -> tuple[str, str]:
    """(bucket, key) of the application's zip."""
    code = (app.app_config_description or {}).get("ApplicationCodeConfigurationDescription") or {}
    location = (code.get("CodeContentDescription") or {}).get("S3ApplicationCodeLocationDescription")
    if not location:
        raise ApiError("InvalidApplicationConfigurationException",
                       f"Application {app.application_name} has no S3 code location; update it with its zip.")
    return location["BucketARN"].split(":::")[-1], location["FileKey"]


def snapshots_enabled(app: Application) -> bool:
    config = (app.app_config_description or {}).get("ApplicationSnapshotConfigurationDescription") or {}
    return bool(config.get("SnapshotsEnabled", True))


def add_snapshot(app: Application, location: str) -> None:
    """Record a savepoint taken of the application's job as one of its snapshots."""
    run_state(app)["snapshots"].append({
        "SnapshotName": f"{app.application_name}-{datetime.datetime.now():%Y%m%d-%H%M%S-%f}",
        "SnapshotStatus": "READY",
        "ApplicationVersionId": app.application_version_id,
        "SnapshotCreationTimestamp": now(),
        "RuntimeEnvironment": app.runtime_environment,
        "Location": location,
    })


class _Recorder:
    """The runner while the endpoint's journal is replayed at start: the state changes of a call are applied,
    its job work is not; the component resumes what was running once it starts (component.py)."""

    @staticmethod
    def launch(app: Application, savepoint: str | None) -> None:
        run_state(app).update(resume_from=savepoint, job_id=None)

    @staticmethod
    def halt(app: Application, with_snapshot: bool) -> None:
        run_state(app)["job_id"] = None
        app.application_status = "READY"

    @staticmethod
    def restart(app: Application) -> None:
        """Stays UPDATING: resumed from its job's latest checkpoint."""

    @staticmethod
    def forget(app: Application) -> None:
        """Its unpacked code is removed when the component next deletes it."""


def _runner():
    return _Recorder if replay_clock.replaying() else moto_patches.component(COMPONENT)


# -- the operations moto lacks -------------------------------------------------------------------------

def update_application(self: KinesisAnalyticsV2Backend, name: str, version: int, update: dict) -> dict:
    """New properties, code location or snapshot setting; a RUNNING application restarts its job (UPDATING)."""
    app = application(self, name)
    if app.application_status not in ("READY", "RUNNING"):
        raise ApiError("ResourceInUseException", f"Application {name} is {app.application_status}; update it "
                                                  "when it is READY or RUNNING.")
    if version != app.application_version_id:
        raise ApiError("ConcurrentModificationException",
                       f"Application {name} is at version {app.application_version_id}, not {version}.")
    runner = _runner() if app.application_status == "RUNNING" else None
    app.app_config_description = _updated(app.app_config_description or {}, update)
    app.application_version_id += 1
    app.last_updated_date_time = now()
    if runner is not None:
        app.application_status = "UPDATING"
        runner.restart(app)
    return self.describe_application(name)


def _updated(description: dict, update: dict) -> dict:
    if "EnvironmentPropertyUpdates" in update:
        description["EnvironmentPropertyDescriptions"] = {
            "PropertyGroupDescriptions": update["EnvironmentPropertyUpdates"]["PropertyGroups"]}
    code_update = (update.get("ApplicationCodeConfigurationUpdate") or {}).get("CodeContentUpdate") or {}
    if "S3ContentLocationUpdate" in code_update:
        code = description.setdefault("ApplicationCodeConfigurationDescription", {"CodeContentType": "ZIPFILE"})
        current = code.setdefault("CodeContentDescription", {}).setdefault("S3ApplicationCodeLocationDescription", {})
        current.update({k.removesuffix("Update"): v for k, v in code_update["S3ContentLocationUpdate"].items()})
    if "ApplicationSnapshotConfigurationUpdate" in update:
        description["ApplicationSnapshotConfigurationDescription"] = {
            "SnapshotsEnabled": update["ApplicationSnapshotConfigurationUpdate"]["SnapshotsEnabledUpdate"]}
    return description


def start_application(self: KinesisAnalyticsV2Backend, name: str, run_configuration: dict) -> None:
    """STARTING, then the job runs (from the latest snapshot unless told otherwise)."""
    app = application(self, name)
    if app.application_status != "READY":
        raise ApiError("ResourceInUseException", f"Application {name} is {app.application_status}, not READY.")
    restore = run_configuration.get("ApplicationRestoreConfiguration") or {}
    kind = restore.get("ApplicationRestoreType", "RESTORE_FROM_LATEST_SNAPSHOT")
    snapshots = run_state(app)["snapshots"]
    if kind == "SKIP_RESTORE_FROM_SNAPSHOT":
        savepoint = None
    elif kind == "RESTORE_FROM_CUSTOM_SNAPSHOT":
        named = [s for s in snapshots if s["SnapshotName"] == restore.get("SnapshotName")]
        if not named:
            raise ApiError("ResourceNotFoundException", f"Snapshot {restore.get('SnapshotName')} of {name} not found.")
        savepoint = named[0]["Location"]
    else:
        savepoint = snapshots[-1]["Location"] if snapshots else None
    runner = _runner()
    app.application_status = "STARTING"
    runner.launch(app, savepoint)


def stop_application(self: KinesisAnalyticsV2Backend, name: str, force: bool) -> None:
    """STOPPING, then READY; unless forced (or snapshots are off) the job stops with a snapshot."""
    app = application(self, name)
    if app.application_status not in ("RUNNING", "STARTING"):
        raise ApiError("ResourceInUseException", f"Application {name} is {app.application_status}, not RUNNING.")
    runner = _runner()
    app.application_status = "STOPPING"
    runner.halt(app, with_snapshot=not force and snapshots_enabled(app))


def list_application_snapshots(self: KinesisAnalyticsV2Backend, name: str) -> list[dict]:
    """The application's snapshots, newest first."""
    snapshots = run_state(application(self, name))["snapshots"]
    return [{k: v for k, v in s.items() if k != "Location"} for s in reversed(snapshots)]


def delete_application(self: KinesisAnalyticsV2Backend, name: str) -> None:
    app = application(self, name)
    if app.application_status not in ("READY", "STARTING") or run_state(app)["job_id"]:
        raise ApiError("ResourceInUseException", f"Stop application {name} before deleting it.")
    runner = _runner()
    del self.applications[name]
    runner.forget(app)


# -- fixes to the operations moto has ----------------------------------------------------------------------

def ready_when_created(original):
    """CreateApplication leaves the application READY (moto leaves it STARTING for ever)."""
    @functools.wraps(original)
    def create_application(self, application_name: str, *args, **kwargs) -> dict:
        detail = original(self, application_name, *args, **kwargs)
        self.applications[application_name].application_status = "READY"
        return dict(detail, ApplicationStatus="READY")

    return create_application


def refreshed_when_described(original):
    """DescribeApplication first notices a job that ended (failed, cancelled from the dashboard): READY again."""
    @functools.wraps(original)
    def describe_application(self, application_name: str) -> dict:
        runner = moto_patches.component(COMPONENT, required=False)
        if runner is not None:
            runner.refresh(application(self, application_name))
        return original(self, application_name)

    return describe_application
