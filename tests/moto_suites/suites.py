"""moto's own test suites for the services labkit patches, run stock and with labkit's patches (issue 13).

The suites come from the pinned moto's source distribution on the package index (`pip download --no-binary
:all: --no-deps moto==<pinned>`), fetched once into build/moto-suites/ and checked against its SHA-256; they are
never copied into the repository. Only the suites' folders and the few support files they import are unpacked,
never moto's own package folder, so the tests run against the INSTALLED moto, the one the patches replace.

Each run is a subprocess (`python -m pytest` in the unpacked tree) with the plugin labkit_moto_suite_plugin.py
beside this file: with `patched=True` it applies labkit.local.moto_patches.apply() before moto's tests run.
Tests that need Docker (moto's `requires_docker` mark: Lambda invocations) are skipped in both runs
(TESTS_SKIP_REQUIRES_DOCKER), as moto's own CI does without Docker.

    python -m tests.moto_suites.suites fetch            # download + unpack (scripts/setup.sh does this)
    python -m tests.moto_suites.suites compare          # stock vs patched, limits off (what the test checks)
    python -m tests.moto_suites.suites compare --limits on   # the same with AWS's per-shard Kinesis limits on
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from labkit.local.moto_patches import PINNED_MOTO

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORK = REPO / "build" / "moto-suites"
SDIST = WORK / f"moto-{PINNED_MOTO}.tar.gz"
SDIST_SHA256 = {"5.2.5": "391857257d5dac144334013c2c10e599def5f0562f553e979160140bd7bd9cf6"}
TREE = WORK / f"moto-{PINNED_MOTO}"
KNOWN_DIFFERENCES = HERE / "known_differences.txt"

# The suites of the services the stack patches (the Lambda suite holds the event-source-mapping tests;
# the whole suite runs: it takes seconds).
SUITES = ("tests/test_kinesis", "tests/test_sns", "tests/test_dynamodb", "tests/test_awslambda")
# Files outside those folders that their modules import (test helpers), and moto's pytest configuration.
SUPPORT = ("pyproject.toml", "tests/__init__.py", "tests/conftest.py", "tests/markers.py",
           "tests/test_core/__init__.py", "tests/test_core/utilities.py", "tests/test_ecr/__init__.py",
           "tests/test_ecr/test_ecr_helpers.py", "tests/test_s3/__init__.py")
RUN_TIMEOUT_S = 900


class SuitesUnavailable(RuntimeError):
    pass


def fetch() -> Path:
    """The pinned moto's source distribution, downloaded once (a second call does not touch the network)."""
    if not SDIST.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                               "--no-binary", ":all:", "--no-deps", f"moto=={PINNED_MOTO}", "--dest", str(WORK)],
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not SDIST.exists():
            raise SuitesUnavailable(f"could not download moto {PINNED_MOTO}'s source distribution (its test suites) "
                                    f"into {WORK}: {done.stderr.strip()[-500:]}. Check the network and run "
                                    "`make setup` again.")
    digest = hashlib.sha256(SDIST.read_bytes()).hexdigest()
    expected = SDIST_SHA256.get(PINNED_MOTO)
    if expected and digest != expected:
        raise SuitesUnavailable(f"{SDIST} has SHA-256 {digest}, not moto {PINNED_MOTO}'s {expected}: delete it "
                                "and run `make setup` again.")
    return SDIST


def unpack() -> Path:
    """The suites' folders and support files, unpacked once from the source distribution into TREE."""
    stamp = TREE / ".unpacked"
    if stamp.exists():
        return TREE
    prefix = f"moto-{PINNED_MOTO}/"
    with tarfile.open(fetch()) as archive:
        wanted = [member for member in archive.getmembers()
                  if member.name.removeprefix(prefix) in SUPPORT
                  or any(member.name.removeprefix(prefix).startswith(suite + "/") for suite in SUITES)]
        missing = [suite for suite in SUITES if not any(m.name.startswith(prefix + suite + "/") for m in wanted)]
        if missing:
            raise SuitesUnavailable(f"moto {PINNED_MOTO}'s source distribution has no {', '.join(missing)}")
        archive.extractall(WORK, members=wanted, filter="data")
    stamp.touch()
    return TREE


@dataclass
class Run:
    patched: bool
    limits: str
    seconds: float
    outcomes: dict[str, str]  # node id -> passed | failed | skipped | xfailed | xpassed
    errors: dict[str, str]  # node id -> one-line error of a failed test
    patches: list[str] = field(default_factory=list)  # ids of the registry entries in force in the run
    log: Path | None = None  # pytest's output

    def count(self, outcome: str) -> int:
        return sum(1 for value in self.outcomes.values() if value == outcome)

    @property
    def failed(self) -> set[str]:
        return {node for node, outcome in self.outcomes.items() if outcome == "failed"}

    def summary(self) -> str:
        kind = f"patched (Kinesis limits {self.limits})" if self.patched else "stock"
        return (f"{kind}: {self.count('passed')} passed, {self.count('failed')} failed, "
                f"{self.count('skipped')} skipped in {self.seconds:.0f} s")


