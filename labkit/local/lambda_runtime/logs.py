"""Where a function's log goes: CloudWatch Logs on the local endpoint (/aws/lambda/NAME, one log stream per
execution environment, like Lambda) and a plain file per function in the state folder."""
from __future__ import annotations

import threading
import time
from pathlib import Path

from moto.backends import get_backend

from ...config import iso_time


class FunctionLogs:
    def __init__(self, folder: Path):
        self.folder = folder
        self._lock = threading.Lock()

    def path(self, function_name: str) -> Path:
        return self.folder / f"{function_name}.log"

    def _append(self, function_name: str, lines: list[str]) -> None:
        stamp = iso_time(time.time() * 1000)
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.path(function_name), "a", encoding="utf-8") as handle:
            handle.writelines(f"{stamp} {line}\n" for line in lines)

    def write(self, account: str, region: str, function_name: str, log_stream: str, text: str) -> None:
        """One invocation's log, to CloudWatch Logs and to the function's file."""
        lines = text.splitlines() or [""]
        now_ms = int(time.time() * 1000)
        with self._lock:
            self._append(function_name, lines)
            logs = get_backend("logs")[account][region]  # looked up each time: a restore replaces backends
            group = f"/aws/lambda/{function_name}"
            logs.ensure_log_group(group)
            logs.ensure_log_stream(group, log_stream)
            logs.put_log_events(group, log_stream, [{"timestamp": now_ms, "message": line} for line in lines])

    def note(self, function_name: str, text: str) -> None:
        """A line from labkit's Lambda service itself (e.g. a discarded batch): the function's file only,
        as AWS keeps such events out of the function's log group."""
        with self._lock:
            self._append(function_name, [f"[labkit] {text}"])
