"""A Flink session cluster on 127.0.0.1, built from the PyFlink distribution (pip package apache-flink).

One JobManager and one TaskManager with two task slots, sized for a 2-core 24 GB machine; the web
dashboard and REST API on http://127.0.0.1:<port>. Everything the cluster writes lives in `state_dir`:

    conf/          FLINK_CONF_DIR generated at start (config.yaml + the distribution's log4j files)
    log/           JobManager / TaskManager logs and stdout (*.out: rejected records are printed there)
    run/           process ids, so a later FlinkCluster on the same folder can stop the cluster
    checkpoints/   periodic checkpoints (every 5 s, hashmap state backend)
    savepoints/    one folder per job name: "snapshots" taken by stop_with_savepoint
    python/        the Python the jobs run with (flink_python.py): the standard library, apache-flink and its
                   own dependencies, and what the app's zip carries, as on Managed Flink; never the course's .venv

A job starts as Managed Flink starts one, from the property group kinesis.analytics.flink.run.options of its
runtime properties: python (main.py), jarfile, pyFiles, pyArchives, paths inside the app's folder. Its client
(main.py) and its Python workers both run with that Python, so a module the zip lacks fails the job here as on
AWS, and the submission's output (the traceback) goes to log/submissions.log.

The jobs reach Kinesis through the official Flink AWS Kinesis connector (flink/pom.xml builds it). Against
the local endpoint the cluster's JVMs run with CBOR off (moto speaks JSON only); the job's property group
"kinesis.client" carries the endpoint. The cluster only ever talks to the local endpoint, so its processes
get fixed dummy credentials instead of whatever the user's environment holds.

Every port configured here binds 127.0.0.1. In PyFlink's process mode each Python worker also talks to its
TaskManager over Beam Fn API gRPC servers that flink-python opens on all interfaces (NettyServerBuilder.forPort,
no address setting); the cluster's processes run with the LD_PRELOAD shim native/loopback_bind.so, which
turns such wildcard binds into loopback binds, and with java.net.preferIPv4Stack so Java binds IPv4 sockets.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import yaml
from pyflink.find_flink_home import _find_flink_home

from ..config import LOCAL_HOST
from ..errors import LabError
from ..progress import wait_until
from . import flink_python

CONNECTOR_JAR = "kinesis-connector.jar"
BUILD_CONNECTOR = "mvn -q -f flink/pom.xml package"
START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 30
SUBMIT_TIMEOUT_S = 180
SAVEPOINT_TIMEOUT_S = 180
PROCESSES = {"jobmanager": "jobmanager.sh", "taskmanager": "taskmanager.sh"}
JOB_ID = re.compile(r"JobID ([0-9a-f]{32})")
FINAL_STATES = {"FINISHED", "CANCELED", "FAILED"}
FAILING_STATES = {"FAILING", "RESTARTING"}
RUN_OPTIONS = "kinesis.analytics.flink.run.options"  # Managed Flink's group: python, jarfile, pyFiles, pyArchives
SUBMISSIONS_LOG = "submissions.log"

# Shaded AWS SDK v1 (FlinkKinesisConsumer) and AWS SDK v2 (KinesisStreamsSink) both speak CBOR to Kinesis by
# default. The connector relocates SDK v1, and its system property with it.
JVM_OPTIONS = ("-Daws.cborEnabled=false -Dorg.apache.flink.kinesis.shaded.com.amazonaws.sdk.disableCbor=true "
               "-Djava.net.preferIPv4Stack=true")
# Built by scripts/setup.sh: turns wildcard binds into loopback binds (flink-python's Beam channels to the
# Python workers listen on all interfaces and have no address setting).
LOOPBACK_SHIM = Path(__file__).resolve().parent / "native" / "loopback_bind.so"
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "labkit-local", "AWS_SECRET_ACCESS_KEY": "labkit-local"}


class FlinkError(LabError):
    """The Flink cluster or a job did not do what was asked; the message says what to do."""


def flink_home() -> Path:
    return Path(_find_flink_home())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOCAL_HOST, 0))
        return probe.getsockname()[1]


def port_in_use(port: int) -> bool:
    """True if a program listens on `port`. Like the servers that bind it, the probe ignores connections of a
    stopped one still in TIME_WAIT (they linger a minute after `labkit down`)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOCAL_HOST, port))
        except OSError:
            return True
    return False


