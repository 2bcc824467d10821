"""Waits that show progress and always end: with the condition, or with a message."""
from __future__ import annotations

import time
from typing import Callable

from tqdm.auto import tqdm

from .errors import WaitTimedOut


def wait_until(condition: Callable[[], object], timeout_s: float, what: str, quiet: bool = False,
               interval_s: float = 0.25, on_timeout: str = "") -> object:
    """Poll `condition` until it returns something truthy; raise WaitTimedOut after `timeout_s`."""
    start = time.monotonic()
    with tqdm(total=round(timeout_s), desc=f"waiting for {what}", unit="s", disable=quiet, leave=False) as bar:
        while True:
            result = condition()
            if result:
                return result
            elapsed = time.monotonic() - start
            if elapsed >= timeout_s:
                raise WaitTimedOut(f"gave up waiting for {what} after {timeout_s:.0f} s. {on_timeout}".strip())
            bar.update(round(elapsed) - bar.n)
            time.sleep(interval_s)
