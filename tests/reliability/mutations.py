"""Each drill fails when its protection is removed: the mutation checks of docs/RELIABILITY.md, run by a script.

A mutation removes one protection from the lab's code (labkit/, lambdas/, flink/) and names the drill that must
catch it. For each one this script makes a private copy of the tree at HEAD (never the shared tree: `git archive`
of HEAD into a temporary folder, plus what git does not track but the drills need: flink/target, the loopback
shim, the real data set), applies the edit there, rebuilds the Flink zip if the edit is in flink/ (or the zip
is older than HEAD's sources), and runs the drill from the copy's root with PYTHONPATH set to the copy, so the
copy's labkit, lambdas and flink are the ones used. A probe loaded into the run writes down where `labkit` came
from in the test process and the stack's process, and which state folder and ports the run's own stack used;
a run that imported the shared tree's code is an error, not a result.

    .venv/bin/python -m tests.reliability.mutations --list
    .venv/bin/python -m tests.reliability.mutations --only no-checkpoints esm-discards-failed-batch
    .venv/bin/python -m tests.reliability.report          # renders bench/results/mutations.json too

Each run updates its rows of bench/results/mutations.json (outcome, expected, matched, the first failure
line, minutes, date). A drill takes a few minutes of both cores: run them one at a time.

To add a mutation, append a Mutation to MUTATIONS; tests/unit/test_mutations.py checks that its old text occurs
exactly once at HEAD and that its drill exists.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tests.processes import kill_all

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results" / "mutations.json"  # committed: RELIABILITY.md's mutation table
PYTHON = REPO / ".venv" / "bin" / "python"
APP_FOLDER, APP_ZIP = "flink/anomaly_detection", "flink/target/anomaly_detection.zip"
UNTRACKED_NEEDS = ["flink/target", "labkit/local/native/loopback_bind.so", "data/la_haute_borne.jsonl"]
MESSAGE_CHARS = 240  # the first failure line, as the table shows it
RUN_TIMEOUT_S = 40 * 60  # a drill that hangs is interrupted after this
SHARED_STACK_PORTS = {4566, 4567, 8081}  # labkit.config's defaults: a student's (or the session's) own stack


@dataclass(frozen=True)
class Mutation:
    name: str
    drill: str  # pytest node id, from the repository's root
    file: str  # the file the edit applies to
    old: str  # exact text, found exactly once in the file at HEAD
    new: str
    removes: str  # the protection removed, as the table says it
    rebuild_zip: bool = False  # the edit is in the Flink app: `mvn -q -f flink/pom.xml package` in the copy
    expected: str = "fails"  # or "passes", with the reason the drill cannot see it
    reason: str = ""  # shown beside the result: why a row is expected to pass, what a failure means

    def fingerprint(self) -> str:
        """Changes when the mutation does: a result measured for another edit is not this one's."""
        return hashlib.sha256("\0".join([self.drill, self.file, self.old, self.new]).encode()).hexdigest()[:12]

    def occurrences_at_head(self) -> int:
        return head_text(self.file).count(self.old)

    def apply(self, tree: Path) -> None:
        path = tree / self.file
        text = path.read_text(encoding="utf-8")
        found = text.count(self.old)
        if found != 1:
            raise MutationMoved(self, found)
        path.write_text(text.replace(self.old, self.new), encoding="utf-8")


class MutationMoved(Exception):
    def __init__(self, mutation: Mutation, found: int):
        super().__init__(f"mutation {mutation.name}: its old text occurs {found} times in {mutation.file} (must be "
                         "exactly once): the code moved, fix the mutation's old text in tests/reliability/mutations.py")


DRILLS = "tests/reliability/"
FLINK_FAILURE = DRILLS + "test_flink_failure.py::test_kill_9_of_the_taskmanager_mid_stream_loses_and_duplicates_nothing"
RESTART = DRILLS + "test_stack_restart.py::test_labkit_down_and_up_mid_stream_loses_and_duplicates_nothing"
TRANSIENT = DRILLS + "test_lambda_failures.py::test_a_table_missing_for_a_while_delays_records_but_loses_none"
POISON = DRILLS + "test_lambda_failures.py::test_a_poison_record_is_parked_with_its_reason_and_the_rest_delivered"
MALFORMED = DRILLS + "test_malformed_input.py::"

