"""Each value a student sees is written in one place: labkit/config.py (ALERT_THRESHOLD, ALERT_SUBJECT,
DIY_WINDOW_S, iso_time). A Lambda zip or a Flink zip cannot import labkit, so labkit passes the value in (the
function's environment, the application's runtime properties) and the handler or job keeps one copy as its
default, in the module its zip carries: those copies are the only other places allowed, and they must equal
labkit's."""
from __future__ import annotations

import re
import sys

from labkit.config import (ALERT_SUBJECT, ALERT_THRESHOLD, DIY_WINDOW_S, FLINK_DIR, LAMBDAS_DIR, NAMES, REPO_ROOT,
                           iso_time)
from labkit.resources import apps

sys.path[:0] = [str(LAMBDAS_DIR), str(FLINK_DIR / "anomaly_detection"), str(FLINK_DIR / "max_wind_speed")]

import anomaly_message_delivery as delivery  # noqa: E402
import detector  # noqa: E402
import kinesis_batch  # noqa: E402
import windowing  # noqa: E402


def _number(value: float) -> str:
    """`value` as a number in source text (2, 2.0, "2"), not as part of another number or a time."""
    return rf"(?<![\w.:-]){re.escape(f'{value:g}')}(?:\.0+)?(?![\w.:])"


# What each constant's literal looks like in a line of source (grep-style, one line at a time).
LITERALS = {
    "alert threshold": re.compile(rf"(?i)(threshold|min_score)\W.*{_number(ALERT_THRESHOLD)}|"
                                  rf"{_number(ALERT_THRESHOLD)}.*threshold"),
    "mail subject": re.compile(re.escape(ALERT_SUBJECT)),
    "DIY window length": re.compile(rf"(?i)window\w*(\W+\w+){{0,2}}?\W+{_number(DIY_WINDOW_S)}|"
                                    rf"{_number(DIY_WINDOW_S)}[- ]?(s|sec|seconds?)\W+windows?"),
    "time format": re.compile(r"%Y-%m-%dT%H:%M:%S|timespec=.milliseconds|\[:-3\]\s*\+\s*.Z|:03d\}Z"),
}
# The one definition of each, and the one copy a zip needs where the value must be a literal default there.
ALLOWED = {
    ("labkit/config.py", "alert threshold"), ("labkit/config.py", "mail subject"),
    ("labkit/config.py", "DIY window length"), ("labkit/config.py", "time format"),
    ("lambdas/anomaly_message_delivery.py", "alert threshold"),  # THRESHOLD when the variable is not set
    ("lambdas/anomaly_message_delivery.py", "mail subject"),  # SUBJECT when the variable is not set
    ("lambdas/kinesis_batch.py", "time format"),  # iso_time, in every function's zip
    ("flink/anomaly_detection/detector.py", "alert threshold"),  # score_threshold without rcf.scoreThreshold
    ("flink/max_wind_speed/windowing.py", "time format"),  # iso_time, in CalculateMaxSpeed's zip
}
# Not switched yet: files another change owns (the labkit/local rework, the table explorer widget). Each must
# import its value from labkit.config; then its line here goes.
ISOLATED_COPIES = {  # the Lambda worker runs isolated from labkit (only what AWS's python3.11 runtime has), so it keeps one copy
    ("labkit/local/lambda_runtime/worker.py", "time format"),
}


def _sources():
    for folder in ("labkit", "lambdas", "flink"):
        for path in sorted((REPO_ROOT / folder).rglob("*")):
            if path.suffix in (".py", ".json", ".html", ".js") and "target" not in path.parts:
                yield path.relative_to(REPO_ROOT).as_posix(), path.read_text(encoding="utf-8")


def _found() -> dict[tuple[str, str], list[int]]:
    """(file, constant) -> the numbers of the lines that write the constant's literal."""
    found: dict[tuple[str, str], list[int]] = {}
    for path, text in _sources():
        for number, line in enumerate(text.splitlines(), 1):
            for constant, literal in LITERALS.items():
                if literal.search(line):
                    found.setdefault((path, constant), []).append(number)
    return found


def test_each_constant_is_written_in_one_place_and_once_in_a_zip_that_needs_it():
    found = _found()
    stray = {place: lines for place, lines in found.items() if place not in ALLOWED | ISOLATED_COPIES}
    assert stray == {}, "use labkit.config (or, inside a Lambda or Flink zip, the copy ALLOWED names)"
    copies = {place: lines for place, lines in found.items() if place in ALLOWED and len(lines) != 1}
    assert copies == {}, "an allowed file writes the literal once: its definition"
    assert {place for place in ALLOWED if place not in found} == set(), "ALLOWED names a place that has no copy"


def test_the_zips_copies_equal_labkits_constants():
    assert (delivery.SUBJECT, delivery.THRESHOLD) == (ALERT_SUBJECT, ALERT_THRESHOLD)
    assert detector.DetectorSettings().score_threshold == ALERT_THRESHOLD
    for epoch_ms in (0, 1_717_405_200_000, 1_795_773_605_250, 1_795_773_605_999):
        assert kinesis_batch.iso_time(epoch_ms / 1000) == windowing.iso_time(epoch_ms) == iso_time(epoch_ms)
    assert iso_time(1_717_405_200_000) == "2024-06-03T09:00:00.000Z"


def test_labkit_passes_its_values_in_where_a_zip_cannot_read_them():
    assert float(apps.default_properties(NAMES.anomaly_app)["lab"]["rcf.scoreThreshold"]) == ALERT_THRESHOLD
    assert "rcf.scoreThreshold" not in apps.default_properties(NAMES.max_speed_app)["lab"]
    settings = detector.DetectorSettings.from_properties(apps.default_properties(NAMES.anomaly_app)["lab"])
    assert settings.score_threshold == ALERT_THRESHOLD
    assert DIY_WINDOW_S == 10 and ALERT_THRESHOLD == 2 and ALERT_SUBJECT == "Abnormal Wind Turbine Speed Detected"
