"""The stack component "lambda": moto holds the Lambda control plane, this runs the functions.

- `invoke` (the console's Test button, boto3 `invoke` with RequestResponse, Event or DryRun) runs the
  handler through an execution environment (worker.py) instead of moto's Docker containers, with only what
  AWS's python3.11 runtime holds: the standard library, boto3 and its dependencies (python_runtime.py);
- event source mappings created, updated, disabled or deleted with the ordinary boto3 calls start and
  stop their pollers (esm.py) at once; deleting a stream makes its mappings start over on the next one;
- function logs go to CloudWatch Logs on the local endpoint and to a file per function (logs.py);
- functions and mappings live in moto's Lambda backend, which the AWS endpoint makes durable (its journal
  and snapshots, durable_endpoint.py); mapping UUIDs are kept, so the checkpoints in the state folder match.
Execution environments are reused while warm, replaced when the function's code or configuration
changes, and stopped after IDLE_TTL_S without use.
"""
from __future__ import annotations

import base64
import functools
import io
import json
import logging
import os
import shutil
import threading
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor

from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.backends import get_backend
from moto.core.exceptions import JsonRESTError
from moto.kinesis.models import KinesisBackend

from ...config import Settings
from .. import moto_patches
from ..moto_patches import Patch
from . import python_runtime
from .esm import Mappings
from .logs import FunctionLogs
from .worker import FunctionSpec, Invocation, Worker

IDLE_TTL_S = 300  # a warm environment unused this long is stopped
MAX_IDLE = 8  # warm environments kept across all functions
LOG_TAIL_BYTES = 4096  # what `invoke(LogType="Tail")` returns, like Lambda

log = logging.getLogger(__name__)


