"""The reference solution of each DIY exercise, for the headless run (solution=True) and a stuck student.

Exercises 1 and 7 are code: their reference is the course's own module (work.REFERENCE), copied into the student's
work folder. The others are one labkit call each, as the console action they stand for.
"""
from __future__ import annotations

import inspect
import re
import shutil
import textwrap
from pathlib import Path
from typing import Callable

import labkit as lab

from ..config import DIY_WINDOW_S
from .checks import exercise_number
from .work import RECORD_RULE, REFERENCE, WINDOW_RULE, work_folder

CODE = {1: WINDOW_RULE, 7: RECORD_RULE}  # exercise -> the file the student writes
SHOWN_AS_VALUES = {"DIY_WINDOW_S": DIY_WINDOW_S}  # the lab's constants a solution uses, shown as their values


def _solution_2(work: Path):
    return lab.streams.create("MaxWindSpeed", shards=1)


def _solution_3(work: Path):
    return lab.apps.create("CalculateMaxSpeed", modules=[work / "window_max.py"])


def _solution_4(work: Path):
    return lab.apps.configure(
        "CalculateMaxSpeed", group="lab", inputStreamName="WindDataStream", outputStreamName="MaxWindSpeed",
        region=lab.settings().region, windowLengthSeconds=DIY_WINDOW_S)


def _solution_5(work: Path):
    return lab.apps.run("CalculateMaxSpeed", from_latest_snapshot=True)


def _solution_6(work: Path):
    return lab.tables.create("DIYTable", partition_key="location", sort_key="timestamp")


def _solution_8(work: Path):
    return lab.functions.deploy("DIYFunction", modules=[work / "diy_record.py"])


def _solution_9(work: Path):
    return lab.functions.add_trigger("DIYFunction", "MaxWindSpeed", batch_size=100, starting_position="TRIM_HORIZON")


CALLS: dict[int, Callable[[Path], object]] = {2: _solution_2, 3: _solution_3, 4: _solution_4, 5: _solution_5,
                                              6: _solution_6, 8: _solution_8, 9: _solution_9}


def solution_code(exercise: int) -> str:
    """The reference solution of `exercise`, as code: the module to write, or the labkit call."""
    if exercise_number(exercise) in CODE:
        return REFERENCE[CODE[exercise]].read_text(encoding="utf-8").strip()
    source = textwrap.dedent(inspect.getsource(CALLS[exercise]).split("\n", 1)[1]).strip().removeprefix("return ")
    for name, value in SHOWN_AS_VALUES.items():
        source = re.sub(rf"\b{name}\b", repr(value), source)
    return source


def solve(exercise: int):
    """Run the reference solution of `exercise` (the headless run does, with solution=True) and show its code;
    for a code exercise, write the reference module into the work folder, over the student's file."""
    print(f"reference solution of exercise {exercise}:\n{textwrap.indent(solution_code(exercise), '    ')}")
    work = work_folder()
    if exercise in CODE:
        return shutil.copyfile(REFERENCE[CODE[exercise]], work / CODE[exercise])
    return CALLS[exercise](work)