MUTATIONS: list[Mutation] = [
    Mutation(
        "no-stream-lock",
        DRILLS + "test_concurrent_producers.py::test_four_concurrent_producers_lose_nothing_end_to_end",
        "labkit/local/kinesis_fixes.py",
        '    return stream.__dict__.setdefault("_labkit_lock", threading.RLock())\n',
        "    return threading.RLock()\n",
        "`_stream_lock` returns a new `RLock` on every call (no per-stream lock)",
        expected="passes",
        reason="Not detected through the endpoint: with the fixes' counter-based shard log the unlocked section is "
               "a few bytecodes under the GIL, and run by hand in-process with 4 threads it lost no record and gave "
               "duplicate sequence numbers only with `sys.setswitchinterval(1e-6)`; stock moto's put path is what "
               "loses records. So the lock has a unit test of its own (next row)."),
    Mutation(
        "no-stream-lock-unit",
        "tests/unit/test_moto_patches.py::test_concurrent_puts_get_distinct_sequence_numbers[patched]",
        "labkit/local/kinesis_fixes.py",
        '    return stream.__dict__.setdefault("_labkit_lock", threading.RLock())\n',
        "    return threading.RLock()\n",
        "the same mutation, against the lock's unit test (4 threads, a tiny switch interval)"),
    Mutation(
        "no-checkpoints",
        FLINK_FAILURE,
        "labkit/local/flink_cluster.py",
        '            "execution.checkpointing.interval": "5s",\n',
        "",
        "`execution.checkpointing.interval` removed (no checkpoints)",
        reason="After the kill the job fails for good (\"Recovery is suppressed by NoRestartBackoffTimeStrategy\")."),
    Mutation(
        "forests-outside-state",
        FLINK_FAILURE,
        "flink/anomaly_detection/main.py",
        "        detector = self.detector.value() or LocationDetector(self.settings)\n"
        "        result = detector.assess(reading)\n"
        "        self.detector.update(detector)\n",
        "        forests = self.__dict__.setdefault(\"forests\", {})  # mutation: in the Python worker, not in state\n"
        "        if reading.location not in forests:\n"
        "            forests[reading.location] = LocationDetector(self.settings)\n"
        "        detector = forests[reading.location]\n"
        "        result = detector.assess(reading)\n",
        "each location's forest kept in a dict in the Python worker, not in the keyed `ValueState` (zip rebuilt)",
        rebuild_zip=True),
    Mutation(
        "no-taskmanager-replacement",
        FLINK_FAILURE,
        "labkit/local/flink_cluster.py",
        '        Leftovers of the lost one (its Python workers) are stopped first. True if it started one."""\n',
        '        Leftovers of the lost one (its Python workers) are stopped first. True if it started one."""\n'
        "        return False  # mutation\n",
        "`replace_lost_taskmanager` always returns False"),
    Mutation(
        "esm-checkpoints-deleted-at-start",
        RESTART,
        "labkit/local/lambda_runtime/runtime.py",
        "    def start(self) -> None:\n"
        "        python_runtime.build(self.packages)\n",
        "    def start(self) -> None:\n"
        "        python_runtime.build(self.packages)\n"
        '        shutil.rmtree(self.folder / "checkpoints", ignore_errors=True)  # mutation\n',
        "`start()` deletes the saved ESM checkpoints, so the checkpoint saved at down is not used",
        reason="The trigger starts again at LATEST and skips the records it held back."),
    Mutation(
        "resume-without-snapshot",
        RESTART,
        "labkit/local/managed_flink/component.py",
        "            self._launch(app, source)\n",
        "            self._launch(app, None)  # mutation\n",
        "`_resume` runs the app with no savepoint instead of the snapshot taken at down",
        reason="The score check cannot see it: with no state the job reads the stream again from TRIM_HORIZON "
               "with new forests and, the detector being deterministic, gets the same scores. What it writes again "
               "is caught by the delivery counter, and the restored checkpoint by the REST check (`the app must "
               "run from the snapshot taken at down`)."),
    Mutation(
        "esm-discards-failed-batch",
        TRANSIENT,
        "labkit/local/lambda_runtime/esm.py",
        "            elif esm.max_retry_attempts is not None and 0 <= esm.max_retry_attempts <= retries:\n",
        "            elif True:  # mutation\n",
        "a failed batch is discarded at once (retry-budget condition replaced by `True`)"),
    Mutation(
        "esm-no-bisect",
        POISON,
        "labkit/local/lambda_runtime/esm.py",
        "            if outcome.whole_batch and esm.bisect_on_error and len(rest) > 1:\n",
        "            if False:  # mutation\n",
        "BisectBatchOnFunctionError ignored (bisect branch replaced by `if False`)",
        reason="The poison record's whole batch is parked."),
    Mutation(
        "handler-raises-instead-of-reporting",
        TRANSIENT,
        "lambdas/kinesis_batch.py",
        '    return {"batchItemFailures": [{"itemIdentifier": record["kinesis"]["sequenceNumber"]}]}\n',
        "    raise error  # mutation\n",
        "`_failure` re-raises the error instead of returning `batchItemFailures`",
        expected="passes",
        reason="Not detected: the trigger's whole-batch retry (with bisect) delivers everything, and records written "
               "twice overwrite their own items. ReportBatchItemFailures saves work here; it does not prevent loss."),
    Mutation(
        "malformed-is-retryable",
        MALFORMED + "test_malformed_records_reaching_analytics_destination_are_skipped_with_reasons",
        "lambdas/kinesis_batch.py",
        "            except MalformedRecord as error:\n"
        '                log.error("skipped malformed record %s: %s", _where(record), error)\n',
        "",
        "`except MalformedRecord` branch removed, so a malformed record is a retryable failure"),
    Mutation(
        "flink-invalid-reading-uncaught",
        MALFORMED + "test_malformed_records_reaching_flink_are_rejected_with_reasons_and_lose_nothing",
        "flink/anomaly_detection/main.py",
        "        try:\n"
        "            reading = parse_reading(value, self.settings.locations)\n"
        "        except InvalidReading as error:\n"
        "            self.rejected.inc()\n"
        '            yield REJECTED, json.dumps({"reason": str(error), "data": value[:REJECTED_DATA_CHARS]})\n'
        "            return\n",
        "        reading = parse_reading(value, self.settings.locations)  # mutation: InvalidReading not caught\n",
        "`InvalidReading` no longer caught and sent to the `rejected` side output (zip rebuilt)",
        rebuild_zip=True,
        reason="The job restarts again and again on the first record that is not JSON."),
    Mutation(
        "simulator-body-not-checked",
        MALFORMED + "test_bad_simulator_requests_get_sentences_and_the_run_in_progress_sends_everything",
        "labkit/local/simulator_service.py",
        "            if not isinstance(body, dict):\n"
        "                raise BadParameter('send a JSON object such as {\"stream\": \"WindDataStream\", \"dataset\": "
        "\"anomaly\", '\n"
        "                                   '\"rate\": 50}.')\n",
        "",
        "the check that the body is a JSON object removed"),
    Mutation(
        "handler-writes-replays-again",
        FLINK_FAILURE,
        "lambdas/kinesis_batch.py",
        "    if keep_existing and items:\n",
        "    if False:  # mutation: stored items written again\n",
        "`write_items` ignores `keep_existing`: a record delivered again is written again",
        reason="The restored job writes again what it wrote after its checkpoint; the delivery counter counts "
               "those readings written twice (the table's key would hide it)."),
    Mutation(
        "esm-delivers-every-batch-twice",
        RESTART,
        "labkit/local/lambda_runtime/esm.py",
        "            result = self.mapping.invoke(self.shard_id, records)\n",
        "            result = self.mapping.invoke(self.shard_id, records)\n"
        "            result = self.mapping.invoke(self.shard_id, records)  # mutation: every batch delivered twice\n",
        "the trigger invokes the function twice with every batch",
        reason="Each reading is still written once (the function keeps a stored item); the delivery counter "
               "counts every record delivered again."),
]
BY_NAME = {mutation.name: mutation for mutation in MUTATIONS}
assert len(BY_NAME) == len(MUTATIONS), "two mutations share a name"


