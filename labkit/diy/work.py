"""Where the DIY student's code lives, and the course's own version of each file the student writes."""
from __future__ import annotations

from pathlib import Path

from ..config import FLINK_DIR, LAMBDAS_DIR, settings

WINDOW_RULE = "window_max.py"  # exercise 1: CalculateMaxSpeed's add_reading, zipped beside main.py
RECORD_RULE = "diy_record.py"  # exercise 7: DIYFunction's handle_record, zipped beside diy_function.py
# The reference solutions: the modules the course's own apps run (unit-tested there, and not in the notebook).
REFERENCE = {WINDOW_RULE: FLINK_DIR / "max_wind_speed" / WINDOW_RULE, RECORD_RULE: LAMBDAS_DIR / RECORD_RULE}


def work_folder() -> Path:
    """The folder of the student's DIY code (created if missing): in the lab's state folder, outside the
    repository, so updating the course never touches it and the headless course run (with its own state
    folder) never overwrites it."""
    folder = settings().state_dir / "diy"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
