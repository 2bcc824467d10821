"""Start, stop and ask about the local stack from any process (CLI, notebook kernel, test)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import psutil

from .. import stack_api
from ..config import Settings, settings
from ..errors import LabError, StackNotRunning, WaitTimedOut
from ..progress import wait_until

START_TIMEOUT_S = 60
STOP_BASE_S = 90  # the stack without Flink apps: Lambda workers, the simulator, the Flink cluster, saving state


def _pid_file(s: Settings):
    return s.state_dir / "stack.pid"


def _log_file(s: Settings):
    return s.state_dir / "stack.log"


def is_running(s: Settings | None = None) -> bool:
    try:
        stack_api.get("/health", timeout_s=2, s=s)
    except LabError:
        return False
    return True


def status(s: Settings | None = None) -> dict:
    """The stack's status; when it is down, says so and names the command that starts it."""
    s = s or settings()
    try:
        return stack_api.get("/api/status", timeout_s=10, s=s)
    except StackNotRunning:
        return {"running": False, "endpoint": s.endpoint_url, "state_dir": str(s.state_dir),
                "hint": str(StackNotRunning())}


def _tail(path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def up(quiet: bool = False) -> dict:
    """Start the local stack in the background if it is not running; wait until it is healthy."""
    s = settings()
    if is_running(s):
        return status(s)
    s.state_dir.mkdir(parents=True, exist_ok=True)
    log = open(_log_file(s), "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "labkit.local.stack"],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: `down` can always stop all of it
        env=dict(os.environ),
    )
    log.close()
    _pid_file(s).write_text(str(process.pid))

    def healthy() -> bool:
        if process.poll() is not None:
            raise StackNotRunning(
                f"the stack exited with code {process.returncode} while starting; log {_log_file(s)}:\n"
                + _tail(_log_file(s))
            )
        return is_running(s)

    wait_until(healthy, timeout_s=START_TIMEOUT_S, what="local stack to become healthy", quiet=quiet,
               on_timeout=f"see the log {_log_file(s)}")
    return status(s)


def _reap(pid: int) -> None:
    """Collect the exit status if the stack is our own child (else it would linger as a zombie)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _pid_alive(pid: int) -> bool:
    _reap(pid)
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _group_alive(pgid: int) -> bool:
    """True while any live (non-zombie) process is left in the stack's process group."""
    _reap(pgid)
    for process in psutil.process_iter(["status"]):
        try:
            if os.getpgid(process.pid) == pgid and process.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return False


def stop_timeout_s(s: Settings | None = None) -> float:
    """How long a clean stop may take: each running Flink app first stops with a snapshot."""
    from ..resources.apps import APP_FOLDERS, STOP_TIMEOUT_S as APP_STOP_TIMEOUT_S

    try:
        apps = stack_api.get("/api/status", timeout_s=10, s=s)["components"]["flink"]["applications"]
        running = sum(app.get("status") not in ("READY", None) for app in apps.values())
    except (LabError, KeyError):  # it does not answer (or not as expected): allow for every lab app
        running = len(APP_FOLDERS)
    return STOP_BASE_S + running * APP_STOP_TIMEOUT_S


def down(quiet: bool = False) -> bool:
    """Stop the stack and everything it started. Returns False when it was not running."""
    s = settings()
    pid_file = _pid_file(s)
    pid = int(pid_file.read_text()) if pid_file.exists() else None
    if pid is None or not _group_alive(pid):
        pid_file.unlink(missing_ok=True)
        return False
    if _pid_alive(pid):
        timeout_s = stop_timeout_s(s)
        os.kill(pid, signal.SIGTERM)
        try:
            wait_until(lambda: not _pid_alive(pid), timeout_s=timeout_s, what="local stack to stop",
                       quiet=quiet, on_timeout="stopping it by force")
        except WaitTimedOut:
            pass
    if _group_alive(pid):  # anything left in the stack's process group goes too
        os.killpg(pid, signal.SIGKILL)
        wait_until(lambda: not _group_alive(pid), timeout_s=10, what="leftover processes to exit", quiet=True)
        from .flink_cluster import FlinkCluster  # its processes run in sessions of their own

        FlinkCluster(s.state_dir / "flink", s.flink_port).stop()
    pid_file.unlink(missing_ok=True)
    return True