# ---- the private copy --------------------------------------------------------------------------------
def head_commit() -> str:
    return subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


def head_text(path: str) -> str:
    """A file as HEAD holds it."""
    return subprocess.run(["git", "-C", str(REPO), "show", f"HEAD:{path}"], capture_output=True, text=True,
                          check=True).stdout


def make_copy(folder: Path, commit: str) -> Path:
    """HEAD's tracked files in `folder`/tree, plus the built files the drills need that git does not track
    (copied, not linked: a rebuild in the copy must not write into the shared tree)."""
    tree = folder / "tree"
    tree.mkdir()
    archive = subprocess.Popen(["git", "-C", str(REPO), "archive", "--format=tar", commit], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(tree)], stdin=archive.stdout, check=True)
    archive.stdout.close()
    if archive.wait() != 0:
        raise RuntimeError(f"git archive of {commit} failed")
    for relative in UNTRACKED_NEEDS:
        source, target = REPO / relative, tree / relative
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True)
        elif source.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return tree


def stale_zip_sources(tree: Path) -> list[str]:
    """The app's sources in `tree` that differ from its zip (what tests/reliability/pipeline.py refuses to run)."""
    try:
        archive = zipfile.ZipFile(tree / APP_ZIP)
    except FileNotFoundError:
        return ["(no zip)"]
    with archive:
        names = set(archive.namelist())
        return [source.name for source in sorted((tree / APP_FOLDER).glob("*.py"))
                if source.name not in names or archive.read(source.name) != source.read_bytes()]


