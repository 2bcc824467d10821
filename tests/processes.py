"""Ending processes the tests started, at once, as a power loss would (no module here sets anything on import)."""
from __future__ import annotations

from collections.abc import Sequence

import psutil


def kill_all(processes: Sequence[psutil.Process], timeout_s: float = 10.0) -> None:
    """SIGKILL every process at once, then wait up to `timeout_s` until they are gone."""
    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(processes, timeout=timeout_s)
