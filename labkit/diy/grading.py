"""What the autograder shares: a mistake with its hint, and a student's file loaded as a fresh module."""
from __future__ import annotations

import ast
import contextlib
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator


class Mistake(Exception):
    """What is wrong with the student's code (`problem`) and what to do about it (`hint`)."""

    def __init__(self, problem: str, hint: str):
        super().__init__(problem)
        self.problem, self.hint = problem, hint


@dataclass(frozen=True)
class Runtime:
    """Where the student's file runs, and what it may import there besides the standard library."""

    name: str
    extra: frozenset[str]
    offers: str
    search: Path | None = None  # the folder of the modules zipped beside the student's file


def _top_level_imports(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


@contextlib.contextmanager
def importable(folder: Path | None) -> Iterator[None]:
    if folder is None:
        yield
        return
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        sys.path.remove(str(folder))


def load(path: Path, function: str, runtime: Runtime) -> Callable:
    """`function` from a fresh import of the student's file (so a re-run cell counts); Mistake if the file is
    missing, is not Python, imports what `runtime` lacks, fails on import or has no such function."""
    if not path.is_file():
        raise Mistake(f"there is no {path.name} in {path.parent} yet.",
                      "run the exercise's %%writefile cell: it saves the code in it to that file.")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except SyntaxError as error:
        raise Mistake(f"{path.name} line {error.lineno} is not valid Python: {error.msg}.",
                      "fix that line in the cell and run the cell again.") from None
    missing = sorted({name for name in _top_level_imports(tree)
                      if name not in sys.stdlib_module_names and name not in runtime.extra})
    if missing:
        raise Mistake(f"{path.name} imports {', '.join(missing)}, which {runtime.name} does not have.",
                      f"{runtime.name} offers {runtime.offers}: write it with those.")
    module = types.ModuleType(f"labkit_diy_{path.stem}")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module  # what dataclasses and pickle look a module up by
    with importable(runtime.search):
        try:
            exec(compile(tree, str(path), "exec"), module.__dict__)
        except Exception as error:
            raise Mistake(f"{path.name} fails when it is imported: {type(error).__name__}: {error}.",
                          "the code outside the function runs on import: fix it and run the cell again.") from None
    found = getattr(module, function, None)
    if not callable(found):
        raise Mistake(f"{path.name} defines no function {function}.",
                      f"keep the line `def {function}(...)` of the exercise's cell and write its body below it.")
    return found

