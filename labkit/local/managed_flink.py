"""The local Managed Service for Apache Flink.

moto stores Kinesis Analytics v2 applications (create, describe, list, tags) but cannot run them. This
component adds the rest of the control plane to the local endpoint — UpdateApplication,
StartApplication, StopApplication, CreateApplicationSnapshot, ListApplicationSnapshots,
DeleteApplication — and runs the applications on the local Flink session cluster, so labkit calls the
same kinesisanalyticsv2 API on both targets:

- the application's code is its zip in S3 (main.py + lib/ connector jar), unpacked into the state folder;
- its runtime properties are the application's property groups, plus the local endpoint for the
  Kinesis connector (group `kinesis.client`) unless the application sets one;
- a snapshot is a Flink savepoint. StopApplication takes one (when snapshots are enabled),
  StartApplication restores the latest one by default (RESTORE_FROM_LATEST_SNAPSHOT), as Managed Flink does;
- when the stack stops, running applications stop with a snapshot and start again from it at the next
  `labkit up`, so nothing is read twice or missed;
- UpdateApplication on a RUNNING application restarts its job with the new code and properties, from a
  snapshot taken on the way (UPDATING, then RUNNING), as Managed Flink does;
- a TaskManager that dies (killed, crashed) is replaced, as Managed Flink does; Flink then restores the
  jobs from their latest checkpoints.
"""
from __future__ import annotations

import datetime
import io
import json
import logging
import shutil
import threading
import zipfile
from pathlib import Path

from flask import Blueprint, jsonify, request
from moto.core.exceptions import JsonRESTError
from moto.kinesisanalyticsv2 import models, responses
from moto.s3.models import s3_backends

from ..config import Settings
from .flink_cluster import FINAL_STATES, FlinkCluster

log = logging.getLogger(__name__)
WATCH_INTERVAL_S = 2.0  # how often the cluster is checked for a lost TaskManager
_runner: "LocalManagedFlink | None" = None


class ApiError(JsonRESTError):
    def __init__(self, code: str, message: str):
        super().__init__(code, message)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _run_state(app: models.Application) -> dict:
    """labkit's bookkeeping on the moto application (pickled with it): job, snapshots, resume flag."""
    if not hasattr(app, "labkit"):
        app.labkit = {"job_id": None, "snapshots": [], "resume_from": None, "error": None}
    return app.labkit


def _application(backend: models.KinesisAnalyticsV2Backend, name: str) -> models.Application:
    if name not in backend.applications:
        raise ApiError("ResourceNotFoundException", f"Application {name} not found. Create it first.")
    return backend.applications[name]


def _property_groups(app: models.Application) -> list[dict]:
    described = (app.app_config_description or {}).get("EnvironmentPropertyDescriptions") or {}
    return described.get("PropertyGroupDescriptions") or []


def _code_location(app: models.Application) -> tuple[str, str]:
    code = (app.app_config_description or {}).get("ApplicationCodeConfigurationDescription") or {}
    location = (code.get("CodeContentDescription") or {}).get("S3ApplicationCodeLocationDescription")
    if not location:
        raise ApiError("InvalidApplicationConfigurationException",
                       f"Application {app.application_name} has no S3 code location; update it with its zip.")
    return location["BucketARN"].split(":::")[-1], location["FileKey"]


def _snapshots_enabled(app: models.Application) -> bool:
    config = (app.app_config_description or {}).get("ApplicationSnapshotConfigurationDescription") or {}
    return bool(config.get("SnapshotsEnabled", True))


