"""Crash safety for the local AWS endpoint: no call gets its answer before what it changed is on disk.

One mechanism for every service the endpoint holds. The endpoint's WSGI application is wrapped:
- a call that changes state (not Get*/List*/Describe*/Query/Scan…, not a Lambda invocation) runs alone
  among such calls, with moto's random generator seeded from a value kept with it and the models' clock
  fixed at its arrival (replay_clock.py); when it succeeded, the
  request (method, path, headers, body, time, seed) is appended to the write-ahead journal (journal.py) and
  the answer leaves only after the journal is fsynced (group commit);
- at start, the last snapshot (persistence.py) is loaded and the journal written after it is replayed
  in order into moto in this process, each request at its recorded time (replay_clock.py) with its seed, so
  sequence numbers, arrival times and generated ids come back as they were acknowledged;
- a snapshot compacts the journal: taken when the journal has grown past half the last snapshot's size
  (at least COMPACT_MIN_BYTES), at a clean stop, and when a stack component asks (the Flink runner after
  a job starts or stops, as those changes happen outside any call). While it is taken, calls wait.
Side effects outside moto are not replayed: a replayed Publish fills the inbox again (it lives in moto's
SNS state) but sends nothing anywhere else, and Lambda invocations are never journaled.
"""
from __future__ import annotations

import io
import logging
import pickle
import re
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs

from moto.moto_api._internal import mock_random

from . import journal as journal_files
from . import persistence, replay_clock
from .journal import Journal

log = logging.getLogger(__name__)
COMPACT_MIN_BYTES = 64 * 2**20
READ_ACTION = re.compile(r"(Get|List|Describe|Query|Scan|BatchGet|Head|Filter|Lookup|Check|Simulate)")
INVOCATION = re.compile(r"^/[^/]+/functions/[^/]+/invo(cations|ke-async)")  # Lambda Invoke and InvokeAsync: never replayed


def _action(environ: dict, body: bytes) -> str | None:
    """The API action of a JSON (X-Amz-Target) or query-protocol (Action=) request; None for REST calls."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.rsplit(".", 1)[-1]
    for source in (environ.get("QUERY_STRING", ""), body[:4096].decode("latin-1")):
        found = parse_qs(source).get("Action")
        if found:
            return found[0]
    return None


def changes_state(environ: dict, body: bytes) -> bool:
    """Whether the request may change the endpoint's state (and so must be journaled)."""
    path = environ.get("PATH_INFO", "")
    if path.startswith("/moto-api") or INVOCATION.match(path):
        return False
    action = _action(environ, body)
    if action is not None:
        return not READ_ACTION.match(action)
    return environ.get("REQUEST_METHOD") in ("PUT", "POST", "DELETE", "PATCH")


class Gate:
    """Calls pass side by side; a snapshot closes the gate and waits until none is inside."""

    def __init__(self):
        self._changed = threading.Condition()
        self._inside = 0
        self._closed = False

    @contextmanager
    def call(self):
        with self._changed:
            while self._closed:
                self._changed.wait()
            self._inside += 1
        try:
            yield
        finally:
            with self._changed:
                self._inside -= 1
                self._changed.notify_all()

    @contextmanager
    def alone(self):
        with self._changed:
            while self._closed:
                self._changed.wait()
            self._closed = True
            while self._inside:
                self._changed.wait()
        try:
            yield
        finally:
            with self._changed:
                self._closed = False
                self._changed.notify_all()


def _serve(app, environ: dict) -> tuple[str, list, bytes]:
    """Run the WSGI app to the end: (status, headers, body)."""
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer.update(status=status, headers=headers)

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return answer["status"], answer["headers"], body


class DurableEndpoint:
    """The endpoint's WSGI app with the journal in front; `recover()` once before serving."""

    def __init__(self, app, state_dir: Path):
        self.app = app
        self.state_dir = state_dir
        self.journal = Journal(state_dir / "journal")
        self.gate = Gate()
        self._in_order = threading.Lock()
        self._compacting = threading.Lock()
        self._compact_at = COMPACT_MIN_BYTES

    # -- serving -------------------------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if INVOCATION.match(path):  # runs a handler for seconds, which calls back in: outside the gate
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        entry = None
        with self.gate.call():
            if changes_state(environ, body):
                status, headers, answer, entry = self._change(environ, body)
            else:
                status, headers, answer = _serve(self.app, environ)
        if entry is not None:
            self.journal.wait_durable(entry)
            if self.journal.bytes_written > self._compact_at and not self._compacting.locked():
                threading.Thread(target=self.snapshot, name="aws-compact", daemon=True).start()
        start_response(status, headers)
        return [answer]

    def _change(self, environ: dict, body: bytes):
        recorded = {key: value for key, value in environ.items() if isinstance(value, str)}
        with self._in_order:
            seed = time.time_ns()
            mock_random.seed(seed)
            at = time.time()
            with replay_clock.frozen_at(at):
                status, headers, answer = _serve(self.app, environ)
            entry = None
            if status.startswith("2"):
                entry = self.journal.append(pickle.dumps(
                    {"at": at, "seed": seed, "environ": recorded, "body": body}, protocol=pickle.HIGHEST_PROTOCOL))
        return status, headers, answer, entry

    # -- snapshots and recovery ----------------------------------------------------------------------------

    def snapshot(self) -> Path:
        """Write every service's state and start a new journal generation; older generations go."""
        with self._compacting:
            with self.gate.alone():
                generation = self.journal.generation + 1
                data = persistence.encode(generation)
                self.journal.rotate()
            path = persistence.write(self.state_dir, data)
            self.journal.drop_before(generation)
            self._compact_at = max(COMPACT_MIN_BYTES, len(data) // 2)
            log.info("snapshot of %.1f MB written; journal generation %d", len(data) / 2**20, generation)
            return path

    def recover(self) -> str | None:
        """Load the last snapshot, replay the journal after it, and go on appending. Returns the sentence that
        says what was recovered after an unclean stop, or None after a clean one (or a first start)."""
        generation = persistence.restore(self.state_dir)
        folder = self.journal.folder
        pending = [g for g in journal_files.generations(folder) if g >= generation] if folder.exists() else []
        replayed = refused = 0
        for g in pending:
            for payload in journal_files.read(folder, g):
                replayed += 1
                refused += not self._replay(pickle.loads(payload))
        self.journal.open(max([generation, *pending]))
        if not replayed:
            return None
        self.snapshot()
        sentence = (f"The stack had not stopped cleanly; it recovered {persistence.describe()} by replaying "
                    f"{replayed:,} acknowledged calls after the last snapshot")
        if refused:
            sentence += f" ({refused} of them could not be applied again; see the stack log)"
        log.warning(sentence)
        return sentence + "."

    def _replay(self, entry: dict) -> bool:
        environ = dict(entry["environ"], **{"wsgi.input": io.BytesIO(entry["body"]), "wsgi.errors": sys.stderr,
                                            "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
                                            "wsgi.multithread": False, "wsgi.multiprocess": False,
                                            "wsgi.run_once": False})
        mock_random.seed(entry["seed"])
        with replay_clock.frozen_at(entry["at"], replaying=True):
            status, _, answer = _serve(self.app, environ)
        if not status.startswith("2"):
            log.warning("replaying %s %s gave %s: %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                        status, answer[:300])
        return status.startswith("2")

    def close(self) -> None:
        self.journal.close()
