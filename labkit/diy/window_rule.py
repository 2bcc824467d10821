"""Autograder of exercise 1: CalculateMaxSpeed's window rule `add_reading(maximum, speed)` on edge cases.

The rule runs in this kernel, before it goes into the application's zip: each case adds readings one by one,
from the `maximum` given (None: an empty window), and compares the window's highest speed with the expected.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..results import figure
from .grading import Mistake, Runtime, load

FLINK = Runtime("Managed Flink's Python", frozenset({"pyflink"}), "the standard library and pyflink")
ANY_ORDER = ("readings reach a window in any order (late ones within the out-of-orderness bound too): the "
             "highest is the highest, whatever the order.")


@dataclass(frozen=True)
class Case:
    what: str
    maximum: float | None  # the window's highest speed before the readings; None: the window is empty
    readings: tuple[float, ...]
    expected: float
    hint: str

    def call(self) -> str:
        if len(self.readings) == 1:
            return f"add_reading({self.maximum!r}, {self.readings[0]!r})"
        return f"adding the readings {list(self.readings)} one by one to an empty window"


CASES = (
    Case("an empty window gets its first reading", None, (31.57,), 31.57,
         "the first reading of a window comes with maximum=None (nothing counted yet): return its speed."),
    Case("a higher reading", 31.57, (44.4,), 44.4,
         "a reading above the maximum is the new maximum: return the higher of the two."),
    Case("a lower reading", 44.4, (38.2,), 44.4,
         "a reading below the maximum leaves it as it is: return the higher of the two, max(maximum, speed)."),
    Case("a tie", 44.4, (44.4,), 44.4, "the same speed again is still the maximum."),
    Case("the next window, on its own", None, (20.0, 23.5), 23.5,
         "each window starts from maximum=None and Flink passes that window's own maximum in: keep nothing "
         "between calls (no global variable)."),
    Case("a calm window of one reading (0 mph)", None, (0.0,), 0.0,
         "0 mph is a reading like any other: a window of one reading has it as its maximum."),
    Case("readings out of order", None, (38.2, 12.5, 44.4, 31.0), 44.4, ANY_ORDER),
    Case("the same readings in reverse", None, (31.0, 44.4, 12.5, 38.2), 44.4, ANY_ORDER),
)


def _add(rule: Callable, case: Case, maximum: float | None, speed: float) -> float:
    call = f"add_reading({maximum!r}, {speed!r})"
    try:
        result = rule(maximum, speed)
    except Exception as error:
        raise Mistake(f"{call} raised {type(error).__name__}: {error} ({case.what}).", case.hint) from None
    if result is None:
        raise Mistake(f"{call} returned None ({case.what}).",
                      "add_reading must return the window's highest speed so far: write its body below the ✎ line "
                      "(or is a `return` missing?).")
    if isinstance(result, bool) or not isinstance(result, (int, float)):
        raise Mistake(f"{call} returned {result!r}, a {type(result).__name__} ({case.what}).",
                      "return the speed as a number (a float): Flink writes it into the window's JSON result.")
    return result


def _run(rule: Callable, case: Case) -> float:
    maximum = case.maximum
    for speed in case.readings:
        maximum = _add(rule, case, maximum, speed)
    if maximum != case.expected:
        rounded = maximum in (round(case.expected), round(case.expected, 1))
        raise Mistake(f"{case.call()} gave {maximum!r}, not {case.expected!r} ({case.what}).",
                      "keep each speed as it is: do not round it." if rounded else case.hint)
    return maximum


def grade(path: Path) -> dict:
    """Run the student's add_reading on every edge case; the figure of what was compared. Mistake names the
    first case it gets wrong."""
    rule = load(path, "add_reading", FLINK)
    actual = {case.what: _run(rule, case) for case in CASES}
    return figure("add_reading on edge cases (the window's highest speed, mph)",
                  {case.what: case.expected for case in CASES}, actual)
