"""Every course notebook runs top to bottom under papermill on the local target; a failing check cell
fails the notebook (and this test)."""
from __future__ import annotations

import nbformat
import pytest

from labkit import course


@pytest.mark.parametrize("notebook", course.notebooks(), ids=lambda p: p.stem)
def test_notebook_runs_headless_and_its_checks_pass(stack, notebook, tmp_path):
    executed = course.execute(notebook, tmp_path, {"target": "local"})
    cells = nbformat.read(executed, as_version=4).cells
    outputs = [o for c in cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "✓" in printed, "every notebook has at least one passing check cell"


def test_committed_notebooks_carry_no_outputs():
    for notebook in course.notebooks():
        cells = nbformat.read(notebook, as_version=4).cells
        assert not [c for c in cells if c.cell_type == "code" and (c.outputs or c.execution_count)], notebook.name
