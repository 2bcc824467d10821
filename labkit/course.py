"""Run the whole course headless (papermill) and write the instructor preview (`make lab`).

    python -m labkit.course run        # every notebooks/NN_*.ipynb in order -> build/executed/ + build/preview/

Each notebook runs in its own kernel on the local target, with the DIY notebook's reference solution. The
preview is nbconvert HTML with the plots embedded; the widgets render from their saved state with a local
copy of the Jupyter widget manager (fetched once with npm into build/vendor/), so it works offline.
"""
from __future__ import annotations

import argparse
import html
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .config import NOTEBOOKS_DIR, REPO_ROOT

BUILD = REPO_ROOT / "build"
VENDOR = BUILD / "vendor"
HEADLESS = {"target": "local", "solution": True}  # what `make lab` and the tests run with
CELL_TIMEOUT_S = 900
WIDGET_PACKAGES = {  # npm package -> folder of the preview's vendor/ that gets its files
    "@jupyter-widgets/html-manager@1.0.15": ("dist", "html-manager"),
    "requirejs@2.3.8": ("require.js", "require.js"),
}


def notebooks() -> list[Path]:
    """The course notebooks in lab order (their numbered names)."""
    return sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def declared_parameters(notebook: Path) -> set[str]:
    """The names the notebook's `parameters` cell defines."""
    import papermill

    return set(papermill.inspect_notebook(str(notebook)))


def execute(notebook: Path, out_dir: Path, parameters: dict, timeout_s: int = CELL_TIMEOUT_S,
            progress: bool = False) -> Path:
    """Execute one notebook with papermill, passing only the parameters it declares; the executed copy keeps
    every output and the widgets' state. A failing cell raises papermill's PapermillExecutionError after the
    copy (with the error in it) is written."""
    import papermill

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / notebook.name
    wanted = declared_parameters(notebook)
    papermill.execute_notebook(
        str(notebook), str(target), parameters={k: v for k, v in parameters.items() if k in wanted},
        cwd=str(notebook.parent), kernel_name="python3", progress_bar=progress, execution_timeout=timeout_s,
    )
    return target


# -- a run's results ------------------------------------------------------------------------------------

@dataclass
class Result:
    notebook: Path
    executed: Path
    seconds: float
    checks: int = 0
    error: str = ""
    title: str = ""


