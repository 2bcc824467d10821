"""The local AWS API endpoint: moto's services on 127.0.0.1, with labkit's patches (moto_patches.py) applied.

moto's own server (werkzeug's development server) closes the connection after every response, so each AWS
call paid a new TCP connection and a new thread. The endpoint serves moto's application with waitress
instead: a pool of threads and keep-alive connections (BENCHMARKS.md, pipeline latency). Every call that
changes state is journaled before it is answered (durable_endpoint.py), so a crash loses nothing acknowledged.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from waitress.server import create_server

from . import moto_patches
from .durable_endpoint import DurableEndpoint
from ..config import LOCAL_HOST

log = logging.getLogger(__name__)
SERVER_THREADS = 8  # concurrent requests: the simulator, Flink's source and sink, the Lambda pollers, notebooks


class AwsEndpoint:
    """moto's server in this process, patched and journaled; its state is recovered at start (snapshot and
    journal) and snapshotted at a clean stop, and the patches are undone after that. Attached to the patch
    registry as "aws", so a component can ask for a snapshot after a change made outside any call."""

    name = "aws"
    blueprint = None

    def __init__(self, state_dir: Path, port: int):
        self.state_dir = state_dir
        self.port = port
        self.url = f"http://{LOCAL_HOST}:{port}"
        self.recovery: str | None = None
        self._durable: DurableEndpoint | None = None
        self._server = None
        self._channels: dict = {}  # waitress's socket map: the listener, open connections, the wake-up channel
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        moto_patches.apply()
        self._durable = DurableEndpoint(DomainDispatcherApplication(create_backend_app), self.state_dir)
        self.recovery = self._durable.recover()
        moto_patches.attach(self.name, self)
        self._server = create_server(self._durable, map=self._channels,
                                     host=LOCAL_HOST, port=self.port, threads=SERVER_THREADS, connection_limit=1000,
                                     asyncore_use_poll=True, ident="labkit-aws", expose_tracebacks=False)
        self._thread = threading.Thread(target=self._server.run, name="aws-endpoint", daemon=True)
        self._thread.start()
        log.info("AWS endpoint on %s (%s)", self.url, self.recovery or "clean start")

    def stop(self) -> None:
        if self._server:
            while self._channels:
                for channel in list(self._channels.values()):
                    channel.handle_close()
            self._server.task_dispatcher.shutdown()
            self._thread.join(timeout=10)
            self._server = self._thread = None
        saved = self._durable.snapshot()
        self._durable.close()
        moto_patches.detach(self.name)
        moto_patches.undo()
        log.info("AWS endpoint state saved to %s", saved)

    def snapshot(self) -> None:
        """Make the endpoint's current state durable (for changes made outside any call)."""
        self._durable.snapshot()

    def status(self) -> dict:
        return {"endpoint": self.url, "recovery": self.recovery}