def rebuild_zip(tree: Path) -> float:
    """`mvn -q -f flink/pom.xml package` in the copy (offline: the build's plugins are in the local repository);
    its minutes."""
    started = time.monotonic()
    done = subprocess.run(["mvn", "-q", "-o", "-f", str(tree / "flink" / "pom.xml"), "package"], cwd=tree,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"mvn package failed in the copy:\n{(done.stdout + done.stderr)[-3000:]}")
    stale = stale_zip_sources(tree)
    if stale:
        raise RuntimeError(f"after mvn package the zip still differs from {', '.join(stale)}")
    return (time.monotonic() - started) / 60


# ---- the run -----------------------------------------------------------------------------------------
PROBE = '''
"""Loaded into a mutation run (-p mutation_probe): where labkit came from, and which stack the run used."""
import json
import os

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    import labkit
    import labkit.config
    import psutil

    settings = labkit.settings()
    found = {"test_process_labkit": labkit.__file__, "repo_root": str(labkit.config.REPO_ROOT),
             "state_dir": str(settings.state_dir),
             "ports": [settings.aws_port, settings.service_port, settings.flink_port]}
    try:
        status = labkit.status()
        if not status["running"]:  # a unit test: no stack, no code of the stack's to prove
            found["stack"] = "not running"
            raise LookupError
        stack = psutil.Process(status["pid"])
        found.update(stack_cwd=stack.cwd(), stack_pythonpath=stack.environ().get("PYTHONPATH", ""),
                     stack_command=stack.cmdline()[:3])
    except LookupError:
        pass
    except Exception as error:  # recorded: the script then reports the stack's process as unproven
        found["stack_error"] = repr(error)
    with open(os.environ["LABKIT_MUTATION_PROBE"], "w") as out:
        json.dump(found, out)
'''


def run_environment(tree: Path, probe_dir: Path) -> dict[str, str]:
    """The run's environment: the copy first on PYTHONPATH (labkit is installed editable from the shared tree;
    the stack's process and its children inherit this), no state folder or ports of the caller's stack (the
    tests start their own, tests/conftest.py)."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("LABKIT_STATE_DIR", "LABKIT_AWS_PORT", "LABKIT_SERVICE_PORT", "LABKIT_FLINK_PORT")}
    environment.update(PYTHONPATH=f"{tree}{os.pathsep}{probe_dir}", PYTHONDONTWRITEBYTECODE="1",
                       LABKIT_MUTATION_PROBE=str(probe_dir / "probe.json"))
    return environment


def imported_labkit(tree: Path, environment: dict[str, str]) -> str:
    """Where `import labkit` resolves in the copy with the run's environment; an error if not in the copy."""
    done = subprocess.run([str(PYTHON), "-c", "import labkit; print(labkit.__file__)"], cwd=tree, env=environment,
                          capture_output=True, text=True, check=True)
    where = done.stdout.strip()
    if not Path(where).resolve().is_relative_to(tree.resolve()):
        raise RuntimeError(f"in the copy, labkit is imported from {where}, not from {tree}: the run would test "
                           "the shared tree's code")
    return where


