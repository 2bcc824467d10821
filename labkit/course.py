"""Run the whole course headless (papermill) and write the instructor preview (`make lab`)."""
from __future__ import annotations

import argparse
import html
import sys
import time
from pathlib import Path

from .config import NOTEBOOKS_DIR, REPO_ROOT

BUILD = REPO_ROOT / "build"


def notebooks() -> list[Path]:
    """The course notebooks in lab order (their numbered names)."""
    return sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def execute(notebook: Path, out_dir: Path, parameters: dict, timeout_s: int = 900) -> Path:
    """Execute one notebook with papermill; the executed copy keeps every output."""
    import papermill

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / notebook.name
    papermill.execute_notebook(
        str(notebook), str(target), parameters=parameters, cwd=str(notebook.parent),
        kernel_name="python3", progress_bar=False, execution_timeout=timeout_s,
    )
    return target


def write_preview(executed: list[Path], preview_dir: Path) -> Path:
    """HTML of every executed notebook (plots embedded) and an index page linking them."""
    from nbconvert import HTMLExporter

    preview_dir.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(template_name="lab")
    rows = []
    for notebook in executed:
        body, _ = exporter.from_filename(str(notebook))
        page = preview_dir / f"{notebook.stem}.html"
        page.write_text(body, encoding="utf-8")
        rows.append(f'<li><a href="{html.escape(page.name)}">{html.escape(notebook.stem)}</a></li>')
    index = preview_dir / "index.html"
    index.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>Lab 22 - instructor preview</title></head>"
        "<body><h1>Lab 22 · Real Time Data Processing — instructor preview</h1>"
        f"<p>Executed {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on the local target.</p>"
        f"<ol>{''.join(rows)}</ol></body></html>",
        encoding="utf-8",
    )
    return index


def run(parameters: dict) -> Path:
    executed = []
    course = notebooks()
    for number, notebook in enumerate(course, 1):
        started = time.monotonic()
        print(f"[{number}/{len(course)}] {notebook.name} ...", flush=True)
        executed.append(execute(notebook, BUILD / "executed", parameters))
        print(f"[{number}/{len(course)}] {notebook.name} done in {time.monotonic() - started:.0f} s", flush=True)
    index = write_preview(executed, BUILD / "preview")
    print(f"instructor preview: {index}")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.course")
    parser.add_argument("command", choices=["run"], help="run every notebook headless, then write the preview")
    parser.parse_args(argv)
    run({"target": "local"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
