"""One Lambda execution environment: a Python process that runs ONE function's handler file.

The parent side (`Worker`) starts `python -I -S worker.py PACKAGES` with Lambda's environment variables
(no site-packages: the handler imports only the standard library, the runtime's PACKAGES folder of boto3 and
its dependencies, built by python_runtime.py, and its own code, as on AWS), sends it one
invocation at a time as a JSON line and reads the result back; it enforces the function's timeout and
formats the invocation's log the way Lambda does (START / END / REPORT). The child side (`serve`, run
when this file is executed) imports the handler from the unzipped code, calls it with the event and a
context object, and captures everything it prints or logs. This file uses only the standard library at
import time, so the child stays as bare as a Lambda runtime.
"""
from __future__ import annotations

import importlib
import json
import logging
import math
import os
import queue
import subprocess
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

INIT_TIMEOUT_S = 10  # Lambda's limit for the init phase
LOCAL_KEY = "labkit-local"  # placeholder credentials: the local endpoint accepts any key


@dataclass(frozen=True)
class FunctionSpec:
    """What an execution environment runs: the function's configuration and its unzipped code."""

    name: str
    arn: str
    handler: str  # "module.function"
    runtime: str
    timeout_s: float
    memory_mb: int
    environment: tuple[tuple[str, str], ...]
    code_dir: Path


@dataclass(frozen=True)
class Invocation:
    request_id: str
    payload: bytes  # the handler's JSON result, or Lambda's error document
    function_error: str | None  # "Unhandled" when the handler raised, timed out or its process died
    log: str  # this invocation's log, START to REPORT


