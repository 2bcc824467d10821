"""The local AWS API endpoint: moto in server mode on 127.0.0.1, with labkit's Kinesis fixes."""
from __future__ import annotations

import logging
from pathlib import Path

from moto.server import ThreadedMotoServer

from . import kinesis_fixes, persistence
from ..config import LOCAL_HOST

log = logging.getLogger(__name__)


class AwsEndpoint:
    """moto's server in this process; its state is restored at start and saved at stop."""

    name = "aws"
    blueprint = None

    def __init__(self, state_dir: Path, port: int):
        self.state_dir = state_dir
        self.port = port
        self.url = f"http://{LOCAL_HOST}:{port}"
        self.restored = False
        self._server: ThreadedMotoServer | None = None

    def start(self) -> None:
        kinesis_fixes.apply()
        self.restored = persistence.restore(self.state_dir)
        self._server = ThreadedMotoServer(ip_address=LOCAL_HOST, port=self.port, verbose=False)
        self._server.start()
        log.info("AWS endpoint on %s (state restored: %s)", self.url, self.restored)

    def stop(self) -> None:
        if self._server:
            self._server.stop()
            self._server = None
        saved = persistence.save(self.state_dir)
        log.info("AWS endpoint state saved to %s", saved)

    def status(self) -> dict:
        return {"endpoint": self.url, "restored_state": self.restored}
