"""The instructor preview: executed notebooks as HTML with their plots, and their widgets drawn from the
saved widget state by a local copy of the widget manager, so a browser with no network shows everything."""
from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from playwright.sync_api import sync_playwright

from labkit import course
from labkit.preview import DIFFERENCES_FILE, differences

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

CHECK_CELL = """from labkit import check, results

def inbox_has_emails():
    check.passed("admin@example.com received 3 e-mails, one per labelled anomaly",
                 results.figure("e-mails", 3, 3),
                 results.figure("subjects", ["Abnormal <Wind> Speed"], ["Abnormal <Wind> Speed"]),
                 results.figure("recall", [{"kind": "spike", "recall": 1.0}], [{"kind": "spike", "recall": 0.875}]))

inbox_has_emails()"""  # a check, as in labkit.check: its figures go to the run's results file


@pytest.fixture(scope="module")
def preview(tmp_path_factory) -> Path:
    """A small course notebook (parameters, a widget whose state changes later, a live plot, a check that
    records its figures) run headless and written as a preview."""
    folder = tmp_path_factory.mktemp("course")
    source = folder / "10_preview_sample.ipynb"
    nbformat.write(new_notebook(cells=[
        new_markdown_cell("# Sample · what the preview must show"),
        new_code_cell('target = "local"', metadata={"tags": ["parameters"]}),
        new_code_cell('import ipywidgets as w\nbutton = w.Button(description="Start")\n'
                      'counter = w.HTML("0 records sent")\nw.VBox([button, counter])'),
        new_code_cell("import matplotlib.pyplot as plt\nfrom IPython.display import display\n"
                      "fig, ax = plt.subplots()\nhandle = display(fig, display_id=True)\n"
                      "for n in range(1, 4):\n    ax.plot(range(n))\n    handle.update(fig)\nplt.close(fig)"),
        new_code_cell('counter.value = "2,000 records sent"'),
        new_code_cell(CHECK_CELL),
    ], metadata={"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}), source)
    executed = course.execute(source, folder / "executed", {"target": "local", "solution": True})
    result = course.summarise(source, executed, seconds=1.0)
    return course.write_preview([result], folder / "preview")


def test_index_links_each_notebook_with_its_checks(preview):
    index = preview.read_text()
    assert '<a href="10_preview_sample.html">10_preview_sample</a>' in index
    assert "Sample · what the preview must show" in index and "1 checks ✓" in index


def cell_texts(row) -> list[str]:
    return [cell.get_text(" ", strip=True) for cell in row.find_all("td", recursive=False)]


def test_index_shows_each_check_with_its_figures_expected_beside_actual(preview):
    soup = BeautifulSoup(preview.read_text(), "html.parser")
    rows = soup.select("table.checks > tr")[1:]
    assert cell_texts(rows[0]) == ["✓ admin@example.com received 3 e-mails, one per labelled anomaly",
                                   "e-mails", "3", "3"]
    assert cell_texts(rows[1]) == ["subjects", "Abnormal <Wind> Speed", "Abnormal <Wind> Speed"]
    assert soup.find("wind") is None, "figure text is escaped, never markup"
    expected, actual = (cell.find("table") for cell in rows[2].find_all("td", recursive=False)[1:])
    assert [[c.get_text() for c in row.find_all(["th", "td"])] for row in expected.find_all("tr")] == \
        [["kind", "recall"], ["spike", "1"]]
    assert [[c.get_text() for c in row.find_all(["th", "td"])] for row in actual.find_all("tr")] == \
        [["kind", "recall"], ["spike", "0.875"]]


def test_differences_page_lists_every_difference_of_its_source_and_is_linked(preview):
    index = BeautifulSoup(preview.read_text(), "html.parser")
    assert index.find("a", href="differences.html") is not None
    page = BeautifulSoup((preview.parent / "differences.html").read_text(), "html.parser")
    rows = page.select("table.differences > tr")[1:]
    source = DIFFERENCES_FILE.read_text()
    assert len(rows) == source.count("\n## ") == len(differences()) >= 10
    shown = [[cell.get_text() for cell in row.find_all(["th", "td"])] for row in rows]
    assert shown == [[d.topic, d.console.replace("`", ""), d.course.replace("`", ""), d.why.replace("`", "")]
                     for d in differences()]


def test_pages_load_their_scripts_from_beside_them(preview):
    page = (preview.parent / "10_preview_sample.html").read_text()
    sources = re.findall(r"<(?:script|link)[^>]+(?:src|href)=\"([^\"]*)\"", page)
    assert "vendor/require.js" in sources
    assert [s for s in sources if s.startswith(("http:", "https:", "//"))] == []
    assert "var widgetRendererSrc = 'vendor/html-manager/embed-amd.js';" in page
    assert (preview.parent / "vendor" / "html-manager" / "embed-amd.js").is_file()


@pytest.mark.browser
def test_widgets_and_plots_show_offline_in_their_final_state(preview, tmp_path):
    requested = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS,
                                             env={**os.environ, "HOME": str(tmp_path)})
        page = browser.new_page()
        page.route(lambda url: not url.startswith("file:"),
                   lambda route: (requested.append(route.request.url), route.abort()))
        page.goto((preview.parent / "10_preview_sample.html").as_uri())
        page.locator(".widget-button", has_text="Start").wait_for(timeout=30_000)
        assert page.locator(".widget-html").inner_text() == "2,000 records sent"
        assert page.locator("img[src^='data:image/png']").count() == 1
        browser.close()
    assert requested == []