def _iso_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def lambda_environment(spec: FunctionSpec, region: str, endpoint_url: str, log_stream: str) -> dict[str, str]:
    """The process environment of a Lambda function, pointed at the local endpoint.

    The function's own variables come first; Lambda's reserved ones cannot be overridden, like on AWS.
    boto3 in the handler reads AWS_ENDPOINT_URL, so plain `boto3.client("dynamodb")` reaches the local
    endpoint without a code change; no shared config or credentials file of the machine leaks in."""
    return {
        **dict(spec.environment),
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "_HANDLER": spec.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": LOCAL_KEY,
        "AWS_SECRET_ACCESS_KEY": LOCAL_KEY,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


class Worker:
    """A running execution environment of one function version (parent side)."""

    def __init__(self, spec: FunctionSpec, region: str, endpoint_url: str, packages: Path, on_stray_output):
        self.spec = spec
        self.log_stream = f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{uuid.uuid4().hex}"
        self.last_used = time.monotonic()
        self._replies: queue.Queue = queue.Queue()
        started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", __file__, str(packages)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=spec.code_dir, env=lambda_environment(spec, region, endpoint_url, self.log_stream),
            text=True, encoding="utf-8",
        )
        threading.Thread(target=self._read_replies, daemon=True, name=f"lambda-{spec.name}-out").start()
        threading.Thread(target=self._forward_stderr, args=(on_stray_output,), daemon=True,
                         name=f"lambda-{spec.name}-err").start()
        ready = self._reply(INIT_TIMEOUT_S)
        self.init_ms = (time.monotonic() - started) * 1000
        if ready is None:  # stopped, so that a late "ready" never passes for an invocation's reply
            status = "timeout" if self.alive else f"error, exit status {self.process.poll()}"
            self.stop(force=True)
            self.init_log = f"INIT_REPORT Init Duration: {self.init_ms:.2f} ms\tStatus: {status}\n"
        else:
            self.init_log = ready["log"]
        self._first = True

    def _read_replies(self) -> None:
        for line in self.process.stdout:
            self._replies.put(json.loads(line))
        self._replies.put(None)  # the process ended (serve() keeps everything else off this pipe)

    def _forward_stderr(self, sink) -> None:
        for line in self.process.stderr:  # only what bypasses Python's sys.stderr (crashes, C libraries)
            sink(self, line.rstrip("\n"))

    def _reply(self, timeout_s: float) -> dict | None:
        try:
            return self._replies.get(timeout=timeout_s)
        except queue.Empty:
            return None

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def invoke(self, event_json: str) -> Invocation:
        """Run the handler once; never raises for the handler's own failures (they are the result)."""
        request_id, timeout_s = str(uuid.uuid4()), self.spec.timeout_s
        started = time.monotonic()
        request = {"request_id": request_id, "event": event_json, "function_arn": self.spec.arn,
                   "deadline_ms": time.time() * 1000 + timeout_s * 1000}
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            reply = self._reply(timeout_s)
        except OSError:  # the process is gone
            reply = None
        duration_ms = (time.monotonic() - started) * 1000
        self.last_used = time.monotonic()
        if reply is not None:
            body, error, output = reply["payload"], reply["error"], reply["log"]
        else:
            if self.alive:  # no answer in time: Lambda stops the environment
                self.stop(force=True)
                error_type = "Sandbox.Timedout"
                message = f"{_iso_now()} {request_id} Task timed out after {timeout_s:.2f} seconds"
            else:
                error_type = "Runtime.ExitError"
                message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {self.process.wait()}"
            body = json.dumps({"errorType": error_type, "errorMessage": message})
            error, output = "Unhandled", message + "\n"
        return Invocation(request_id, body.encode("utf-8"), error, self._log(request_id, output, duration_ms))

    def _peak_memory_mb(self) -> str:
        """The process's peak resident memory (Linux's VmHWM), as Lambda's "Max Memory Used"."""
        try:
            with open(f"/proc/{self.process.pid}/status") as status:
                return next(str(int(line.split()[1]) // 1024) for line in status if line.startswith("VmHWM:"))
        except (OSError, StopIteration, ValueError):
            return "?"

    def _log(self, request_id: str, output: str, duration_ms: float) -> str:
        init = ""
        if self._first:
            output, init = self.init_log + output, f"\tInit Duration: {self.init_ms:.2f} ms"
            self._first = False
        return (f"START RequestId: {request_id} Version: $LATEST\n{output}END RequestId: {request_id}\n"
                f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
                f"Billed Duration: {math.ceil(duration_ms)} ms\tMemory Size: {self.spec.memory_mb} MB\t"
                f"Max Memory Used: {self._peak_memory_mb()} MB{init}\n")

    def stop(self, force: bool = False) -> None:
        """End the process: politely (stdin closed, 2 s to finish), or at once with `force`."""
        if not self.alive:
            return
        try:
            if not force:
                self.process.stdin.close()
                self.process.wait(timeout=2)
                return
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.process.kill()
        self.process.wait(timeout=5)


# ---- child side: runs inside the execution environment ------------------------------------------------


class _Capture:
    """sys.stdout / sys.stderr of the handler: collects what one invocation writes."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.request_id = ""

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def take(self) -> str:
        text, self.parts = "".join(self.parts), []
        return text if not text or text.endswith("\n") else text + "\n"


class _LambdaFormatter(logging.Formatter):
    """Lambda's Python log line: [LEVEL]<tab>time<tab>request id<tab>message."""

    def __init__(self, capture: _Capture):
        super().__init__()
        self.capture = capture

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
        text = (f"[{record.levelname}]\t{moment.replace('+00:00', 'Z')}\t{self.capture.request_id}\t"
                f"{record.getMessage()}")
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class _Context:
    """The `context` argument of a Lambda handler."""

    def __init__(self, request: dict):
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = request["function_arn"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.aws_request_id = request["request_id"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = request["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def _handler_frames(error: BaseException):
    """The error's traceback without the runtime's own frames (Lambda shows only the handler's)."""
    frames = error.__traceback__
    while frames is not None and frames.tb_frame.f_code.co_filename == __file__:
        frames = frames.tb_next
    return frames


def _error_document(error: BaseException, error_type: str | None = None, request_id: str = "") -> dict:
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(traceback.extract_tb(_handler_frames(error))),
    }


def _failed(capture: _Capture, failure: Exception, request_id: str, error_type: str | None = None) -> str:
    """Log an invocation's error the way Lambda does and return its error document."""
    document = _error_document(failure, error_type, request_id)
    capture.write(f"[ERROR] {document['errorType']}: {document['errorMessage']}\n"
                  + "".join(traceback.format_exception(type(failure), failure, _handler_frames(failure))))
    return json.dumps(document)


def _run(handler, request: dict, capture: _Capture) -> tuple[str, str | None]:
    """Call the handler once: (JSON result, None) or (error document, "Unhandled")."""
    try:
        result = handler(json.loads(request["event"]), _Context(request))
    except Exception as failure:
        return _failed(capture, failure, request["request_id"]), "Unhandled"
    try:
        return json.dumps(result), None
    except (TypeError, ValueError) as failure:
        return _failed(capture, failure, request["request_id"], "Runtime.MarshalError"), "Unhandled"


def _load_handler(capture: _Capture):
    """The handler function, or the error document every invocation returns when it cannot be loaded."""
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        document = _error_document(error, "Runtime.ImportModuleError")
        document["errorMessage"] = f"Unable to import module '{module_name}': {error}"
    else:
        handler = getattr(module, function_name, None)
        if callable(handler):
            return handler, None
        document = {"errorMessage": f"Handler '{function_name}' missing on module '{module_name}'",
                    "errorType": "Runtime.HandlerNotFound", "requestId": "", "stackTrace": []}
    capture.write(f"[ERROR] {document['errorType']}: {document['errorMessage']}\n")
    return None, document


def serve() -> None:
    """The execution environment's loop: one JSON request per stdin line, one JSON reply per stdout line."""
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # stray writes to fd 1 (C code) must not corrupt the replies
    capture = _Capture()
    sys.stdout = sys.stderr = capture
    root = logging.getLogger()
    root.handlers[:] = []
    handler_stream = logging.StreamHandler(capture)
    handler_stream.setFormatter(_LambdaFormatter(capture))
    root.addHandler(handler_stream)
    root.setLevel(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "WARNING").upper())
    sys.path[:0] = [os.environ["LAMBDA_TASK_ROOT"], sys.argv[1]]  # the function's code, then boto3 & co.
    import site  # under -S only the builtins that site adds on AWS too (exit, quit, help, ...), no site-packages

    site.setquit()
    site.setcopyright()
    site.sethelper()

    handler, init_error = _load_handler(capture)
    replies.write(json.dumps({"ready": True, "log": capture.take()}) + "\n")
    replies.flush()
    for line in sys.__stdin__:
        request = json.loads(line)
        capture.request_id = request["request_id"]
        if init_error is not None:
            body, error = json.dumps({**init_error, "requestId": request["request_id"]}), "Unhandled"
        else:
            body, error = _run(handler, request, capture)
        replies.write(json.dumps({"payload": body, "error": error, "log": capture.take()}) + "\n")
        replies.flush()


if __name__ == "__main__":
    serve()