def start(patched: bool, limits: str = "off", results_dir: Path | None = None) -> tuple[subprocess.Popen, Path, float]:
    """Start one run of the suites (stock or patched) in a subprocess; `finish` collects it."""
    tree = unpack()
    results_dir = Path(results_dir or tempfile.mkdtemp(prefix="moto-suites-"))
    results = results_dir / ("patched.json" if patched else "stock.json")
    log = results.with_suffix(".log")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("LABKIT_", "AWS_", "MOTO_", "TEST_SERVER_MODE", "PYTEST_"))}
    env.update(LABKIT_MOTO_PATCHES="on" if patched else "off", LABKIT_KINESIS_LIMITS=limits,
               LABKIT_MOTO_SUITE_RESULTS=str(results), TESTS_SKIP_REQUIRES_DOCKER="true",
               MOTO_TEST_ALLOW_AWS_REQUEST="false",
               PYTHONPATH=os.pathsep.join([str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]))
    command = [sys.executable, "-m", "pytest", "-q", "--color=no", "-p", "no:cacheprovider",
               "-p", "labkit_moto_suite_plugin", *SUITES]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT)
    return process, results, time.monotonic()


def finish(process: subprocess.Popen, results: Path, started: float, patched: bool) -> Run:
    try:
        code = process.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise SuitesUnavailable(f"moto's suites did not finish in {RUN_TIMEOUT_S} s; log: {results.with_suffix('.log')}")
    seconds = time.monotonic() - started
    if code not in (0, 1) or not results.exists():  # 1: some tests failed; anything else: pytest itself broke
        log = results.with_suffix(".log")
        raise SuitesUnavailable(f"pytest exited {code} running moto's suites; the end of {log}:\n"
                                + log.read_text(errors="replace")[-3000:])
    data = json.loads(results.read_text())
    return Run(patched, data["limits"] if patched else "-", seconds, data["outcomes"], data["errors"], data["patches"],
               results.with_suffix(".log"))


def run_both(limits: str = "off", results_dir: Path | None = None) -> tuple[Run, Run]:
    """The stock run and the patched run, side by side (one process each); their results and logs in
    `results_dir` (a new temporary folder by default)."""
    results_dir = Path(results_dir or tempfile.mkdtemp(prefix="moto-suites-"))
    stock = start(False, limits, results_dir)
    patched = start(True, limits, results_dir)
    return finish(*stock, False), finish(*patched, True)


def known_differences() -> dict[str, str]:
    """tests/moto_suites/known_differences.txt: `node id | reason`, one a line; # starts a comment."""
    entries: dict[str, str] = {}
    for number, line in enumerate(KNOWN_DIFFERENCES.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        node, sep, reason = (part.strip() for part in line.partition(" | "))
        if not sep or not reason:
            raise ValueError(f"{KNOWN_DIFFERENCES.name}:{number}: write `node id | reason`, not {line!r}")
        entries[node] = reason
    return entries


def differences(stock: Run, patched: Run) -> dict[str, str]:
    """The tests that fail with labkit's patches and pass stock, each with its error under the patches."""
    return {node: patched.errors.get(node, "") for node in sorted(patched.failed - stock.failed)}


def problems(stock: Run, patched: Run, listed: dict[str, str]) -> list[str]:
    """What is wrong with the patched run against the list: tests that fail only with the patches and are not
    listed (a regression, or an AWS behaviour to list with its reason), listed tests that no longer fail only
    with the patches (entries to remove)."""
    found = differences(stock, patched)
    return ([f"NEW: {node} passes stock and fails with labkit's patches: {error}"
             for node, error in found.items() if node not in listed]
            + [f"FIXED: {node} is listed in {KNOWN_DIFFERENCES.name} but is no longer a difference (remove it)"
               for node in sorted(set(listed) - set(found))])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.moto_suites.suites", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["fetch", "compare"])
    parser.add_argument("--limits", choices=["on", "off"], default="off",
                        help="AWS's per-shard Kinesis limits in the patched run (default off, as the test runs)")
    args = parser.parse_args(argv)
    if args.action == "fetch":
        try:
            print(f"moto {PINNED_MOTO}'s test suites: {unpack()}")
        except SuitesUnavailable as error:
            print(error, file=sys.stderr)
            return 1
        return 0
    stock, patched = run_both(args.limits)
    print(f"results and logs: {stock.log.parent}")
    print(stock.summary())
    print(patched.summary())
    listed = known_differences()
    for node, error in differences(stock, patched).items():
        if node in listed:
            print(f"listed: {node}: {error}")
    wrong = problems(stock, patched, listed)
    print("\n".join(wrong))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
