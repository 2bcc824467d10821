"""moto's own Kinesis, SNS, DynamoDB and Lambda suites pass against labkit's patched models except the listed ones
(issue 13). The suites are the pinned moto's, from its source distribution (tests/moto_suites/suites.py); each runs
twice in a subprocess, stock and with every entry of labkit's registry applied, so the failures the patches cause
are exactly the patched run's failures minus the stock run's. Those must be the tests listed, each with its reason,
in known_differences.txt: a new failure is a regression of the patches, a listed test that passes is an entry to
remove.

The patched run keeps AWS's per-shard Kinesis limits off (LABKIT_KINESIS_LIMITS=off), as the unit tests do: moto's
suites put and read in bulk to test other things. With them on (`python -m tests.moto_suites.suites compare
--limits on`) the same tests fail: boto3's default retries absorb the refusals. Tests that need Docker (moto's
`requires_docker`: Lambda invocations, the event-source-mapping invocations among them) are skipped in both runs.
"""
from __future__ import annotations

import pytest

from labkit.local import moto_patches

from . import suites

pytestmark = pytest.mark.moto_suites


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[suites.Run, suites.Run]:
    stock, patched = suites.run_both("off", tmp_path_factory.mktemp("moto-suites"))
    print(f"\nmoto {moto_patches.PINNED_MOTO}'s suites ({', '.join(suites.SUITES)}):\n  {stock.summary()}\n  "
          f"{patched.summary()}")
    return stock, patched


def test_moto_suites_fail_with_labkit_patches_only_where_listed(runs):
    stock, patched = runs
    wrong = suites.problems(stock, patched, suites.known_differences())
    assert not wrong, "\n".join([stock.summary(), patched.summary(), *wrong, f"logs: {stock.log}, {patched.log}"])


def test_a_new_failure_or_a_listed_test_that_passes_is_reported():
    def run(patched: bool, failed: set[str]) -> suites.Run:
        nodes = ["t/a.py::fails_stock_too", "t/a.py::regressed", "t/a.py::listed", "t/a.py::listed_fixed"]
        return suites.Run(patched, "off", 1.0, {node: "failed" if node in failed else "passed" for node in nodes},
                          {node: "AssertionError" for node in failed})

    stock = run(False, {"t/a.py::fails_stock_too"})
    patched = run(True, {"t/a.py::fails_stock_too", "t/a.py::regressed", "t/a.py::listed"})
    listed = {"t/a.py::listed": "an AWS behaviour", "t/a.py::listed_fixed": "an AWS behaviour"}
    assert suites.problems(stock, patched, listed) == [
        "NEW: t/a.py::regressed passes stock and fails with labkit's patches: AssertionError",
        "FIXED: t/a.py::listed_fixed is listed in known_differences.txt but is no longer a difference (remove it)"]
    assert suites.problems(stock, patched, {"t/a.py::listed": "x", "t/a.py::regressed": "y"}) == []


def test_both_runs_ran_every_suite_with_the_same_tests(runs):
    stock, patched = runs
    assert set(stock.outcomes) == set(patched.outcomes), (
        "the patched run collected other tests than the stock run: "
        f"{sorted(set(stock.outcomes) ^ set(patched.outcomes))[:20]}")
    for suite in suites.SUITES:
        passed = [node for node, outcome in stock.outcomes.items() if node.startswith(suite + "/")
                  and outcome == "passed"]
        assert len(passed) >= 10, f"only {len(passed)} tests of {suite} passed on stock moto: {stock.log}"
    mappings = [node for node, outcome in patched.outcomes.items()
                if "test_lambda_eventsourcemapping.py" in node and outcome == "passed"]
    assert mappings, f"no event-source-mapping test passed with the patches: {patched.log}"


def test_the_patched_run_had_every_patch_and_the_stock_run_none(runs):
    stock, patched = runs
    assert stock.patches == []
    assert sorted(patched.patches) == sorted(patch.id for patch in moto_patches.patches())
    assert patched.limits == "off"


def test_each_known_difference_names_a_test_of_the_suites_and_a_reason():
    listed = suites.known_differences()
    for node, reason in listed.items():
        assert node.startswith(tuple(suite + "/" for suite in suites.SUITES)) and "::" in node, node
        assert len(reason.split()) >= 5, f"{node}: give the AWS behaviour that labkit keeps on purpose"