def connector_jar(app_dir: Path) -> Path:
    """The Kinesis connector jar for an app: lib/ of an unpacked app zip, else flink/target/lib/ of the repo."""
    for candidate in (app_dir / "lib" / CONNECTOR_JAR, app_dir.parent / "target" / "lib" / CONNECTOR_JAR):
        if candidate.is_file():
            return candidate
    raise FlinkError(f"the Kinesis connector jar is missing for {app_dir}. Build it with `{BUILD_CONNECTOR}`.")


def run_options(properties_file: Path) -> dict[str, str]:
    """The job's group kinesis.analytics.flink.run.options (python, jarfile, pyFiles, pyArchives), {} if none."""
    try:
        groups = json.loads(Path(properties_file).read_text())
    except (OSError, ValueError):
        return {}
    return next((dict(g.get("PropertyMap") or {}) for g in groups if g.get("PropertyGroupId") == RUN_OPTIONS), {})


def _in_app(app_dir: Path, relative: str, option: str) -> Path:
    """A run option's path, inside the unpacked zip (as on Managed Flink), else inside flink/target/ of the repo
    (an app run straight from its source folder: Maven builds lib/ and dep/ there)."""
    for candidate in (app_dir / relative, app_dir.parent / "target" / relative):
        if candidate.exists():
            return candidate
    raise FlinkError(f"the run option {option}={relative} names a path that is not in the application's zip "
                     f"({app_dir}). Put it in the zip (rebuild with `{BUILD_CONNECTOR}`) or fix the property group "
                     f"{RUN_OPTIONS}.")


def submission_arguments(app_dir: Path, options: dict[str, str]) -> list[str]:
    """`flink run` arguments for Managed Flink's run options; without any, main.py and the connector jar."""
    arguments = ["--jarfile", str(_in_app(app_dir, options["jarfile"], "jarfile") if "jarfile" in options
                                  else connector_jar(app_dir))]
    for option, flag in (("pyFiles", "--pyFiles"), ("pyArchives", "--pyArchives")):
        if options.get(option):
            paths = [str(_in_app(app_dir, item.strip(), option)) for item in options[option].split(",") if item.strip()]
            arguments += [flag, ",".join(paths)]
    return [*arguments, "--python", str(_in_app(app_dir, options.get("python", "main.py"), "python"))]


def python_error(output: str) -> str | None:
    """The last Python exception in a job client's output ("ModuleNotFoundError: No module named 'krcf'"): the
    line that ends a traceback; None when the output holds no traceback."""
    error, in_traceback = None, False
    for line in output.splitlines():
        if line.startswith("Traceback (most recent call last):"):
            in_traceback = True
        elif in_traceback and line and not line[0].isspace():
            error, in_traceback = line.strip(), False
    return error


def failure_sentence(app: str, output: str) -> str | None:
    """Why a job's main.py ended, as a sentence; None when its output holds no Python error."""
    error = python_error(output)
    if error is None:
        return None
    sentence = f"the main.py of {app} stopped with {error}."
    if error.startswith(("ModuleNotFoundError", "ImportError")):
        sentence += (" Managed Flink runs an application with only its zip on top of apache-flink and its own "
                     "dependencies (no pip, no pyRequirements): the zip must carry the package, in a folder "
                     f"named by the run option pyFiles (group {RUN_OPTIONS}), as the lab's zips carry krcf in dep/.")
    return sentence


def _app_label(app_dir: Path) -> str:
    """The application an app folder belongs to: <apps>/<name>/v<version> when unpacked by the runner."""
    return app_dir.parent.name if re.fullmatch(r"v\d+", app_dir.name) else app_dir.name


