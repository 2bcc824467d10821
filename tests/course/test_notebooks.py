"""The main command's run (`make lab`, `labkit.course run`): every course notebook top to bottom under papermill
on a private local stack with AWS's per-shard Kinesis limits on (the default), with the DIY reference solution,
in order, each continuing from the state the earlier ones left, as a class would. A failing check cell fails the
notebook (and this test); no output may show Kinesis refusing a read or a write."""
from __future__ import annotations

import re

import nbformat
import pytest

from labkit import course
from labkit.local import kinesis_fixes

THROTTLED = re.compile(r"ProvisionedThroughputExceeded|Rate exceeded|[Tt]hrottl")


@pytest.fixture(scope="module")
def course_run(tmp_path_factory) -> dict:
    """The whole course as `make lab` runs it, once for this module: each notebook's result by name."""
    build = tmp_path_factory.mktemp("build")
    with course.environment(**{kinesis_fixes.LIMITS_SETTING: "on"}):
        _, results = course.run(build=build)
    return {result.notebook.name: result for result in results}


def _text(output) -> str:
    """What an output shows as text: printed streams, errors, and the text forms of displayed data."""
    data = output.get("data", {})
    return "".join([output.get("text", ""), output.get("evalue", ""), *output.get("traceback", []),
                    str(data.get("text/plain", "")), str(data.get("text/html", ""))])


@pytest.mark.flink
@pytest.mark.parametrize("notebook", course.notebooks(), ids=lambda p: p.stem)
def test_notebook_runs_headless_and_its_checks_pass(course_run, notebook):
    result = course_run.get(notebook.name)
    assert result is not None, f"{notebook.name} did not run: an earlier notebook failed"
    assert not result.error, result.error
    cells = nbformat.read(result.executed, as_version=4).cells
    outputs = [o for c in cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [m.group() for o in outputs for m in [THROTTLED.search(_text(o))] if m], \
        "Kinesis refused a read or a write where a student sees it"
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    check_call = re.compile(r"\blab\.check\.\w+\(|\bdiy\.check(_results)?\(")
    checks = [c for c in cells if c.cell_type == "code" and check_call.search(c.source)]
    assert printed.count("✓ ") >= len(checks) >= 1, "every check cell printed its ✓"
    plot_call = re.compile(r"\blab\.plots\.live\(|\bdraw_attribution\(")
    plotting = [c for c in cells if c.cell_type == "code" and plot_call.search(c.source)]
    assert all(any("image/png" in o.get("data", {}) for o in c.outputs) for c in plotting), \
        "every plot stays in the executed notebook as a picture"


def test_committed_notebooks_carry_no_outputs():
    for notebook in course.notebooks():
        cells = nbformat.read(notebook, as_version=4).cells
        assert not [c for c in cells if c.cell_type == "code" and (c.outputs or c.execution_count)], notebook.name


def test_each_notebook_has_a_parameters_cell_and_numbered_steps():
    for notebook in course.notebooks():
        cells = nbformat.read(notebook, as_version=4).cells
        parameters = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
        assert len(parameters) == 1 and 'target = "local"' in parameters[0].source, notebook.name
        headings = [line for c in cells if c.cell_type == "markdown" for line in c.source.splitlines()
                    if re.match(r"## (Step|Exercise) \d+ · ", line)]
        numbers = [int(re.search(r"\d+", h).group()) for h in headings]
        assert numbers == list(range(1, len(numbers) + 1)), notebook.name
