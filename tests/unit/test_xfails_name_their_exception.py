"""An expected failure names the exception of the defect it shows (`raises=`), so that a set-up that breaks
(a stock moto server that does not start, a missing fixture) fails the test instead of passing for the defect."""
from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def xfails_without_raises(tree: ast.AST) -> list[int]:
    """Lines of `xfail(...)` marks and `pytest.xfail` calls that do not name an exception with raises=."""
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "xfail"
            and "raises" not in {keyword.arg for keyword in node.keywords}]


def test_the_check_finds_an_xfail_without_raises():
    planted = ast.parse("@pytest.mark.xfail(strict=True, reason='stock moto')\ndef test_a(): ...\n"
                        "@pytest.mark.xfail(strict=True, raises=AssertionError)\ndef test_b(): ...\n")
    assert xfails_without_raises(planted) == [1]


def test_every_xfail_in_the_tests_names_its_exception():
    found = [f"{path.relative_to(TESTS)}:{line}" for path in sorted(TESTS.rglob("*.py"))
             for line in xfails_without_raises(ast.parse(path.read_text(), str(path)))]
    assert not found, f"xfail without raises= (name the defect's exception): {found}"