class FlinkCluster:
    """Start, watch and stop the local session cluster; submit, snapshot and cancel jobs on it."""

    name = "flink"
    blueprint = None

    def __init__(self, state_dir: Path, port: int = 8081):
        self.state_dir = Path(state_dir)
        self.port = port
        self.url = f"http://{LOCAL_HOST}:{port}"
        self.conf_dir = self.state_dir / "conf"
        self.log_dir = self.state_dir / "log"
        self.run_dir = self.state_dir / "run"
        self.checkpoint_dir = self.state_dir / "checkpoints"
        self.savepoint_dir = self.state_dir / "savepoints"
        self.python_dir = self.state_dir / "python"

    # -- cluster ---------------------------------------------------------------------------------------

    def start(self, quiet: bool = False) -> dict:
        """Start the JobManager and TaskManager (no-op if they run); return when both slots are ready."""
        if self._running_processes():
            self.replace_lost_taskmanager()
            wait_until(self._slots_ready, START_TIMEOUT_S, "the Flink cluster", quiet=quiet,
                       on_timeout=f"Its processes run but {self.url} does not answer. Stop them with "
                                  "`labkit down` and start again.")
            return self.status()
        if port_in_use(self.port):
            raise FlinkError(f"port {self.port} on {LOCAL_HOST} is taken by another program, so the Flink "
                             "dashboard cannot use it. Stop that program or choose another port "
                             "(LABKIT_FLINK_PORT).")
        self._write_configuration(rpc_port=free_port(), python=flink_python.ensure(self.python_dir))
        for role, script in PROCESSES.items():
            self._spawn(role, script)
        try:
            wait_until(self._slots_ready, START_TIMEOUT_S, "the Flink cluster", quiet=quiet,
                       on_timeout=f"See the logs in {self.log_dir}.")
        except Exception:
            self.stop()
            raise
        return self.status()

    def stop(self) -> None:
        """Stop every process this cluster started (JobManager, TaskManager and their Python workers)."""
        for role in PROCESSES:
            process = self._process(role)
            if process is not None:
                self._terminate_group(process)
            (self.run_dir / f"{role}.json").unlink(missing_ok=True)

    def replace_lost_taskmanager(self) -> bool:
        """Start a new TaskManager when the JobManager runs but the TaskManager is gone (killed, crashed), as
        Managed Flink replaces a failed one; Flink then restores the jobs from their latest checkpoints.
        Leftovers of the lost one (its Python workers) are stopped first. True if it started one."""
        if self._process("jobmanager") is None or self._process("taskmanager") is not None:
            return False
        try:
            lost = json.loads((self.run_dir / "taskmanager.json").read_text())
        except (FileNotFoundError, ValueError):
            lost = None
        if lost:  # its process group, if anything started after it is still in there
            for process in psutil.process_iter():
                try:
                    if os.getpgid(process.pid) == lost["pid"] and self._started_here(process):
                        process.kill()
                except (ProcessLookupError, psutil.Error):
                    continue
        self._spawn("taskmanager", PROCESSES["taskmanager"])
        return True

    def status(self) -> dict:
        processes = {role: process.pid for role in PROCESSES if (process := self._process(role))}
        status = {"dashboard": self.url, "running": False, "processes": processes}
        if processes and self._rest_answers():
            overview = self._get("/overview")
            status.update(running=True, taskmanagers=overview["taskmanagers"],
                          slots_total=overview["slots-total"], slots_available=overview["slots-available"],
                          jobs=self.list_jobs())
        return status

    def logs(self, lines: int = 100) -> dict[str, str]:
        """The last `lines` lines of every log and stdout file, by file name."""
        tails = {}
        for path in sorted(self.log_dir.glob("*")):
            if path.is_file():
                tails[path.name] = "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        return tails

    # -- jobs ------------------------------------------------------------------------------------------

    def submit(self, app_dir: Path, properties_file: Path, savepoint_path: str | Path | None = None,
               quiet: bool = False) -> str:
        """Run the app in `app_dir` (its zip unpacked, or its source folder) as a detached job (from a savepoint if
        given), as its run options say (main.py by default); return its job id once all its tasks run. The job
        reads its runtime properties from `properties_file`."""
        app_dir = Path(app_dir).resolve()
        if not self._rest_answers():
            raise FlinkError(f"the Flink cluster is not running at {self.url}. Start it with `labkit up`.")
        python = str(flink_python.ensure(self.python_dir))
        command = [
            str(flink_home() / "bin" / "flink"), "run", "--detached",
            "--pyClientExecutable", python,
            "--pyExecutable", python,
            *submission_arguments(app_dir, run_options(properties_file)),
        ]
        if savepoint_path is not None:
            command[2:2] = ["--fromSavepoint", str(savepoint_path)]
        environment = {**self._environment(), "LABKIT_FLINK_PROPERTIES": str(Path(properties_file).resolve())}
        client = subprocess.Popen(command, cwd=app_dir, env=environment, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            output, _ = client.communicate(timeout=SUBMIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(client.pid, signal.SIGKILL)  # the `flink run` client and the Python process it started
            client.communicate()
            raise FlinkError(f"submitting {app_dir.name} took over {SUBMIT_TIMEOUT_S} s. "
                             f"See the logs in {self.log_dir}.") from None
        found = JOB_ID.search(output)
        if client.returncode != 0 or not found:
            self._log_submission(app_dir, command, output)
            tail = "\n".join(output.splitlines()[-30:])
            sentence = failure_sentence(_app_label(app_dir), output)
            if sentence:
                raise FlinkError(f"{sentence} Its traceback is in the application's log (lab.apps.logs, "
                                 f"`labkit flink logs`: {SUBMISSIONS_LOG}).")
            raise FlinkError(f"Flink did not accept {app_dir.name}/main.py (exit code {client.returncode}). "
                             f"Its last output:\n{tail}")
        job_id = found.group(1)
        try:
            wait_until(lambda: self._tasks_running(job_id), SUBMIT_TIMEOUT_S, f"job {job_id} to run", quiet=quiet,
                       on_timeout=f"Open {self.url}/#/job/running/{job_id} to see why.")
        except Exception:
            if self.job_status(job_id) not in FINAL_STATES:
                self.cancel(job_id, quiet=True)
            raise
        return job_id

    def list_jobs(self) -> list[dict]:
        return [{"id": job["jid"], "name": job["name"], "state": job["state"], "start_time": job["start-time"]}
                for job in self._get("/jobs/overview")["jobs"]]

    def job_status(self, job_id: str) -> str:
        """RUNNING, FINISHED, CANCELED, FAILED, ... as Flink reports it."""
        return self._get(f"/jobs/{job_id}")["state"]

    def cancel(self, job_id: str, quiet: bool = False) -> None:
        self._request("PATCH", f"/jobs/{job_id}?mode=cancel")
        wait_until(lambda: self.job_status(job_id) in FINAL_STATES, STOP_TIMEOUT_S, f"job {job_id} to stop",
                   quiet=quiet)

    def stop_with_savepoint(self, job_id: str, quiet: bool = False) -> str:
        """Take a savepoint and stop the job (Managed Flink's "stop with snapshot"); return the savepoint's
        path. Sources stop at the savepoint, so a job restored from it reads on exactly where this one ended."""
        target = self.savepoint_dir / self._get(f"/jobs/{job_id}")["name"]
        target.mkdir(parents=True, exist_ok=True)
        trigger = self._request("POST", f"/jobs/{job_id}/stop",
                                {"targetDirectory": target.as_uri(), "drain": False})["request-id"]

        def completed():
            answer = self._get(f"/jobs/{job_id}/savepoints/{trigger}")
            return answer["operation"] if answer["status"]["id"] == "COMPLETED" else None

        operation = wait_until(completed, SAVEPOINT_TIMEOUT_S, f"a savepoint of job {job_id}", quiet=quiet)
        if "failure-cause" in operation:
            cause = operation["failure-cause"].get("stack-trace", "").splitlines()[:3]
            raise FlinkError(f"Flink could not take a savepoint of job {job_id}; the job keeps running. "
                             f"Cause: {' '.join(cause)}")
        wait_until(lambda: self.job_status(job_id) in FINAL_STATES, STOP_TIMEOUT_S, f"job {job_id} to stop",
                   quiet=quiet)
        return operation["location"].removeprefix("file:")

    def latest_checkpoint(self, job_id: str | None) -> Path | None:
        """The newest complete checkpoint a job left in the checkpoint folder (kept after a crash), or None."""
        if not job_id:
            return None
        complete = [meta.parent for meta in (self.checkpoint_dir / job_id).glob("chk-*/_metadata")]
        return max(complete, key=lambda folder: int(folder.name.split("-")[1]), default=None)

    def latest_savepoint(self, job_name: str) -> Path | None:
        """The newest complete savepoint taken by stop_with_savepoint for jobs named `job_name`."""
        complete = [meta.parent for meta in (self.savepoint_dir / job_name).glob("savepoint-*/_metadata")]
        return max(complete, key=lambda folder: folder.stat().st_mtime, default=None)

    # -- internals -------------------------------------------------------------------------------------

    def _log_submission(self, app_dir: Path, command: list[str], output: str) -> None:
        """Append a refused submission's output (main.py's traceback) to log/submissions.log, which the logs show."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        with open(self.log_dir / SUBMISSIONS_LOG, "a") as log:
            log.write(f"{stamp} {_app_label(app_dir)}: {' '.join(command[1:])}\n{output.rstrip()}\n")

    def _write_configuration(self, rpc_port: int, python: Path) -> None:
        for folder in (self.conf_dir, self.log_dir, self.run_dir, self.checkpoint_dir, self.savepoint_dir):
            folder.mkdir(parents=True, exist_ok=True)
        shipped = flink_home() / "conf"
        for name in ("log4j.properties", "log4j-console.properties", "log4j-cli.properties",
                     "log4j-session.properties", "logback.xml", "logback-console.xml", "logback-session.xml"):
            shutil.copy(shipped / name, self.conf_dir / name)
        java17_options = yaml.safe_load((shipped / "config.yaml").read_text())["env"]["java"]["opts"]["all"]
        settings = {
            "env.java.opts.all": f"{java17_options} {JVM_OPTIONS}",
            # every socket on 127.0.0.1
            "jobmanager.bind-host": LOCAL_HOST,
            "jobmanager.rpc.address": LOCAL_HOST,
            "jobmanager.rpc.port": rpc_port,
            "taskmanager.bind-host": LOCAL_HOST,
            "taskmanager.host": LOCAL_HOST,
            "rest.address": LOCAL_HOST,
            "rest.bind-address": LOCAL_HOST,
            "rest.port": self.port,
            "blob.server.port": "0",
            "taskmanager.rpc.port": "0",
            "taskmanager.data.port": "0",
            "metrics.internal.query-service.port": "0",
            # two small jobs side by side, each with its Python worker (~200 MB, from managed memory); a 4 GB
            # TaskManager held 1.3 GB of resident heap and took the whole course past 3 GB (BENCHMARKS.md)
            "jobmanager.memory.process.size": "1200m",
            "taskmanager.memory.process.size": "2560m",
            "taskmanager.memory.jvm-metaspace.size": "512m",
            "taskmanager.numberOfTaskSlots": 2,
            "parallelism.default": 1,
            "jobmanager.execution.failover-strategy": "region",
            # snapshots
            "execution.checkpointing.interval": "5s",
            "state.backend.type": "hashmap",
            "state.checkpoints.dir": self.checkpoint_dir.as_uri(),
            "state.savepoints.dir": self.savepoint_dir.as_uri(),
            "io.tmp.dirs": str(self.state_dir / "tmp"),
            "web.tmpdir": str(self.state_dir / "tmp" / "web"),
            # the Python of Managed Flink's runtime, not the course's (flink_python.py)
            "python.executable": str(python),
            "python.client.executable": str(python),
        }
        (self.state_dir / "tmp").mkdir(exist_ok=True)
        (self.conf_dir / "config.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))

    def _environment(self) -> dict[str, str]:
        if not LOOPBACK_SHIM.exists():
            raise FlinkError(f"{LOOPBACK_SHIM} is missing; build it with `make setup` (needs gcc).")
        environment = {**flink_python.clean_environment(os.environ), **LOCAL_CREDENTIALS,
                       "LD_PRELOAD": str(LOOPBACK_SHIM)}
        environment.pop("AWS_SESSION_TOKEN", None)
        environment.pop("AWS_PROFILE", None)
        environment.update(FLINK_CONF_DIR=str(self.conf_dir), FLINK_LOG_DIR=str(self.log_dir),
                           FLINK_PID_DIR=str(self.run_dir), FLINK_IDENT_STRING="labkit",
                           STD_REDIRECT_TO_FILE="true")
        return environment

    def _spawn(self, role: str, script: str) -> None:
        with open(self.log_dir / f"{role}.console", "ab") as console:
            process = subprocess.Popen([str(flink_home() / "bin" / script), "start-foreground"],
                                       env=self._environment(), stdin=subprocess.DEVNULL, stdout=console,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        (self.run_dir / f"{role}.json").write_text(json.dumps({"pid": process.pid}))

    def _process(self, role: str) -> psutil.Process | None:
        """The live process recorded for `role`, or None (also when its pid now belongs to another program)."""
        try:
            record = json.loads((self.run_dir / f"{role}.json").read_text())
            process = psutil.Process(record["pid"])
            if self._started_here(process) and process.status() != psutil.STATUS_ZOMBIE:
                return process
        except (FileNotFoundError, ValueError, KeyError, psutil.Error):
            pass
        return None

    def _started_here(self, process: psutil.Process) -> bool:
        """True if `process` runs with this cluster's configuration folder, which every process it starts
        inherits. (Start times are no proof: psutil derives them from a boot time that moves with the clock.)"""
        try:
            return process.environ().get("FLINK_CONF_DIR") == str(self.conf_dir)
        except psutil.Error:
            return False

    def _running_processes(self) -> list[psutil.Process]:
        return [process for role in PROCESSES if (process := self._process(role))]

    def _terminate_group(self, process: psutil.Process) -> None:
        """SIGTERM the process group the role was started in (the JVM and its Python workers), then SIGKILL."""
        try:
            group = os.getpgid(process.pid)
            members = [process, *process.children(recursive=True)]
            os.killpg(group, signal.SIGTERM)
        except (ProcessLookupError, psutil.NoSuchProcess):
            return  # it ended on its own meanwhile
        _, alive = psutil.wait_procs(members, timeout=STOP_TIMEOUT_S)
        if alive:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
            psutil.wait_procs(alive, timeout=5)

    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:500]
            raise FlinkError(f"the Flink REST API answered {error.code} to {method} {path}: {detail}") from error
        except (urllib.error.URLError, OSError) as error:
            raise FlinkError(f"the Flink cluster at {self.url} does not answer. Start it with `labkit up`.") \
                from error
        return json.loads(text) if text else {}

    def _get(self, path: str) -> dict:
        return self._request("GET", path)

    def _rest_answers(self) -> bool:
        try:
            self._get("/config")
        except FlinkError:
            return False
        return True

    def _slots_ready(self) -> bool:
        if not self._running_processes():
            raise FlinkError(f"the Flink cluster exited while starting. See the logs in {self.log_dir}.")
        try:
            return self._get("/overview")["slots-total"] >= 2
        except FlinkError:
            return False

    def _tasks_running(self, job_id: str) -> bool:
        job = self._get(f"/jobs/{job_id}")
        if job["state"] in FINAL_STATES | FAILING_STATES:
            raise FlinkError(f"job {job_id} ({job['name']}) is {job['state']} instead of running. "
                             f"Cause: {self._root_cause(job_id)}")
        return job["state"] == "RUNNING" and all(vertex["status"] == "RUNNING" for vertex in job["vertices"])

    def _root_cause(self, job_id: str) -> str:
        exceptions = self._get(f"/jobs/{job_id}/exceptions")
        history = exceptions.get("exceptionHistory", {}).get("entries", [])
        trace = history[0]["stacktrace"] if history else exceptions.get("root-exception") or "unknown"
        return " ".join(trace.splitlines()[:3])