class _CannotRun(Exception):
    """The function's configuration or code cannot run; Lambda reports it as the invocation's error."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type


class LambdaRuntime:
    name = "lambda"
    blueprint = None

    def __init__(self, s: Settings):
        self.settings = s
        self.folder = s.state_dir / "lambda"
        self.packages = self.folder / "python3.11-runtime"  # boto3 and its dependencies only (python_runtime.py)
        self.logs = FunctionLogs(self.folder / "logs")
        self.mappings = Mappings(self.folder / "checkpoints", s.endpoint_url, self._invoke_for_mapping, self.logs.note)
        self._idle: list[Worker] = []
        self._busy: set[Worker] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._events = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lambda-event")

    def start(self) -> None:
        python_runtime.build(self.packages)
        moto_patches.attach(self.name, self)  # after the endpoint's recovery, which must not start pollers one by one
        self.mappings.sync()
        threading.Thread(target=self._housekeeping, daemon=True, name="lambda-housekeeping").start()
        log.info("Lambda runtime ready")

    def stop(self) -> None:
        self._stopping.set()
        self.mappings.stop_all()
        moto_patches.detach(self.name)
        self._events.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            workers, self._idle, self._busy = [*self._idle, *self._busy], [], set()
        for worker in workers:
            worker.stop()
        log.info("Lambda runtime stopped")

    def status(self) -> dict:
        with self._lock:
            environments = len(self._idle) + len(self._busy)
        return {"execution_environments": environments, "mappings": self.mappings.status(), "logs": str(self.logs.folder)}

    # ---- invoking -----------------------------------------------------------------------------------
    def invoke(self, fn: LambdaFunction, event_json: str) -> Invocation:
        """Run the function once, synchronously, and log the invocation."""
        try:
            spec = self._spec(fn)
        except _CannotRun as error:
            document = {"errorType": error.error_type, "errorMessage": str(error)}
            result = Invocation(str(uuid.uuid4()), json.dumps(document).encode(), "Unhandled",
                                f"[ERROR] {error.error_type}: {error}\n")
            self.logs.write(fn.account_id, fn.region, fn.function_name, "labkit/configuration", result.log)
            return result
        worker = self._acquire(spec)
        try:
            result = worker.invoke(event_json)
        finally:
            self._release(worker)
        self.logs.write(fn.account_id, fn.region, fn.function_name, worker.log_stream, result.log)
        return result

    def invoke_later(self, fn: LambdaFunction, event_json: str) -> None:
        """InvocationType=Event: queue the invocation and return at once."""
        def run() -> None:
            try:
                self.invoke(fn, event_json)
            except Exception:
                log.exception("asynchronous invocation of %s failed", fn.function_name)

        self._events.submit(run)

    def _invoke_for_mapping(self, account: str, region: str, function_arn: str, event_for_role) -> Invocation | None:
        try:
            fn = get_backend("lambda")[account][region].get_function(function_arn)
        except Exception:  # deleted: the mapping waits, like on AWS
            return None
        return self.invoke(fn, event_for_role(fn.role))

    def _spec(self, fn: LambdaFunction) -> FunctionSpec:
        """The function's execution spec, its zip unpacked once per code version."""
        if not str(fn.run_time or "").startswith("python"):
            raise _CannotRun("Runtime.InvalidRuntime", f"labkit runs Python functions only, not {fn.run_time!r}.")
        if not fn.handler or "." not in fn.handler:
            raise _CannotRun("Runtime.InvalidEntrypoint", f"Handler {fn.handler!r} must look like 'module.function'.")
        code = getattr(fn, "code_bytes", b"")
        code_dir = self.folder / "code" / fn.function_name / getattr(fn, "code_digest", "none")[:16]
        if not code_dir.exists():
            unpacking = code_dir.with_name(f"{code_dir.name}.{uuid.uuid4().hex}.partial")
            try:
                zipfile.ZipFile(io.BytesIO(code)).extractall(unpacking)
                os.replace(unpacking, code_dir)
            except zipfile.BadZipFile:
                raise _CannotRun("InvalidZipFileException", "The function's code is not a zip file; "
                                 "deploy it again with a zip of the handler file.") from None
            except OSError:  # another invocation unpacked the same code first
                shutil.rmtree(unpacking, ignore_errors=True)
        return FunctionSpec(
            name=fn.function_name, arn=fn.function_arn, handler=fn.handler, runtime=fn.run_time,
            timeout_s=float(fn.timeout), memory_mb=int(fn.memory_size),
            environment=tuple(sorted((k, str(v)) for k, v in (fn.environment_vars or {}).items())),
            code_dir=code_dir,
        )

    # ---- execution environments ---------------------------------------------------------------------
    def _acquire(self, spec: FunctionSpec) -> Worker:
        with self._lock:
            if not self.packages.exists():  # invoked without start() (tests of the moto patches)
                python_runtime.build(self.packages)
            for worker in self._idle:
                if worker.spec == spec and worker.alive:
                    self._idle.remove(worker)
                    self._busy.add(worker)
                    return worker
            outdated = [w for w in self._idle if w.spec.arn == spec.arn]
            self._idle = [w for w in self._idle if w not in outdated]
        for worker in outdated:
            worker.stop()
        region = spec.arn.split(":")[3]
        worker = Worker(spec, region, self.settings.endpoint_url, self.packages, self._stray_output)
        with self._lock:
            self._busy.add(worker)
        return worker

    def _release(self, worker: Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            keep = worker.alive and not self._stopping.is_set()
            if keep:
                self._idle.append(worker)
                self._idle.sort(key=lambda w: w.last_used)
            surplus = self._idle[:-MAX_IDLE] if len(self._idle) > MAX_IDLE else []
            self._idle = self._idle[len(surplus):]
        for extra in ([] if keep else [worker]) + surplus:
            extra.stop()

    def _stray_output(self, worker: Worker, line: str) -> None:
        _, _, _, region, account, *_ = worker.spec.arn.split(":")
        self.logs.write(account, region, worker.spec.name, worker.log_stream, line)

    def forget_function(self, function_name: str) -> None:
        """The function was deleted: stop its warm environments."""
        with self._lock:
            gone = [w for w in self._idle if w.spec.name == function_name]
            self._idle = [w for w in self._idle if w not in gone]
        for worker in gone:
            worker.stop()

    def _housekeeping(self) -> None:
        """Every 10 s: stop environments idle too long; start mappings whose stream exists by now."""
        while not self._stopping.wait(10):
            self.mappings.sync()
            with self._lock:
                cold = [w for w in self._idle if time.monotonic() - w.last_used > IDLE_TTL_S or not w.alive]
                self._idle = [w for w in self._idle if w not in cold]
            for worker in cold:
                worker.stop()


# ---- moto patches (entries of the registry in ../moto_patches.py) ------------------------------------------


def _invoke(fn: LambdaFunction, body, request_headers, response_headers) -> bytes:
    """LambdaFunction.invoke, run by labkit: same request and response as Lambda's Invoke API."""
    runtime = moto_patches.component(LambdaRuntime.name)
    event_json = (body.decode("utf-8") if isinstance(body, bytes) else body) or "{}"
    try:
        json.loads(event_json)
    except ValueError as error:
        raise JsonRESTError("InvalidRequestContentException", f"Could not parse request body into json: {error}")
    kind = request_headers.get("x-amz-invocation-type") or "RequestResponse"
    if kind == "DryRun":
        return b""
    if kind == "Event":
        runtime.invoke_later(fn, event_json)
        return b""
    result = runtime.invoke(fn, event_json)
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    response_headers["x-amz-executed-version"] = "$LATEST"
    tail = result.log.encode("utf-8")[-LOG_TAIL_BYTES:]
    response_headers["x-amz-log-result"] = base64.b64encode(tail).decode("ascii")
    return result.payload


def _then(original, action):
    """`original`, then `action(runtime, result, *args)` when the runtime is running."""
    @functools.wraps(original)
    def wrapper(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        runtime = moto_patches.component(LambdaRuntime.name, required=False)
        if runtime is not None:
            action(runtime, result, *args)
        return result

    return wrapper


def _sync_mappings(runtime: LambdaRuntime, *_) -> None:
    runtime.mappings.sync()


def _forget_function(runtime: LambdaRuntime, _, name_or_arn: str, *__) -> None:
    runtime.forget_function(_function_name(name_or_arn))


def _restart_stream_mappings(runtime: LambdaRuntime, stream, *_) -> None:
    runtime.mappings.stream_deleted(stream.arn)


def patches() -> list[Patch]:
    """Route moto's Lambda invocations and mapping changes to the running runtime."""
    mapping_changed = ("stock moto polls nothing for event source mappings (it invokes inside PutRecord); "
                       "here the runtime's pollers start and stop with the mapping")
    return [
        Patch(LambdaFunction, "invoke", _invoke, "stock moto runs a function in Docker; here the labkit runtime "
              "runs the handler file in a worker process", "test_invoke_runs_the_handler_file"),
        *(Patch(LambdaBackend, method, _then(getattr(LambdaBackend, method), _sync_mappings), mapping_changed,
                "test_each_change_to_a_mapping_reaches_its_pollers")
          for method in ("create_event_source_mapping", "update_event_source_mapping",
                         "delete_event_source_mapping")),
        Patch(LambdaBackend, "delete_function", _then(LambdaBackend.delete_function, _forget_function),
              "a deleted function's warm execution environments must stop",
              "test_deleting_a_function_stops_its_environments"),
        Patch(KinesisBackend, "delete_stream", _then(KinesisBackend.delete_stream, _restart_stream_mappings),
              "the mappings of a deleted stream must read the next stream of that name from its start (esm.py)",
              "test_deleting_a_stream_restarts_its_mappings"),
    ]


def _function_name(name_or_arn: str) -> str:
    """MyFunction from MyFunction, MyFunction:qualifier or arn:aws:lambda:region:account:function:MyFunction[:q]."""
    return name_or_arn.split(":")[6] if name_or_arn.startswith("arn:") else name_or_arn.split(":")[0]
