"""Waits that show progress and always end: with the condition, or with a message."""
from __future__ import annotations

import sys
import time
from typing import Callable

from tqdm.auto import tqdm

from .errors import WaitTimedOut

IN_KERNEL = any(kind.__module__ == "tqdm.notebook" for kind in tqdm.__mro__)  # tqdm.auto chose widgets
PIPE_INTERVAL_S = 30.0


def bar_settings() -> dict:
    """tqdm settings for where the bar goes: a widget in a Jupyter kernel and a live bar on a terminal, as
    tqdm draws them; on a pipe or file (a log, `make lab | tee`), a line only for a wait longer than
    PIPE_INTERVAL_S and then one every PIPE_INTERVAL_S, instead of one line per tick."""
    if IN_KERNEL or sys.stderr.isatty():
        return {}
    return {"delay": PIPE_INTERVAL_S, "mininterval": PIPE_INTERVAL_S}


def wait_until(condition: Callable[[], object], timeout_s: float, what: str, quiet: bool = False,
               interval_s: float = 0.25, on_timeout: str = "") -> object:
    """Poll `condition` until it returns something truthy; raise WaitTimedOut after `timeout_s`."""
    start = time.monotonic()
    with tqdm(total=round(timeout_s), desc=f"waiting for {what}", unit="s", disable=quiet, leave=False,
              **bar_settings()) as bar:
        while True:
            result = condition()
            if result:
                return result
            elapsed = time.monotonic() - start
            if elapsed >= timeout_s:
                raise WaitTimedOut(f"gave up waiting for {what} after {timeout_s:.0f} s. {on_timeout}".strip())
            bar.update(round(elapsed) - bar.n)
            time.sleep(interval_s)
