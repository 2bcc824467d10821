"""BENCHMARKS.md prints only what a run measured: no figure is typed into the report code of bench/.

Report code is each module's `render`, the generated part of `write_report` in bench/__main__.py, and what they
reach: functions and module-level texts of bench/ they name, through imports too. In it, a figure is a digit
in printed text (string literals and the constant parts of f-strings, replacement fields and format specs
left out) or a number in the code, other than the few below that are not figures."""
from __future__ import annotations

import ast
import re
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
ENTRIES = {"__main__": "write_report"}  # other modules: render
NOT_FIGURES = re.compile(r"\bp(50|99)\b")  # percentile labels
PLAIN_NUMBERS = {0, 1, 2, 3, 1000, 1e6}  # indexes, halves, rounding digits; milli-, micro-
FIELD = re.compile(r"\{[^{}]*\}")  # a str.format replacement field


def _modules(folder: Path) -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text(), str(path)) for path in sorted(folder.glob("*.py"))}


def _top_level(tree: ast.Module) -> dict[str, ast.AST]:
    """Functions and module-level values by name (GOAL_* constants left out: a goal is no measurement), and the
    names imported from sibling modules as (module, name)."""
    found: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            found[node.name] = node
        elif isinstance(node, ast.Assign):
            found.update((target.id, node) for target in node.targets
                         if isinstance(target, ast.Name) and not target.id.startswith("GOAL"))
        elif isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            found.update((alias.asname or alias.name, (node.module, alias.name)) for alias in node.names)
    return found


def _lookups(tree: ast.AST) -> set[int]:
    """ids of string constants that only look a value up (result["key"], result.get("key")), never printed."""
    keys = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            keys.add(id(node.slice))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            keys.update(id(arg) for arg in node.args[:1])
    return keys


def _figures(node: ast.AST) -> list[str]:
    """The figure literals inside one function or assignment."""
    skip = _lookups(node)
    specs = {id(inner) for value in ast.walk(node) if isinstance(value, ast.FormattedValue)
             for inner in ast.walk(value.format_spec or ast.Constant(""))}
    found = []
    for const in ast.walk(node):
        if not isinstance(const, ast.Constant) or id(const) in skip | specs or isinstance(const.value, bool):
            continue
        if isinstance(const.value, str):
            text = NOT_FIGURES.sub("", FIELD.sub("", const.value))
            if re.search(r"\d", text):
                found.append(f"line {const.lineno}: {const.value!r}")
        elif isinstance(const.value, int | float) and const.value not in PLAIN_NUMBERS:
            found.append(f"line {const.lineno}: {const.value!r}")
    return found


def figure_literals(modules: dict[str, ast.Module]) -> list[str]:
    """Every figure literal in the report code of `modules`, as "module: line N: literal"."""
    names = {name: _top_level(tree) for name, tree in modules.items()}
    todo = [(module, ENTRIES.get(module, "render")) for module in modules]
    seen, found = set(), []
    while todo:
        module, name = todo.pop()
        target = names.get(module, {}).get(name)
        if (module, name) in seen or target is None:
            continue
        seen.add((module, name))
        if isinstance(target, tuple):  # imported from a sibling module
            todo.append(target)
            continue
        found += [f"{module}: {figure}" for figure in _figures(target)]
        todo += [(module, node.id) for node in ast.walk(target) if isinstance(node, ast.Name)]
    return sorted(found)


PLANTED = '''
from .common import verdict

STOCK = "Stock moto slows from ~5,400 rec/s to ~1,130 at 60k."

def render(result):
    return (f"| rate | {result['rate']:,} rec/s | goal 5,000 rec/s | {result['rate'] / 5000:.2f} |\\n"
            "p99 {p99_s} s, load {load}" + STOCK + verdict(result)).format(**result)
'''
PLANTED_COMMON = '''
def verdict(result):
    return "meets the goal" if result["load_average_1_5_15_min"][0] < 2 else "an earlier run had p99 46 s"
'''


def test_the_detector_flags_planted_figures_and_nothing_else():
    found = figure_literals({"planted": ast.parse(PLANTED), "common": ast.parse(PLANTED_COMMON)})
    planted = ["~5,400 rec/s", "goal 5,000 rec/s", "5000", "p99 46 s"]
    assert len(found) == len(planted) and all(any(p in line for line in found) for p in planted), found


def test_report_code_prints_only_figures_read_from_results():
    found = figure_literals(_modules(BENCH))
    assert not found, "figures typed into bench's report code (read them from the results file):\n" + "\n".join(found)


def test_rewriting_the_report_keeps_the_hand_written_notes(tmp_path, monkeypatch):
    import bench.__main__ as report

    monkeypatch.setattr(report, "ROOT", tmp_path)
    monkeypatch.setattr(report, "RESULTS", tmp_path / "results")
    notes = f"{report.HAND_WRITTEN}\n## Notes\n\n### 2026-12-04\n- what was found, by hand\n"
    (tmp_path / "BENCHMARKS.md").write_text("# Benchmarks\n\n| old table |\n\n" + notes)
    report.write_report()
    text = (tmp_path / "BENCHMARKS.md").read_text()
    assert text.endswith(notes) and "old table" not in text and text.count("Not measured yet") == len(report.BENCHMARKS)
