"""The stack component "flink": runs kinesisanalyticsv2 applications' jobs on the local Flink session cluster.

The backend methods (models.py) hand it their work: `launch`, `halt` and `restart` run in a background
thread, as the AWS calls return at once and the application's status tells the rest.
"""
from __future__ import annotations

import io
import json
import logging
import shutil
import threading
import zipfile
from pathlib import Path

from flask import Blueprint, jsonify, request
from moto.kinesisanalyticsv2.models import Application, kinesisanalyticsv2_backends
from moto.s3.models import s3_backends

from ...config import Settings
from .. import moto_patches
from ..flink_cluster import FINAL_STATES, FlinkCluster
from .models import COMPONENT, ApiError, add_snapshot, code_location, property_groups, run_state, snapshots_enabled

log = logging.getLogger(__name__)
WATCH_INTERVAL_S = 2.0  # how often the cluster is checked for a lost TaskManager
ACTIVE = ("STARTING", "RUNNING", "UPDATING")  # at start, such an application was running when the stack crashed
CONNECTOR_GROUP = "kinesis.client"  # the group the lab's jobs hand to the Kinesis connector as-is


def _applications() -> list[Application]:
    return [app for regions in kinesisanalyticsv2_backends.values() for backend in regions.values()
            for app in backend.applications.values()]


