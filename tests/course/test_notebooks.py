"""Every course notebook runs top to bottom under papermill on the local target, with the DIY reference
solution; a failing check cell fails the notebook (and this test). The notebooks run in order on the one
test stack, as a class would: each one continues from the state the earlier ones left."""
from __future__ import annotations

import re

import nbformat
import pytest

from labkit import course


@pytest.mark.flink
@pytest.mark.parametrize("notebook", course.notebooks(), ids=lambda p: p.stem)
def test_notebook_runs_headless_and_its_checks_pass(stack, notebook, tmp_path):
    executed = course.execute(notebook, tmp_path, course.HEADLESS)
    cells = nbformat.read(executed, as_version=4).cells
    outputs = [o for c in cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
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