class LocalManagedFlink:
    """Stack component: runs kinesisanalyticsv2 applications on the local Flink session cluster."""

    name = "flink"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.cluster = FlinkCluster(settings.state_dir / "flink", settings.flink_port)
        self.apps_dir = settings.state_dir / "flink-apps"
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.blueprint = self._build_blueprint()

    # -- component -------------------------------------------------------------------------------------

    def start(self) -> None:
        global _runner
        _runner = self
        install()
        resume = [(backend, app) for backend in self._backends() for app in backend.applications.values()
                  if _run_state(app)["resume_from"]]
        if resume:
            threading.Thread(target=self._resume, args=(resume,), name="flink-resume", daemon=True).start()
        threading.Thread(target=self._watch, name="flink-watch", daemon=True).start()

    def stop(self) -> None:
        self.stopping.set()
        with self.lock:
            try:
                for backend in self._backends():
                    for app in backend.applications.values():
                        if app.application_status == "RUNNING":
                            try:
                                _run_state(app)["resume_from"] = self._stop_job(app, with_snapshot=True)
                            except Exception as error:  # no snapshot (e.g. its tasks were not running)
                                log.exception("stopping %s with a snapshot failed", app.application_name)
                                _run_state(app).update(error=f"stopped without a snapshot: {error}", job_id=None)
                                app.application_status = "READY"
            finally:  # the cluster's processes never outlive the stack
                self.cluster.stop()

    def status(self) -> dict:
        cluster = self.cluster.status()
        running = cluster["running"]
        apps = {app.application_name: {"status": app.application_status, "job_id": _run_state(app)["job_id"],
                                       "error": _run_state(app)["error"]}
                for backend in self._backends() for app in backend.applications.values()}
        return {"dashboard": self.cluster.url if running else None, "cluster_running": running,
                "processes": cluster["processes"], "applications": apps}

    def _watch(self) -> None:
        """While an application runs, replace a lost TaskManager (skipped while a start or stop is busy)."""
        while not self.stopping.wait(WATCH_INTERVAL_S):
            if not self.lock.acquire(blocking=False):
                continue
            try:
                running = any(app.application_status == "RUNNING"
                              for backend in self._backends() for app in backend.applications.values())
                if running and self.cluster.replace_lost_taskmanager():
                    log.warning("the Flink TaskManager was lost; a new one runs the jobs from their latest checkpoints")
            except Exception:  # keep watching; the log says what failed
                log.exception("replacing the lost Flink TaskManager failed")
            finally:
                self.lock.release()

    def _backends(self):
        return [backend for regions in models.kinesisanalyticsv2_backends.values() for backend in regions.values()]

    def _build_blueprint(self) -> Blueprint:
        blueprint = Blueprint("flink", __name__)

        @blueprint.get("/api/flink/logs")
        def logs():
            return jsonify(self.cluster.logs(lines=int(request.args.get("lines", 100))))

        @blueprint.get("/api/flink/jobs")
        def jobs():
            return jsonify(self.cluster.list_jobs() if self.cluster.status()["running"] else [])

        return blueprint

    # -- application lifecycle -------------------------------------------------------------------------

    def _unpack(self, app: models.Application) -> Path:
        bucket, key = _code_location(app)
        try:
            body = s3_backends[app.account_id]["aws"].get_object(bucket, key).value
        except Exception as error:
            raise ApiError("InvalidApplicationConfigurationException",
                           f"cannot read the code s3://{bucket}/{key} of {app.application_name}: {error}") from error
        target = self.apps_dir / app.application_name / f"v{app.application_version_id}"
        shutil.rmtree(target, ignore_errors=True)
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            archive.extractall(target)
        return target

    def _write_properties(self, app: models.Application, app_dir: Path) -> Path:
        groups = [dict(group) for group in _property_groups(app)]
        if not any(group["PropertyGroupId"] == "kinesis.client" for group in groups):
            groups.append({"PropertyGroupId": "kinesis.client", "PropertyMap": {
                "aws.endpoint": self.settings.endpoint_url, "aws.http.protocol.version": "HTTP1_1"}})
        path = app_dir.parent / "application_properties.json"
        path.write_text(json.dumps(groups, indent=2))
        return path

    def _launch(self, app: models.Application, savepoint: str | None) -> None:
        """Start the job of `app` (from `savepoint` if given); runs in a background thread."""
        state = _run_state(app)
        try:
            with self.lock:
                self.cluster.start(quiet=True)
                app_dir = self._unpack(app)
                job_id = self.cluster.submit(app_dir, self._write_properties(app, app_dir), savepoint, quiet=True)
                state.update(job_id=job_id, error=None, resume_from=None)
                app.application_status = "RUNNING"
                log.info("application %s running as job %s (from %s)", app.application_name, job_id,
                         savepoint or "no snapshot")
        except Exception as error:  # the application goes back to READY; the error is in status and log
            log.exception("starting %s failed", app.application_name)
            state["error"] = str(error)
            app.application_status = "READY"

    def _stop_job(self, app: models.Application, with_snapshot: bool, then: str = "READY") -> str | None:
        state = _run_state(app)
        job_id, snapshot = state["job_id"], None
        if job_id and self.cluster.status()["running"] and self.cluster.job_status(job_id) not in FINAL_STATES:
            if with_snapshot:
                snapshot = self.cluster.stop_with_savepoint(job_id, quiet=True)
                state["snapshots"].append({
                    "SnapshotName": f"{app.application_name}-{datetime.datetime.now():%Y%m%d-%H%M%S-%f}",
                    "SnapshotStatus": "READY",
                    "ApplicationVersionId": app.application_version_id,
                    "SnapshotCreationTimestamp": _now(),
                    "RuntimeEnvironment": app.runtime_environment,
                    "Location": snapshot,
                })
            else:
                self.cluster.cancel(job_id, quiet=True)
        state["job_id"] = None
        app.application_status = then
        return snapshot

    def _stop(self, app: models.Application, with_snapshot: bool) -> None:
        try:
            with self.lock:
                self._stop_job(app, with_snapshot)
        except Exception as error:
            log.exception("stopping %s failed", app.application_name)
            _run_state(app)["error"] = str(error)
            app.application_status = "RUNNING"

    def _restart(self, app: models.Application) -> None:
        """Run an updated RUNNING application's job again, from a snapshot when snapshots are on."""
        try:
            with self.lock:
                snapshot = self._stop_job(app, _snapshots_enabled(app), then="UPDATING")
                self._launch(app, snapshot)
        except Exception as error:  # the old job keeps running; the error is in status and log
            log.exception("updating %s failed", app.application_name)
            _run_state(app)["error"] = f"the update did not restart the job: {error}"
            app.application_status = "RUNNING"

    def _resume(self, apps) -> None:
        for _, app in apps:
            app.application_status = "STARTING"
            self._launch(app, _run_state(app)["resume_from"])

    def refresh(self, app: models.Application) -> None:
        """A RUNNING application whose job ended (failed, cancelled from the dashboard) is READY again."""
        state = _run_state(app)
        if app.application_status == "RUNNING" and state["job_id"]:
            job_state = self.cluster.job_status(state["job_id"]) if self.cluster.status()["running"] else "LOST"
            if job_state in FINAL_STATES | {"LOST"}:
                state.update(error=f"the Flink job ended ({job_state}); see `labkit flink logs`", job_id=None)
                app.application_status = "READY"