class LocalManagedFlink:
    """Stack component: the applications' jobs on the local Flink session cluster."""

    name = COMPONENT

    def __init__(self, settings: Settings):
        self.settings = settings
        self.cluster = FlinkCluster(settings.state_dir / "flink", settings.flink_port)
        self.apps_dir = settings.state_dir / "flink-apps"
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.blueprint = self._build_blueprint()

    # -- component -------------------------------------------------------------------------------------

    def start(self) -> None:
        moto_patches.attach(self.name, self)
        resume = [app for app in _applications() if run_state(app)["resume_from"] or app.application_status in ACTIVE]
        if resume:
            self._background(self._resume, resume, name="flink-resume")
        self._background(self._watch, name="flink-watch")

    def stop(self) -> None:
        """Running applications stop with a snapshot, to resume from at the next start; then the cluster stops."""
        self.stopping.set()
        with self.lock:
            try:
                for app in _applications():
                    if app.application_status == "RUNNING":
                        self._stop_for_restart(app)
            finally:  # the cluster's processes never outlive the stack
                self.cluster.stop()
                moto_patches.detach(self.name)

    def _stop_for_restart(self, app: Application) -> None:
        try:
            run_state(app)["resume_from"] = self._stop_job(app, with_snapshot=True)
        except Exception as error:  # no snapshot (e.g. its tasks were not running)
            log.exception("stopping %s with a snapshot failed", app.application_name)
            run_state(app).update(error=f"stopped without a snapshot: {error}", job_id=None)
            app.application_status = "READY"

    def status(self) -> dict:
        cluster = self.cluster.status()
        running = cluster["running"]
        apps = {app.application_name: {"status": app.application_status, "job_id": run_state(app)["job_id"],
                                       "error": run_state(app)["error"]} for app in _applications()}
        return {"dashboard": self.cluster.url if running else None, "cluster_running": running,
                "processes": cluster["processes"], "applications": apps}

    def _watch(self) -> None:
        """While an application runs, replace a lost TaskManager (skipped while a start or stop is busy)."""
        while not self.stopping.wait(WATCH_INTERVAL_S):
            if not self.lock.acquire(blocking=False):
                continue
            try:
                running = any(app.application_status == "RUNNING" for app in _applications())
                if running and self.cluster.replace_lost_taskmanager():
                    log.warning("the Flink TaskManager was lost; a new one runs the jobs from their latest checkpoints")
            except Exception:  # keep watching; the log says what failed
                log.exception("replacing the lost Flink TaskManager failed")
            finally:
                self.lock.release()

    def _build_blueprint(self) -> Blueprint:
        blueprint = Blueprint("flink", __name__)

        @blueprint.get("/api/flink/logs")
        def logs():
            return jsonify(self.cluster.logs(lines=int(request.args.get("lines", 100))))

        @blueprint.get("/api/flink/jobs")
        def jobs():
            return jsonify(self.cluster.list_jobs() if self.cluster.status()["running"] else [])

        return blueprint

    @staticmethod
    def _background(target, *args, name: str) -> None:
        threading.Thread(target=target, args=args, name=name, daemon=True).start()

    # -- the work the backend methods hand over --------------------------------------------------------

    def launch(self, app: Application, savepoint: str | None) -> None:
        """Run the STARTING application's job (from `savepoint` if given): RUNNING, or READY with the error."""
        self._background(self._launch, app, savepoint, name=f"start-{app.application_name}")

    def halt(self, app: Application, with_snapshot: bool) -> None:
        """Stop the STOPPING application's job: READY, or RUNNING again with the error."""
        self._background(self._halt, app, with_snapshot, name=f"stop-{app.application_name}")

    def restart(self, app: Application) -> None:
        """Run the UPDATING application's job again with its new code and properties."""
        self._background(self._restart, app, name=f"update-{app.application_name}")

    def forget(self, app: Application) -> None:
        """The application was deleted: remove its unpacked code."""
        shutil.rmtree(self.apps_dir / app.application_name, ignore_errors=True)

    def refresh(self, app: Application) -> None:
        """A RUNNING application whose job ended (failed, cancelled from the dashboard) is READY again."""
        state = run_state(app)
        if app.application_status == "RUNNING" and state["job_id"]:
            job_state = self.cluster.job_status(state["job_id"]) if self.cluster.status()["running"] else "LOST"
            if job_state in FINAL_STATES | {"LOST"}:
                state.update(error=f"the Flink job ended ({job_state}); see `labkit flink logs`", job_id=None)
                app.application_status = "READY"

    # -- jobs ------------------------------------------------------------------------------------------

    def _unpack(self, app: Application) -> Path:
        bucket, key = code_location(app)
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

    def connector_properties(self) -> dict[str, str]:
        """What every application's Kinesis connector gets unless it sets it: the local endpoint and the protocol
        it speaks (HTTP/1.1). How often it polls is the application's own setting, as on AWS: an application
        that polls a shard too often is refused as AWS refuses it."""
        return {"aws.endpoint": self.settings.endpoint_url, "aws.http.protocol.version": "HTTP1_1"}

    def _write_properties(self, app: Application, app_dir: Path) -> Path:
        """The application's property groups, with group "kinesis.client" (the connector's properties)
        completed by `connector_properties()`: a key the application sets keeps its value."""
        groups = [{**group, "PropertyMap": dict(group.get("PropertyMap") or {})} for group in property_groups(app)]
        client = next((g for g in groups if g["PropertyGroupId"] == CONNECTOR_GROUP), None)
        if client is None:
            client = {"PropertyGroupId": CONNECTOR_GROUP, "PropertyMap": {}}
            groups.append(client)
        client["PropertyMap"] = {**self.connector_properties(), **client["PropertyMap"]}
        path = app_dir.parent / "application_properties.json"
        path.write_text(json.dumps(groups, indent=2))
        return path

    def _launch(self, app: Application, savepoint: str | None) -> None:
        state = run_state(app)
        try:
            with self.lock:
                self.cluster.start(quiet=True)
                app_dir = self._unpack(app)
                job_id = self.cluster.submit(app_dir, self._write_properties(app, app_dir), savepoint, quiet=True)
                state.update(job_id=job_id, error=None, resume_from=None)
                app.application_status = "RUNNING"
                log.info("application %s running as job %s (from %s)", app.application_name, job_id,
                         savepoint or "no snapshot")
                _make_durable()
        except Exception as error:  # the application goes back to READY; the error is in status and log
            log.exception("starting %s failed", app.application_name)
            state["error"] = str(error)
            app.application_status = "READY"

    def _stop_job(self, app: Application, with_snapshot: bool, then: str = "READY") -> str | None:
        """Stop the job (taking a snapshot first if asked); the application is `then`; the snapshot's location."""
        state = run_state(app)
        job_id, snapshot = state["job_id"], None
        if job_id and self.cluster.status()["running"] and self.cluster.job_status(job_id) not in FINAL_STATES:
            if with_snapshot:
                snapshot = self.cluster.stop_with_savepoint(job_id, quiet=True)
                add_snapshot(app, snapshot)
            else:
                self.cluster.cancel(job_id, quiet=True)
        state["job_id"] = None
        app.application_status = then
        return snapshot

    def _halt(self, app: Application, with_snapshot: bool) -> None:
        try:
            with self.lock:
                self._stop_job(app, with_snapshot)
            _make_durable()
        except Exception as error:
            log.exception("stopping %s failed", app.application_name)
            run_state(app)["error"] = str(error)
            app.application_status = "RUNNING"

    def _restart(self, app: Application) -> None:
        """Run an updated RUNNING application's job again, from a snapshot when snapshots are on."""
        try:
            with self.lock:
                snapshot = self._stop_job(app, snapshots_enabled(app), then="UPDATING")
                self._launch(app, snapshot)
        except Exception as error:  # the old job keeps running; the error is in status and log
            log.exception("updating %s failed", app.application_name)
            run_state(app)["error"] = f"the update did not restart the job: {error}"
            app.application_status = "RUNNING"

    def _resume(self, apps: list[Application]) -> None:
        """Run again what ran when the stack stopped: from the snapshot of a clean stop, else (a crash) from the
        job's latest retained checkpoint, else from the application's latest snapshot, as Managed Flink does."""
        for app in apps:
            state = run_state(app)
            latest = state["snapshots"][-1]["Location"] if state["snapshots"] else None
            source = state["resume_from"] or self.cluster.latest_checkpoint(state["job_id"]) or latest
            log.info("resuming %s (was %s) from %s", app.application_name, app.application_status,
                     source or "no snapshot")
            app.application_status = "STARTING"
            self._launch(app, source)


def _make_durable() -> None:
    """A job started or stopped outside any AWS call: have the endpoint snapshot its state (job ids, snapshots)."""
    endpoint = moto_patches.component("aws", required=False)
    if endpoint is not None:
        endpoint.snapshot()
