"""The local stack: one background process that every notebook kernel, the CLI and the tests share.

Run by `labkit up` as `python -m labkit.local.stack`. It holds the components below, serves their
JSON APIs and pages on the service port (waitress, 127.0.0.1 only, as the AWS port: see aws_endpoint.py),
and stops every process it started when it ends. Callers reach the API through `labkit.stack_api`.

A component has `name`, `start()`, `stop()`, `status() -> dict` and `blueprint` (a Flask blueprint
with its API and pages, or None). Components start in order and stop in reverse order.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time

from flask import Flask, jsonify
from waitress.server import create_server

from ..config import LOCAL_HOST, Settings, settings
from . import persistence
from .aws_endpoint import AwsEndpoint
from .sns_email import Inbox
from .lambda_runtime import LambdaRuntime
from .managed_flink import LocalManagedFlink
from .simulator_service import SimulatorService

log = logging.getLogger("labkit.stack")

SWITCH_INTERVAL_S = 0.001  # GIL hand-over: 5 ms by default, which a request waits at every thread hop when busy
SERVICE_THREADS = 8  # a simulator start may wait up to 2 min; status, pages and logs must still answer


def build_components(s: Settings) -> list:
    """The stack's components, in start order."""
    return [AwsEndpoint(s.state_dir, s.aws_port), LambdaRuntime(s), Inbox(s), LocalManagedFlink(s), SimulatorService(s)]


class Stack:
    def __init__(self, s: Settings):
        self.settings = s
        self.components = build_components(s)
        self._endpoint = next(c for c in self.components if isinstance(c, AwsEndpoint))
        self.started_at = time.time()
        self.stopping = threading.Event()
        self.app = self._build_app()
        self._http = None

    def _build_app(self) -> Flask:
        app = Flask("labkit")

        @app.get("/health")
        def health():
            return jsonify(ok=True, pid=os.getpid())

        @app.get("/api/status")
        def status():
            return jsonify(self.status())

        for component in self.components:
            if component.blueprint is not None:
                app.register_blueprint(component.blueprint)
        return app

    def status(self) -> dict:
        s = self.settings
        report = {
            "running": True,
            "pid": os.getpid(),
            "target": "local",
            "region": s.region,
            "endpoint": s.endpoint_url,
            "service_url": s.service_url,
            "state_dir": str(s.state_dir),
            "uptime_s": round(time.time() - self.started_at, 1),
            "notices": [notice for notice in [persistence.notice(s.state_dir), self._endpoint.recovery] if notice],
            "components": {},
        }
        for component in self.components:
            report["components"][component.name] = component.status()
        return report

    def run(self) -> None:
        started = []
        try:
            for component in self.components:
                component.start()
                started.append(component)
            self._serve()
            log.info("stack ready: %s", json.dumps(self.status()))
            self.stopping.wait()
        finally:
            self._stop_serving()
            for component in reversed(started):
                try:
                    component.stop()
                except Exception:  # keep stopping the others; the log names the one that failed
                    log.exception("stopping %s failed", component.name)
            log.info("stack stopped")

    def _serve(self) -> None:
        """The service port: waitress, a pool of threads, 127.0.0.1 only."""
        self._http = create_server(self.app, host=LOCAL_HOST, port=self.settings.service_port,
                                   threads=SERVICE_THREADS, asyncore_use_poll=True, ident="labkit-service",
                                   expose_tracebacks=False)
        threading.Thread(target=self._http.run, name="service-http", daemon=True).start()

    def _stop_serving(self) -> None:
        """Close the listening socket and let the request threads end (the process exits after the stop)."""
        if self._http:
            self._http.close()
            self._http.task_dispatcher.shutdown(timeout=5)
            self._http = None


def main() -> None:
    s = settings()
    s.state_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    stack = Stack(s)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stack.stopping.set())
    stack.run()


if __name__ == "__main__":
    main()
