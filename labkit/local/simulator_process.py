"""The simulator engine in a process of its own, so that sending never competes with the stack's AWS endpoint
for one Python interpreter (at 1,000 records/s the two together needed more than the one core a Python
process can use).

`SimulatorProcess` has the `Simulator`'s methods (start, stop, status). The first start runs
`python -m labkit.local.simulator_process FD LOG_DIR`; calls go over a socket pair, one at a time, and a
LabError raised there is raised here. The process ends when the stack stops it, or by itself when the socket
closes because the stack has gone.
"""
from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path

from ..errors import LabError
from ..simulator import STATUS_KEYS, Simulator

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 120.0  # longer than a Producer's stop (90 s)
EXIT_TIMEOUT_S = 10.0


def serve(pipe: Connection, log_dir: Path) -> None:
    """The process's main loop: run each call on its Simulator and send back (ok, result or error)."""
    simulator = Simulator(log_dir)
    try:
        while True:
            try:
                method, args = pipe.recv()
            except EOFError:  # the stack has gone
                return
            if method == "exit":
                return
            try:
                pipe.send((True, getattr(simulator, method)(*args)))
            except LabError as error:
                pipe.send((False, error))
            except Exception as error:  # the service reports it as unexpected; the log has the traceback
                log.exception("simulator call %s failed", method)
                pipe.send((False, RuntimeError(repr(error))))
    finally:
        simulator.stop()


class SimulatorProcess:
    """A Simulator that runs in a child process of the stack."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._pipe: Connection | None = None

    def start(self, *args) -> dict:
        return self._call("start", *args)

    def stop(self) -> dict:
        return self._call("stop") if self._alive() else self.status()

    def status(self) -> dict:
        return self._call("status") if self._alive() else {**dict.fromkeys(STATUS_KEYS), "state": "idle"}

    def close(self) -> None:
        """Stop the run and end the process."""
        with self._lock:
            if self._alive():
                try:
                    self._pipe.send(("exit", ()))
                except OSError:
                    pass
            self._end()

    def _alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _end(self) -> int | None:
        """Wait for the process to end (kill it after EXIT_TIMEOUT_S); its exit code."""
        if self._process is None:
            return None
        try:
            code = self._process.wait(EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.warning("the simulator process did not end within %g s; killing it", EXIT_TIMEOUT_S)
            self._process.kill()
            code = self._process.wait()
        self._pipe.close()
        self._process = self._pipe = None
        return code

    def _call(self, method: str, *args):
        with self._lock:
            if not self._alive():
                self._spawn()
            try:
                self._pipe.send((method, args))
                if not self._pipe.poll(CALL_TIMEOUT_S):
                    self._process.kill()
                    self._end()
                    raise LabError(f"the simulator did not answer {method!r} within {CALL_TIMEOUT_S:g} s, so "
                                   "its process was stopped; start the simulator again.")
                ok, result = self._pipe.recv()
            except (EOFError, OSError) as error:
                raise LabError(f"the simulator's process ended unexpectedly (exit code {self._end()}); start "
                               "the simulator again, and see the stack log if it happens again.") from error
        if not ok:
            raise result
        return result

    def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        with theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "labkit.local.simulator_process", str(theirs.fileno()), str(self.log_dir)],
                pass_fds=(theirs.fileno(),))
        self._pipe = Connection(ours.detach())


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    serve(Connection(int(sys.argv[1])), Path(sys.argv[2]))
