"""The local AWS API endpoint: moto's services on 127.0.0.1, with labkit's patches (moto_patches.py) applied.

moto's own server (werkzeug's development server) closes the connection after every response, so each AWS
call paid a new TCP connection and a new thread. The endpoint serves moto's application with waitress
instead: a pool of threads and keep-alive connections (BENCHMARKS.md, pipeline latency).
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from waitress.server import create_server

from . import moto_patches, persistence
from ..config import LOCAL_HOST

log = logging.getLogger(__name__)
SERVER_THREADS = 8  # concurrent requests: the simulator, Flink's source and sink, the Lambda pollers, notebooks


class AwsEndpoint:
    """moto's server in this process, patched; its state is restored at start and saved at stop, and the
    patches are undone after the save."""

    name = "aws"
    blueprint = None

    def __init__(self, state_dir: Path, port: int):
        self.state_dir = state_dir
        self.port = port
        self.url = f"http://{LOCAL_HOST}:{port}"
        self.restored = False
        self._server = None
        self._channels: dict = {}  # waitress's socket map: the listener, open connections, the wake-up channel
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        moto_patches.apply()
        self.restored = persistence.restore(self.state_dir)
        self._server = create_server(DomainDispatcherApplication(create_backend_app), map=self._channels,
                                     host=LOCAL_HOST, port=self.port, threads=SERVER_THREADS, connection_limit=1000,
                                     asyncore_use_poll=True, ident="labkit-aws", expose_tracebacks=False)
        self._thread = threading.Thread(target=self._server.run, name="aws-endpoint", daemon=True)
        self._thread.start()
        log.info("AWS endpoint on %s (state restored: %s)", self.url, self.restored)

    def stop(self) -> None:
        if self._server:
            while self._channels:
                for channel in list(self._channels.values()):
                    channel.handle_close()
            self._server.task_dispatcher.shutdown()
            self._thread.join(timeout=10)
            self._server = self._thread = None
        saved = persistence.save(self.state_dir)
        moto_patches.undo()
        log.info("AWS endpoint state saved to %s", saved)

    def status(self) -> dict:
        return {"endpoint": self.url, "restored_state": self.restored}