# -- the added API operations (moto backend + response methods) ------------------------------------------

def _backend_update(self, name: str, version: int, update: dict) -> dict:
    app = _application(self, name)
    if app.application_status not in ("READY", "RUNNING"):
        raise ApiError("ResourceInUseException", f"Application {name} is {app.application_status}; update it "
                                                  "when it is READY or RUNNING.")
    if version != app.application_version_id:
        raise ApiError("ConcurrentModificationException",
                       f"Application {name} is at version {app.application_version_id}, not {version}.")
    description = app.app_config_description or {}
    if "EnvironmentPropertyUpdates" in update:
        description["EnvironmentPropertyDescriptions"] = {
            "PropertyGroupDescriptions": update["EnvironmentPropertyUpdates"]["PropertyGroups"]}
    code_update = (update.get("ApplicationCodeConfigurationUpdate") or {}).get("CodeContentUpdate") or {}
    if "S3ContentLocationUpdate" in code_update:
        location = code_update["S3ContentLocationUpdate"]
        code = description.setdefault("ApplicationCodeConfigurationDescription", {"CodeContentType": "ZIPFILE"})
        current = code.setdefault("CodeContentDescription", {}).setdefault("S3ApplicationCodeLocationDescription", {})
        current.update({k.removesuffix("Update"): v for k, v in location.items()})
    if "ApplicationSnapshotConfigurationUpdate" in update:
        description["ApplicationSnapshotConfigurationDescription"] = {
            "SnapshotsEnabled": update["ApplicationSnapshotConfigurationUpdate"]["SnapshotsEnabledUpdate"]}
    app.app_config_description = description
    app.application_version_id += 1
    app.last_updated_date_time = _now()
    if app.application_status == "RUNNING":
        app.application_status = "UPDATING"
        threading.Thread(target=_runner._restart, args=(app,), name=f"update-{name}", daemon=True).start()
    return self.describe_application(name)


