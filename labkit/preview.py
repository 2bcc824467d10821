"""The instructor preview of a headless course run: what each notebook showed and what each check compared.

- `<notebook>.html`: nbconvert's lab HTML with the plots embedded; widgets render from their saved state with a
  local copy of the Jupyter widget manager (fetched once with npm), so the pages work offline.
- `index.html`: per notebook its link, title, run time, outcome, and every passed check's sentence with the
  figures it compared, expected beside actual (read from the run's results file, see `labkit.results`).
- `differences.html`: every deliberate difference from the console lab and why (docs/DIFFERENCES.md).
"""
from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import results
from .config import REPO_ROOT

DIFFERENCES_FILE = REPO_ROOT / "docs" / "DIFFERENCES.md"
DIFFERENCE_FIELDS = {"Console lab": "console", "This course": "course", "Why": "why"}
PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"
LIST_LIMIT = 50  # items of a list figure shown; the rest are counted
WIDGET_PACKAGES = {  # npm package -> folder of the preview's vendor/ that gets its files
    "@jupyter-widgets/html-manager@1.0.15": ("dist", "html-manager"),
    "requirejs@2.3.8": ("require.js", "require.js"),
}
STYLE = ("body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;color:#1b2733}"
         "table{border-collapse:collapse}td,th{padding:.3rem .8rem;text-align:left;vertical-align:top;"
         "border-bottom:1px solid #dde3e8}table table td,table table th{padding:.1rem .4rem;font-size:.9em}"
         "table.checks{width:100%}table.checks th:first-child{width:40%}ul{margin:0;padding-left:1.1rem}"
         ".ok{color:#1d5e2c}.bad{color:#8a1c13}.meta{color:#56626d}")


@dataclass
class Result:
    """One notebook of a run: where its executed copy is, how long it took, its ✓ count, error and title,
    and the checks it recorded (`labkit.results` lines)."""
    notebook: Path
    executed: Path
    seconds: float
    checks: int = 0
    error: str = ""
    title: str = ""
    recorded: list[dict] = field(default_factory=list)


def results_file(folder: Path, notebook: Path) -> Path:
    """Where a run keeps the checks of `notebook` executed into `folder`."""
    return folder / f"{notebook.stem}.results.jsonl"


def summarise(notebook: Path, executed: Path, seconds: float, error: str = "") -> Result:
    """Title, printed ✓, first error and recorded checks of an executed notebook."""
    cells = nbformat.read(executed, as_version=4).cells if executed.exists() else []
    prose = [c for c in cells if c.cell_type == "markdown" and c.source
             and PAPERMILL_ERROR_TAG not in c.metadata.get("tags", [])]  # papermill's banner is not the title
    title = prose[0].source.splitlines()[0].lstrip("# ") if prose else notebook.stem
    outputs = [o for c in cells if c.cell_type == "code" for o in c.get("outputs", [])]
    printed = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    errors = [f"{o['ename']}: {o['evalue']}" for o in outputs if o.get("output_type") == "error"]
    return Result(notebook, executed, seconds, printed.count("✓ "), error or (errors[0] if errors else ""), title,
                  results.read(results_file(executed.parent, notebook)))


# -- the notebook pages -----------------------------------------------------------------------------------

def vendor_widget_manager(vendor: Path) -> bool:
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


# -- the index page ---------------------------------------------------------------------------------------

def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{body}</body></html>")


def render_value(value) -> str:
    """A figure's value as HTML: numbers with thousands separators, text escaped, a list as a list, a list of
    records (dicts) or a dict as a small table."""
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "—"}[value]
    if isinstance(value, (int, float)):
        return f"{value:,}" if isinstance(value, int) else f"{value:,.6g}"
    if isinstance(value, dict):
        return "<table>" + "".join(f"<tr><th>{html.escape(str(k))}</th><td>{render_value(v)}</td></tr>"
                                   for k, v in value.items()) + "</table>"
    if isinstance(value, (list, tuple)):
        shown, rest = value[:LIST_LIMIT], len(value) - LIST_LIMIT
        more = f"<p class='meta'>… and {rest:,} more</p>" if rest > 0 else ""
        if shown and all(isinstance(item, dict) for item in shown):
            columns = list(dict.fromkeys(key for item in shown for key in item))
            head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
            rows = "".join("<tr>" + "".join(f"<td>{render_value(item.get(c))}</td>" for c in columns) + "</tr>"
                           for item in shown)
            return f"<table><tr>{head}</tr>{rows}</table>{more}"
        return "<ul>" + "".join(f"<li>{render_value(item)}</li>" for item in shown) + f"</ul>{more}"
    return html.escape(str(value))


