"""Run the whole course headless (papermill) on a private local stack and write the instructor preview.

    python -m labkit.course run        # every notebooks/NN_*.ipynb in order -> build/executed/ + build/preview/

The run never touches the student's own stack: it starts a fresh one in a temporary state folder on free
ports, runs each notebook in its own kernel against it (the DIY notebook with its reference solution), and
stops it and deletes its folder at the end, also after a failure or Ctrl-C. Each notebook's passed checks go
to build/executed/<notebook>.results.jsonl, which the preview (`labkit.preview`) shows.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import preview
from .config import LOCAL_HOST, NOTEBOOKS_DIR, REPO_ROOT
from .preview import Result, summarise, vendor_widget_manager
from .results import RESULTS_FILE_VARIABLE

BUILD = REPO_ROOT / "build"
VENDOR = BUILD / "vendor"
# what `make lab` and the tests run with: reference solutions, data sent fast, Start pressed by the panels
HEADLESS = {"target": "local", "solution": True, "pace": "fast", "autostart": True}
CELL_TIMEOUT_S = 900
PORT_VARIABLES = ("LABKIT_AWS_PORT", "LABKIT_SERVICE_PORT", "LABKIT_FLINK_PORT")


def notebooks(folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The course notebooks of `folder` in lab order (their numbered names)."""
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def declared_parameters(notebook: Path) -> set[str]:
    """The names the notebook's `parameters` cell defines."""
    import papermill

    return set(papermill.inspect_notebook(str(notebook)))


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """os.environ with `values` set (kernels started meanwhile inherit them); afterwards each variable is back
    to its earlier value, or unset again."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def execute(notebook: Path, out_dir: Path, parameters: dict, timeout_s: int = CELL_TIMEOUT_S,
            progress: bool = False) -> Path:
    """Execute one notebook with papermill, passing only the parameters it declares; the executed copy keeps
    every output and the widgets' state, and its passed checks go to a fresh results file beside it. A failing
    cell raises papermill's PapermillExecutionError after the copy (with the error in it) is written."""
    import papermill

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / notebook.name
    checks = preview.results_file(out_dir, notebook)
    checks.unlink(missing_ok=True)
    wanted = declared_parameters(notebook)
    with environment(**{RESULTS_FILE_VARIABLE: str(checks)}):
        papermill.execute_notebook(
            str(notebook), str(target), parameters={k: v for k, v in parameters.items() if k in wanted},
            cwd=str(notebook.parent), kernel_name="python3", progress_bar=progress, execution_timeout=timeout_s,
        )
    return target


def write_preview(results: list[Result], preview_dir: Path, vendor: Path = VENDOR) -> Path:
    """HTML of every executed notebook (plots embedded, widgets from their saved state), the differences page
    and the index page with every check's figures; returns the index."""
    preview_dir.mkdir(parents=True, exist_ok=True)
    offline = vendor_widget_manager(vendor)
    if offline:
        shutil.copytree(vendor, preview_dir / "vendor", dirs_exist_ok=True)
    html_exporter = preview.exporter(offline)
    pages = {}
    for result in results:
        if result.executed.exists():  # a kernel that died before papermill saved anything leaves no copy
            page = preview_dir / f"{result.notebook.stem}.html"
            page.write_text(html_exporter.from_filename(str(result.executed))[0], encoding="utf-8")
            pages[result.notebook] = page.name
    differences = preview.differences_page(preview.differences())
    (preview_dir / "differences.html").write_text(differences, encoding="utf-8")
    index = preview_dir / "index.html"
    index.write_text(preview.index_page(results, pages), encoding="utf-8")
    return index


# -- the private stack ------------------------------------------------------------------------------------

def free_ports(count: int) -> list[int]:
    """`count` different ports nobody listens on right now (all probed at once, so none repeats)."""
    with contextlib.ExitStack() as probes:
        sockets = [probes.enter_context(socket.socket()) for _ in range(count)]
        for probe in sockets:
            probe.bind((LOCAL_HOST, 0))
        return [probe.getsockname()[1] for probe in sockets]


@contextlib.contextmanager
def private_stack() -> Iterator[Path]:
    """A fresh local stack for this process and the kernels it starts: its own temporary state folder and free
    ports (LABKIT_* in os.environ, restored afterwards). Yields the state folder; at the end stops the stack
    and everything it started and deletes the folder, whatever happened meanwhile."""
    import labkit

    state = Path(tempfile.mkdtemp(prefix="labkit-course-"))
    ports = dict(zip(PORT_VARIABLES, map(str, free_ports(len(PORT_VARIABLES)))))
    try:
        with environment(LABKIT_TARGET="local", LABKIT_STATE_DIR=str(state), **ports):
            try:
                labkit.up(quiet=True)
                yield state
            finally:
                labkit.down(quiet=True)
    finally:
        shutil.rmtree(state, ignore_errors=True)
        if state.exists():
            print(f"course: could not delete the run's state folder {state}; delete it by hand.", file=sys.stderr)


# -- the whole course -------------------------------------------------------------------------------------

def _execute_in_order(course: list[Path], out_dir: Path, parameters: dict) -> list[Result]:
    """Execute the notebooks one after the other, stopping at the first failure."""
    results = []
    for number, notebook in enumerate(course, 1):
        print(f"[{number}/{len(course)}] {notebook.name} ...", flush=True)
        began, error = time.monotonic(), ""
        try:
            executed = execute(notebook, out_dir, parameters, progress=sys.stderr.isatty())
        except Exception as failure:  # papermill's error names the cell; the copy holds the traceback
            executed, error = out_dir / notebook.name, str(failure).strip().splitlines()[-1]
        results.append(summarise(notebook, executed, time.monotonic() - began, error))
        last = results[-1]
        print(f"[{number}/{len(course)}] {notebook.name} " + (f"FAILED: {last.error}" if last.error else
              f"done in {last.seconds:.0f} s, {last.checks} checks ✓"), flush=True)
        if last.error:
            break
    return results


def run(parameters: dict | None = None, build: Path = BUILD,
        course: Path | Sequence[Path] = NOTEBOOKS_DIR) -> tuple[Path, list[Result]]:
    """Execute the course (a folder of numbered notebooks, or a list of them) in order on a private local
    stack, stopping at the first failure, then write the preview. Returns the index page and each executed
    notebook's result; the last one carries the failure, if any."""
    course = notebooks(course) if isinstance(course, Path) else list(course)
    parameters = {**HEADLESS, **(parameters or {}), "stop_stack": False}  # the runner stops its stack itself
    for earlier in ("executed", "preview"):  # nothing of a previous run mixes into this one
        shutil.rmtree(build / earlier, ignore_errors=True)
    started = time.monotonic()
    with private_stack():
        results = _execute_in_order(course, build / "executed", parameters)
    total = time.monotonic() - started
    (build / "executed").mkdir(parents=True, exist_ok=True)
    index = write_preview(results, build / "preview")
    summary = {"seconds": round(total),
               "notebooks": {r.notebook.name: {"seconds": round(r.seconds), "checks": r.checks, "error": r.error}
                             for r in results}}
    (build / "executed" / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"course: {len(results)} of {len(course)} notebooks in {total / 60:.1f} min; instructor preview: {index}")
    return index, results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.course")
    parser.add_argument("command", choices=["run"], help="run every notebook headless, then write the preview")
    parser.parse_args(argv)
    _, results = run()
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