def _backend_start(self, name: str, run_configuration: dict) -> None:
    app = _application(self, name)
    if app.application_status != "READY":
        raise ApiError("ResourceInUseException", f"Application {name} is {app.application_status}, not READY.")
    restore = (run_configuration.get("ApplicationRestoreConfiguration") or {})
    kind = restore.get("ApplicationRestoreType", "RESTORE_FROM_LATEST_SNAPSHOT")
    snapshots = _run_state(app)["snapshots"]
    if kind == "SKIP_RESTORE_FROM_SNAPSHOT":
        savepoint = None
    elif kind == "RESTORE_FROM_CUSTOM_SNAPSHOT":
        named = [s for s in snapshots if s["SnapshotName"] == restore.get("SnapshotName")]
        if not named:
            raise ApiError("ResourceNotFoundException", f"Snapshot {restore.get('SnapshotName')} of {name} not found.")
        savepoint = named[0]["Location"]
    else:
        savepoint = snapshots[-1]["Location"] if snapshots else None
    app.application_status = "STARTING"
    threading.Thread(target=_runner._launch, args=(app, savepoint), name=f"start-{name}", daemon=True).start()


def _backend_stop(self, name: str, force: bool) -> None:
    app = _application(self, name)
    if app.application_status not in ("RUNNING", "STARTING"):
        raise ApiError("ResourceInUseException", f"Application {name} is {app.application_status}, not RUNNING.")
    app.application_status = "STOPPING"
    with_snapshot = not force and _snapshots_enabled(app)
    threading.Thread(target=_runner._stop, args=(app, with_snapshot), name=f"stop-{name}", daemon=True).start()


def _public(snapshot: dict) -> dict:
    return {k: v for k, v in snapshot.items() if k != "Location"}


def _params(response) -> dict:
    return json.loads(response.body or "{}")


def _response_update_application(self) -> str:
    p = _params(self)
    detail = self.kinesisanalyticsv2_backend.update_application(
        p["ApplicationName"], p["CurrentApplicationVersionId"], p.get("ApplicationConfigurationUpdate") or {})
    return json.dumps({"ApplicationDetail": detail})


def _response_start_application(self) -> str:
    p = _params(self)
    self.kinesisanalyticsv2_backend.start_application(p["ApplicationName"], p.get("RunConfiguration") or {})
    return json.dumps({})


def _response_stop_application(self) -> str:
    p = _params(self)
    self.kinesisanalyticsv2_backend.stop_application(p["ApplicationName"], bool(p.get("Force")))
    return json.dumps({})


def _response_list_application_snapshots(self) -> str:
    app = _application(self.kinesisanalyticsv2_backend, _params(self)["ApplicationName"])
    snapshots = [_public(s) for s in reversed(_run_state(app)["snapshots"])]
    return json.dumps({"SnapshotSummaries": snapshots})


def _response_delete_application(self) -> str:
    p = _params(self)
    app = _application(self.kinesisanalyticsv2_backend, p["ApplicationName"])
    if app.application_status not in ("READY", "STARTING") or _run_state(app)["job_id"]:
        raise ApiError("ResourceInUseException", f"Stop application {app.application_name} before deleting it.")
    del self.kinesisanalyticsv2_backend.applications[app.application_name]
    shutil.rmtree(_runner.apps_dir / app.application_name, ignore_errors=True)
    return json.dumps({})


def _wrap_create(original):
    def create_application(self, application_name: str, *args, **kwargs) -> dict:
        detail = original(self, application_name, *args, **kwargs)
        self.applications[application_name].application_status = "READY"  # moto leaves it STARTING forever
        return dict(detail, ApplicationStatus="READY")

    create_application.__wrapped__ = original
    return create_application


def _wrap_describe(original):
    def describe_application(self, application_name: str) -> dict:
        _runner.refresh(_application(self, application_name))
        return original(self, application_name)

    describe_application.__wrapped__ = original
    return describe_application


def install() -> None:
    """Add the operations to moto's kinesisanalyticsv2 in this process (idempotent)."""
    backend, response = models.KinesisAnalyticsV2Backend, responses.KinesisAnalyticsV2Response
    if hasattr(backend, "start_application"):
        return
    backend.update_application = _backend_update
    backend.start_application = _backend_start
    backend.stop_application = _backend_stop
    backend.create_application = _wrap_create(backend.create_application)
    backend.describe_application = _wrap_describe(backend.describe_application)
    response.update_application = _response_update_application
    response.start_application = _response_start_application
    response.stop_application = _response_stop_application
    response.list_application_snapshots = _response_list_application_snapshots
    response.delete_application = _response_delete_application