def _checks_table(recorded: list[dict]) -> str:
    """One row per compared figure; a check without figures is one row with its sentence alone."""
    rows = []
    for check in recorded:
        figures = check.get("figures") or [{}]
        sentence = f"<td rowspan='{len(figures)}'>✓ {html.escape(str(check.get('message', '')))}</td>"
        for number, figure in enumerate(figures):
            cells = "".join(f"<td>{render_value(figure[k])}</td>" if k in figure else "<td></td>"
                            for k in ("what", "expected", "actual"))
            rows.append(f"<tr>{sentence if number == 0 else ''}{cells}</tr>")
    return ("<table class='checks'><tr><th>check</th><th>figure</th><th>expected</th><th>actual</th></tr>"
            f"{''.join(rows)}</table>")


def _notebook_section(result: Result, page: str | None) -> str:
    name = html.escape(result.notebook.stem)
    link = f'<a href="{html.escape(page)}">{name}</a>' if page else name
    outcome = (f'<span class="bad">✗ {html.escape(result.error[:200])}</span>' if result.error
               else f'<span class="ok">{result.checks} checks ✓</span>')
    checks = _checks_table(result.recorded) if result.recorded else "<p class='meta'>no check recorded</p>"
    return (f"<section class='notebook'><h2>{link} · {html.escape(result.title)}</h2>"
            f"<p class='meta'>run time {result.seconds:.0f} s · {outcome}</p>{checks}</section>")


def index_page(results_: list[Result], pages: dict[Path, str]) -> str:
    """The index: each notebook (linked to its page in `pages`, if it has one) with its checks' figures."""
    return _page("Lab 22 - instructor preview", (
        "<h1>Lab 22 · Real Time Data Processing — instructor preview</h1>"
        f"<p>Executed {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on a fresh local stack, headless, "
        "with the DIY reference solution. Each check below shows what the lab expects beside what this run "
        "produced. <a href='differences.html'>What this course does differently from the console lab</a>.</p>"
        + "".join(_notebook_section(r, pages.get(r.notebook)) for r in results_)))


# -- the differences page ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Difference:
    topic: str
    console: str
    course: str
    why: str


def differences(source: Path = DIFFERENCES_FILE) -> list[Difference]:
    """The differences written in `source`: a `## topic` heading, then `- Console lab:`, `- This course:`,
    `- Why:` lines. Raises ValueError naming the topic whose lines are missing."""
    found = []
    for block in re.split(r"^## ", source.read_text(encoding="utf-8"), flags=re.MULTILINE)[1:]:
        topic, *lines = block.strip().splitlines()
        fields = {}
        for line in lines:
            label, _, text = line.removeprefix("- ").partition(": ")
            if label in DIFFERENCE_FIELDS and text.strip():
                fields[DIFFERENCE_FIELDS[label]] = text.strip()
        if len(fields) != len(DIFFERENCE_FIELDS):
            raise ValueError(f"{source.name}: “{topic}” needs the lines "
                             + ", ".join(f"- {label}: …" for label in DIFFERENCE_FIELDS))
        found.append(Difference(topic.strip(), **fields))
    return found


def _inline(text: str) -> str:
    """Escaped text with `code` spans."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text, quote=False))


def differences_page(items: list[Difference]) -> str:
    rows = "".join(f"<tr><th>{_inline(d.topic)}</th><td>{_inline(d.console)}</td><td>{_inline(d.course)}</td>"
                   f"<td>{_inline(d.why)}</td></tr>" for d in items)
    return _page("Lab 22 - differences from the console lab", (
        "<h1>What this course does differently from the console lab, and why</h1>"
        "<p><a href='index.html'>Back to the instructor preview</a></p>"
        "<table class='differences'><tr><th></th><th>console lab</th><th>this course</th><th>why</th></tr>"
        f"{rows}</table>"))
