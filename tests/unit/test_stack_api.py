"""The one client of the stack's HTTP API: every failure is a sentence, and it is the only way in."""
from __future__ import annotations

import ast
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from labkit import inbox, simulate, stack_api
from labkit.errors import BadParameter, LabError, ResourceMissing, StackNotRunning
from labkit.local import control
from labkit.resources import apps
from tests.conftest import free_port

LABKIT = Path(__file__).resolve().parents[2] / "labkit"
HTTP_CLIENTS = ("urllib.request", "http.client", "requests", "httpx", "urllib3", "aiohttp")
FLINK_REST = LABKIT / "local" / "flink_cluster.py"  # Flink's own REST API on the Flink port, not the stack's


class _FakeStack(BaseHTTPRequestHandler):
    """Answers each request with the (status, body, delay) the test put in `answers` for its path."""

    answers: dict[str, tuple[int, bytes, float]] = {}
    seen: list[str] = []

    def _answer(self):
        self.seen.append(self.path)
        status, body, delay = self.answers[self.path.split("?")[0]]
        time.sleep(delay)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # a client that gave up waiting is the slow test's point
        pass


@pytest.fixture
def fake_stack(monkeypatch):
    server = _QuietServer(("127.0.0.1", 0), _FakeStack)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("LABKIT_SERVICE_PORT", str(server.server_address[1]))
    _FakeStack.answers, _FakeStack.seen = {}, []
    yield _FakeStack
    server.shutdown()
    server.server_close()


def _json(status: int, body: object, delay: float = 0.0) -> tuple[int, bytes, float]:
    return status, json.dumps(body).encode(), delay


def test_every_caller_says_start_the_stack_when_nothing_answers(monkeypatch):
    monkeypatch.setenv("LABKIT_SERVICE_PORT", str(free_port()))
    for call in (simulate.status, inbox.inbox, lambda: apps.logs("AnomalyDetection")):
        with pytest.raises(StackNotRunning, match=r"Start it with `labkit up`"):
            call()
    report = control.status()
    assert report["running"] is False and "labkit up" in report["hint"]
    assert control.is_running() is False


def test_the_stacks_refusal_reaches_the_caller_as_its_sentence(fake_stack):
    fake_stack.answers["/api/simulator/start"] = _json(400, {"error": "rate=0 is too low: use 1 to 1000 records/s."})
    with pytest.raises(BadParameter, match=r"^rate=0 is too low: use 1 to 1000 records/s\.$"):
        simulate.start("WindDataStream", rate=0)
    fake_stack.answers["/api/simulator/stop"] = _json(409, {"error": "the simulator is busy starting; try again."})
    with pytest.raises(LabError, match="busy starting") as refused:
        simulate.stop()
    assert not isinstance(refused.value, BadParameter)


def test_a_missing_stream_names_the_step_that_creates_it(fake_stack):
    fake_stack.answers["/api/simulator/start"] = _json(404, {"error": "no such stream", "missing_stream": "Gone"})
    with pytest.raises(ResourceMissing, match=r"'Gone' does not exist\. Create it with .*streams\.create"):
        simulate.start("Gone")


def test_an_answer_that_is_not_json_is_a_sentence_not_a_traceback(fake_stack):
    fake_stack.answers["/api/inbox"] = (500, b"<html>Internal Server Error</html>", 0.0)
    with pytest.raises(LabError, match=r"answered HTTP 500 to /api/inbox; its log .* says why"):
        inbox.inbox()
    fake_stack.answers["/api/status"] = (200, b"<html>not json</html>", 0.0)
    with pytest.raises(LabError, match="not JSON"):
        stack_api.get("/api/status")


def test_a_slow_stack_is_reported_as_slow_not_as_stopped(fake_stack):
    fake_stack.answers["/api/status"] = _json(200, {"running": True}, delay=2.0)
    with pytest.raises(LabError, match=r"did not answer /api/status within 0\.5 s") as slow:
        stack_api.get("/api/status", timeout_s=0.5)
    assert not isinstance(slow.value, StackNotRunning)


def test_query_parameters_skip_what_is_not_given(fake_stack):
    fake_stack.answers["/api/inbox"] = _json(200, [{"to": "me@example.com"}])
    assert inbox.inbox(to="me@example.com", topic="") == [{"to": "me@example.com"}]
    assert fake_stack.seen == ["/api/inbox?to=me%40example.com"]


def _imports(path: Path) -> set[str]:
    """Modules a file imports, relative imports resolved against the labkit package."""
    package = ".".join(path.relative_to(LABKIT.parent).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            found |= {module, *(f"{module}.{alias.name}" for alias in node.names)}
    return found


def test_one_labkit_module_talks_to_the_stack_over_http():
    talking = {path for path in LABKIT.rglob("*.py")
               if any(name == client or name.startswith(client + ".")
                      for name in _imports(path) for client in HTTP_CLIENTS)}
    assert talking == {LABKIT / "stack_api.py", FLINK_REST}, sorted(map(str, talking))


def test_no_resource_module_imports_the_local_stack():
    upward = {path.name: sorted(name for name in _imports(path) if name.startswith("labkit.local"))
              for path in (LABKIT / "resources").glob("*.py")}
    assert not {name: found for name, found in upward.items() if found}


def _flink_apps(**statuses: str) -> tuple[int, bytes, float]:
    apps_status = {name: {"status": status, "job_id": None, "error": None} for name, status in statuses.items()}
    return _json(200, {"running": True, "components": {"flink": {"applications": apps_status}}})


def test_down_waits_for_a_snapshot_of_each_running_app(fake_stack, monkeypatch):
    fake_stack.answers["/api/status"] = _flink_apps(AnomalyDetection="RUNNING", CalculateMaxSpeed="READY")
    assert control.stop_timeout_s() == control.STOP_BASE_S + apps.STOP_TIMEOUT_S
    fake_stack.answers["/api/status"] = _flink_apps(AnomalyDetection="RUNNING", CalculateMaxSpeed="UPDATING")
    assert control.stop_timeout_s() == control.STOP_BASE_S + 2 * apps.STOP_TIMEOUT_S
    fake_stack.answers["/api/status"] = _flink_apps()
    assert control.stop_timeout_s() == control.STOP_BASE_S
    monkeypatch.setenv("LABKIT_SERVICE_PORT", str(free_port()))  # no answer: allow for every lab app
    assert control.stop_timeout_s() == control.STOP_BASE_S + len(apps.APP_FOLDERS) * apps.STOP_TIMEOUT_S