def summarise(notebook: Path, executed: Path, seconds: float, error: str = "") -> Result:
    """Title, passed checks and first error of an executed notebook."""
    cells = nbformat.read(executed, as_version=4).cells if executed.exists() else []
    title = next((c.source.splitlines()[0].lstrip("# ") for c in cells if c.cell_type == "markdown" and c.source),
                 notebook.stem)
    printed = "".join(o.get("text", "") for c in cells if c.cell_type == "code" for o in c.get("outputs", [])
                      if o.get("output_type") == "stream")
    errors = [f"{o['ename']}: {o['evalue']}" for c in cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    return Result(notebook, executed, seconds, printed.count("✓ "), error or (errors[0] if errors else ""), title)


# -- the preview ----------------------------------------------------------------------------------------

def vendor_widget_manager(vendor: Path = VENDOR) -> bool:
    """A local copy of the Jupyter widget manager and require.js (npm pack, once); False if npm cannot get it."""
    wanted = [vendor / folder for _, folder in WIDGET_PACKAGES.values()]
    if all(path.exists() for path in wanted):
        return True
    npm = shutil.which("npm")
    if not npm:
        return False
    vendor.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run([npm, "pack", "--silent", *WIDGET_PACKAGES], cwd=scratch, capture_output=True,
                              text=True, timeout=300)
        if done.returncode != 0:
            print(f"preview: npm could not fetch the widget manager ({done.stderr.strip()[:300]}); widgets will "
                  "show as blank, every other output shows.", file=sys.stderr)
            return False
        for tarball in Path(scratch).glob("*.tgz"):
            with tarfile.open(tarball) as archive:
                archive.extractall(Path(scratch) / tarball.stem, filter="data")
        for package, (inside, folder) in WIDGET_PACKAGES.items():
            name = package.rsplit("@", 1)[0].lstrip("@").replace("/", "-")
            source = next(Path(scratch).glob(f"{name}-*")) / "package" / inside
            target = vendor / folder
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                shutil.copy2(source, target)
    return True


def exporter(offline_widgets: bool):
    """nbconvert's lab HTML exporter that loads nothing from a CDN: require.js and the widget manager come
    from vendor/ beside the pages, MathJax is left out (the course has no formulas)."""
    from nbconvert import HTMLExporter

    settings_ = {"template_name": "lab", "mathjax_url": ""}
    if offline_widgets:
        settings_.update(require_js_url="vendor/require.js",
                         widget_renderer_url="vendor/html-manager/embed-amd.js")
    return HTMLExporter(**settings_)


def write_preview(results: list[Result], preview_dir: Path, vendor: Path = VENDOR) -> Path:
    """HTML of every executed notebook (plots embedded, widgets from their saved state) and an index page."""
    preview_dir.mkdir(parents=True, exist_ok=True)
    offline = vendor_widget_manager(vendor)
    if offline:
        shutil.copytree(vendor, preview_dir / "vendor", dirs_exist_ok=True)
    html_exporter = exporter(offline)
    rows = []
    for result in results:
        name = html.escape(result.notebook.stem)
        if result.executed.exists():  # a kernel that died before papermill saved anything leaves no copy
            page = preview_dir / f"{result.notebook.stem}.html"
            page.write_text(html_exporter.from_filename(str(result.executed))[0], encoding="utf-8")
            name = f'<a href="{html.escape(page.name)}">{name}</a>'
        outcome = (f'<span class="bad">✗ {html.escape(result.error[:200])}</span>' if result.error
                   else f'<span class="ok">{result.checks} checks ✓</span>')
        rows.append(f"<tr><td>{name}</td><td>{html.escape(result.title)}</td><td>{result.seconds:.0f} s</td>"
                    f"<td>{outcome}</td></tr>")
    index = preview_dir / "index.html"
    index.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>Lab 22 - instructor preview</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#1b2733}"
        "td,th{padding:.3rem .8rem;text-align:left;border-bottom:1px solid #dde3e8}"
        ".ok{color:#1d5e2c}.bad{color:#8a1c13}</style></head>"
        "<body><h1>Lab 22 · Real Time Data Processing — instructor preview</h1>"
        f"<p>Executed {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on the local target, headless, with "
        "the DIY reference solution.</p>"
        "<table><tr><th>notebook</th><th>title</th><th>run time</th><th>outcome</th></tr>"
        f"{''.join(rows)}</table></body></html>",
        encoding="utf-8",
    )
    return index


# -- the whole course -------------------------------------------------------------------------------------

def run(parameters: dict | None = None, build: Path = BUILD) -> tuple[Path, list[Result]]:
    """Execute every notebook in order (stopping at the first failure), then write the preview. Stops the
    local stack at the end (notebook 99) unless it was already running before."""
    from .local import control

    parameters = {**HEADLESS, "stop_stack": not control.is_running(), **(parameters or {})}
    course, results = notebooks(), []
    started = time.monotonic()
    for number, notebook in enumerate(course, 1):
        print(f"[{number}/{len(course)}] {notebook.name} ...", flush=True)
        began, error = time.monotonic(), ""
        try:
            executed = execute(notebook, build / "executed", parameters, progress=sys.stderr.isatty())
        except Exception as failure:  # papermill's error names the cell; the copy holds the traceback
            executed, error = build / "executed" / notebook.name, str(failure).strip().splitlines()[-1]
        results.append(summarise(notebook, executed, time.monotonic() - began, error))
        last = results[-1]
        print(f"[{number}/{len(course)}] {notebook.name} " + (f"FAILED: {last.error}" if last.error else
              f"done in {last.seconds:.0f} s, {last.checks} checks ✓"), flush=True)
        if last.error:
            break
    total = time.monotonic() - started
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
