"""The mutation checks (tests/reliability/mutations.py) still apply to the code: each mutation's old text occurs
exactly once in its file at HEAD, and each drill it runs exists. Nothing here runs a drill."""
from __future__ import annotations

import ast
import subprocess

import pytest

from tests.reliability.mutations import MUTATIONS, REPO, head_text


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_the_mutation_old_text_occurs_exactly_once_at_head(mutation):
    assert mutation.occurrences_at_head() == 1, (
        f"{mutation.name}: its old text is not found exactly once in {mutation.file} at HEAD; the code moved, "
        "fix the mutation")
    assert mutation.old != mutation.new


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_the_mutated_file_still_parses(mutation):
    """A mutation that breaks the syntax would fail every drill for the wrong reason."""
    ast.parse(head_text(mutation.file).replace(mutation.old, mutation.new), mutation.file)


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_the_drill_of_the_mutation_exists(mutation):
    path, _, test = mutation.drill.partition("::")
    tests = {node.name for node in ast.walk(ast.parse(head_text(path), path))
             if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assert test.partition("[")[0] in tests, f"{mutation.name}: {path} at HEAD has no test {test}"


def test_the_mutations_edit_the_lab_code_only():
    """Mutations remove protections of labkit/, lambdas/ or flink/; the drills themselves are not mutated."""
    assert [m.name for m in MUTATIONS if not m.file.startswith(("labkit/", "lambdas/", "flink/"))] == []
    assert all(m.expected in ("fails", "passes") for m in MUTATIONS)
    assert all(m.reason for m in MUTATIONS if m.expected == "passes"), "a row expected to pass says why"
    rebuilt = {m.name for m in MUTATIONS if m.rebuild_zip}
    assert rebuilt == {m.name for m in MUTATIONS if m.file.startswith("flink/")}, "a Flink edit rebuilds the zip"


def test_the_drill_ids_are_collected_by_pytest():
    """pytest itself finds each drill's node id (collection only)."""
    drills = sorted({m.drill for m in MUTATIONS})
    done = subprocess.run([str(REPO / ".venv" / "bin" / "python"), "-m", "pytest", "--collect-only", "-q",
                           "-p", "no:cacheprovider", *drills], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    collected = {line.strip() for line in done.stdout.splitlines()}
    assert set(drills) <= collected, sorted(set(drills) - collected)