def stop_leftovers(tree: Path) -> list[str]:
    """Processes of this run still alive after it (its stack, Flink cluster, workers): SIGKILLed. They are found
    by the copy's folder (their working folder, PYTHONPATH or command line), which no other process uses."""
    import psutil

    mine = str(tree)
    found = []
    for process in psutil.process_iter():
        try:
            if process.pid == os.getpid():
                continue
            if (mine in " ".join(process.cmdline()) or process.cwd().startswith(mine)
                    or process.environ().get("PYTHONPATH", "").startswith(mine)):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    names = [" ".join(p.cmdline()[:3]) for p in found if p.is_running()]
    kill_all(found)
    return names


def check_probe(probe: dict, tree: Path) -> list[str]:
    """What the probe shows that a run must not do: code from outside the copy, the shared stack's state or ports."""
    inside = lambda path: Path(path).resolve().is_relative_to(tree.resolve())  # noqa: E731
    problems = []
    if not inside(probe["test_process_labkit"]) or not inside(probe["repo_root"]):
        problems.append(f"the test process imported labkit from {probe['test_process_labkit']}")
    if "stack_error" in probe:
        problems.append(f"the stack's process could not be inspected: {probe['stack_error']}")
    elif "stack_cwd" in probe and probe["stack_cwd"] != str(tree) and not probe["stack_pythonpath"].startswith(str(tree)):
        problems.append(f"the stack's process ran in {probe['stack_cwd']} with PYTHONPATH {probe['stack_pythonpath']}")
    if not Path(probe["state_dir"]).name.startswith("labkit-test-state-"):
        problems.append(f"the run's stack used the state folder {probe['state_dir']}, not a test's own")
    if SHARED_STACK_PORTS & set(probe["ports"]):
        problems.append(f"the run's stack used the default ports {sorted(SHARED_STACK_PORTS & set(probe['ports']))}")
    return problems


def first_failure(junit: Path) -> tuple[str, str]:
    """("failed" | "passed" | "error", the first failure's message, short) from pytest's junit report. An error
    (a fixture that failed to set up) is not the drill detecting the mutation."""
    try:
        root = ET.parse(junit).getroot()
    except (FileNotFoundError, ET.ParseError):
        return "error", "pytest wrote no report"
    cases = list(root.iter("testcase"))
    if not cases:
        return "error", "no test collected"
    for case in cases:
        for kind in ("failure", "error"):
            found = case.find(kind)
            if found is not None:
                lines = (found.get("message") or "").splitlines() or (found.text or "").strip().splitlines()[-1:]
                lines = [line.strip() for line in lines if line.strip() and not line.strip().startswith("+")]
                message = " ".join(" ".join(lines[:2]).split())
                message = message if len(message) <= MESSAGE_CHARS else message[:MESSAGE_CHARS - 1] + "…"
                outcome = "failed" if kind == "failure" else "error"
                return outcome, message
        if case.find("skipped") is not None:
            return "error", "skipped: " + " ".join((case.find("skipped").get("message") or "").split())[:200]
    return "passed", ""


