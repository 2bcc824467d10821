"""A pytest plugin for a run of moto's OWN test suites (started by tests/moto_suites/suites.py, never loaded by
labkit's test session).

With LABKIT_MOTO_PATCHES=on it applies every entry of labkit's registry (labkit.local.moto_patches.apply())
before moto's first test module is imported, as the local stack does when its AWS endpoint starts; otherwise
moto stays stock. Either way it writes each test's outcome (and a failure's one-line error) as JSON to the
file named by LABKIT_MOTO_SUITE_RESULTS, so the stock run and the patched run can be compared test by test.

Its module name is unique on purpose: moto's tests are a package named `tests` too.
"""
from __future__ import annotations

import json
import os

import pytest

_outcomes: dict[str, str] = {}  # node id -> passed | failed | skipped | xfailed | xpassed
_errors: dict[str, str] = {}  # node id -> the failure's one-line message
_applied: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("LABKIT_MOTO_PATCHES") == "on":
        from labkit.local import moto_patches

        moto_patches.apply()
        _applied.extend(patch.id for patch in moto_patches.applied())


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:  # a module that cannot even be imported counts as one failed test, never as no tests
        _outcomes[report.nodeid] = "failed"
        _errors[report.nodeid] = _one_line(report)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or report.outcome != "passed":  # a setup/teardown error or skip decides too
        if _outcomes.get(report.nodeid) == "failed":
            return  # the call failed; a teardown error after it does not change that
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.skipped else "xpassed"
        else:
            outcome = report.outcome
        _outcomes[report.nodeid] = outcome
        if outcome == "failed":
            _errors[report.nodeid] = _one_line(report)


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get("LABKIT_MOTO_SUITE_RESULTS")
    if path:
        with open(path, "w") as out:
            json.dump({"patches": _applied, "limits": os.environ.get("LABKIT_KINESIS_LIMITS"),
                       "outcomes": _outcomes, "errors": _errors}, out, indent=1, sort_keys=True)


def _one_line(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    return " ".join(text.split())[:300]