def run(mutation: Mutation, commit: str) -> dict:
    started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    folder = Path(tempfile.mkdtemp(prefix=f"labkit-mutation-{mutation.name}-"))
    result = {"drill": mutation.drill, "file": mutation.file, "expected": mutation.expected, "commit": commit,
              "fingerprint": mutation.fingerprint(), "date": started_at}
    try:
        tree = make_copy(folder, commit)
        mutation.apply(tree)
        if mutation.rebuild_zip or stale_zip_sources(tree):
            result["zip_rebuilt_minutes"] = round(rebuild_zip(tree), 1)
        probe_dir = folder / "probe"
        probe_dir.mkdir()
        (probe_dir / "mutation_probe.py").write_text(PROBE)
        environment = run_environment(tree, probe_dir)
        imported_labkit(tree, environment)
        junit = folder / "junit.xml"
        print(f"[{mutation.name}] running {mutation.drill} in {tree}", flush=True)
        started = time.monotonic()
        with open(folder / "pytest.log", "w") as log:
            drill = subprocess.Popen([str(PYTHON), "-m", "pytest", mutation.drill, "-p", "no:cacheprovider", "-p",
                                      "mutation_probe", "-x", "-q", f"--junitxml={junit}"],
                                     cwd=tree, env=environment, stdout=log, stderr=subprocess.STDOUT)
            try:
                drill.wait(timeout=RUN_TIMEOUT_S)
            except subprocess.TimeoutExpired:  # interrupted like Ctrl-C: the session's fixtures stop its stack
                drill.send_signal(signal.SIGINT)
                try:
                    drill.wait(timeout=180)
                except subprocess.TimeoutExpired:
                    drill.kill()
                    drill.wait()
        result["minutes"] = round((time.monotonic() - started) / 60, 1)
        result["load_average"] = [round(load, 1) for load in os.getloadavg()]  # 1, 5, 15 min: a busy machine shows
        stopped = stop_leftovers(tree)
        if stopped:
            result["leftovers_stopped"] = stopped
        outcome, message = first_failure(junit)
        try:
            probe = json.loads((probe_dir / "probe.json").read_text())
        except FileNotFoundError:  # the drill never got past its fixtures
            probe = None
        problems = check_probe(probe, tree) if probe else []
        if problems:
            outcome, message = "error", "the run did not test the copy alone: " + "; ".join(problems)
        result.update(outcome=outcome, first_failure=message,
                      proof=_proof(probe, tree) if probe else "no probe: the drill stopped before its test ran")
        if probe and Path(probe["state_dir"]).name.startswith("labkit-test-state-"):  # the run's stack is down
            shutil.rmtree(probe["state_dir"], ignore_errors=True)
        if outcome == "error":
            result["log_tail"] = (folder / "pytest.log").read_text(errors="replace")[-1500:]
    except Exception as error:
        result.update(outcome="error", first_failure=f"{type(error).__name__}: {error}"[:600])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result["matched"] = result["outcome"] == {"fails": "failed", "passes": "passed"}[mutation.expected]
    return result


def _proof(probe: dict, tree: Path) -> str:
    """The probe in a line, with the copy's folder written as <copy>."""
    stack = (f"stack process in {probe['stack_cwd']} with PYTHONPATH {probe['stack_pythonpath']}"
             if "stack_cwd" in probe else "no stack running")
    return (f"labkit from {probe['test_process_labkit']}; {stack}; state folder {probe['state_dir']}; "
            f"ports {probe['ports']}").replace(str(tree), "<copy>").replace(str(tree.parent), "<run folder>")


def load_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def save_result(name: str, result: dict) -> None:
    """Merge one mutation's result into bench/results/mutations.json (other rows stay as they are)."""
    results = load_results()
    results[name] = result
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run these mutations only (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutations and their last results")
    args = parser.parse_args(argv)
    chosen = MUTATIONS
    if args.only:
        unknown = [name for name in args.only if name not in BY_NAME]
        if unknown:
            parser.error(f"no mutation named {', '.join(unknown)}; --list shows them")
        chosen = [BY_NAME[name] for name in args.only]
    if args.list:
        results = load_results()
        for mutation in chosen:
            last = results.get(mutation.name)
            seen = (f"{last['outcome']} ({'as expected' if last['matched'] else 'NOT as expected'}) on {last['date']}"
                    if last and last.get("fingerprint") == mutation.fingerprint() else "not run yet")
            print(f"{mutation.name:38} expects {mutation.expected:7} {seen}\n    {mutation.drill}")
        return 0
    moved = [MutationMoved(m, found) for m in chosen if (found := m.occurrences_at_head()) != 1]
    if moved:
        print("\n".join(map(str, moved)), file=sys.stderr)
        return 2
    commit = head_commit()
    unmatched = 0
    for mutation in chosen:
        result = run(mutation, commit)
        save_result(mutation.name, result)
        unmatched += not result["matched"]
        print(f"[{mutation.name}] {result['outcome']} (expected: {mutation.expected}) in "
              f"{result.get('minutes', '?')} min: {result.get('first_failure', '')}", flush=True)
    print(f"wrote {RESULTS}; render it into docs/RELIABILITY.md with .venv/bin/python -m tests.reliability.report "
          "(or its mutation table alone: render_mutation_section())")
    return 1 if unmatched else 0


if __name__ == "__main__":
    sys.exit(main())
