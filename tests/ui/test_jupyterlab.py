"""Notebook 01 in JupyterLab, in real Chromium: run it, press the simulator's Start in its widget, and the
live plot, run again, draws the new run's readings."""
from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest
from playwright.sync_api import expect, sync_playwright

from labkit import course, simulate
from labkit.config import REPO_ROOT
from tests.conftest import free_port

pytestmark = pytest.mark.browser

ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
NOTEBOOK = next(p for p in course.notebooks() if p.name.startswith("01_"))
RUN_TIMEOUT_MS = 180_000


def api(base: str, token: str, path: str, method: str = "GET", body: dict | None = None):
    request = urllib.request.Request(f"{base}{path}", method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        body = answer.read()
    return json.loads(body) if body else None


@pytest.fixture(scope="module")
def jupyterlab(stack, tmp_path_factory):
    """JupyterLab on 127.0.0.1 in a scratch folder holding a copy of notebook 01 (Lab autosaves what it runs),
    with the notebook's kernel session started (opening it then starts no second kernel); the copy keeps the
    live pace and watches the plot for 20 s."""
    root, home = tmp_path_factory.mktemp("lab-root"), tmp_path_factory.mktemp("lab-home")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    parameters = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    parameters.source = re.sub(r"(?m)^plot_seconds = \d+", "plot_seconds = 20", parameters.source)
    nbformat.write(notebook, root / NOTEBOOK.name)
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"), "JUPYTERLAB_SETTINGS_DIR": str(home / "settings")}
    news = home / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false"}')
    log = open(home / "jupyterlab.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            api(base, token, "/api/status")
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not start; see {home / 'jupyterlab.log'}") from None
            time.sleep(0.5)
    api(base, token, "/api/sessions", "POST", {"path": NOTEBOOK.name, "type": "notebook", "name": "",
                                               "kernel": {"name": "python3"}})
    yield {"base": base, "token": token, "file": NOTEBOOK.name}
    for session in api(base, token, "/api/sessions"):
        api(base, token, f"/api/sessions/{session['id']}", method="DELETE")
    server.terminate()
    server.wait(timeout=30)
    log.close()
    simulate.stop()


@pytest.fixture
def page(jupyterlab, tmp_path):
    home = tmp_path / "chromium-home"
    home.mkdir()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS,
                                             env={**os.environ, "HOME": str(home)})
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield page
        browser.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def run_menu(page, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


def test_pressing_start_in_the_widget_makes_the_live_plot_grow(jupyterlab, page):
    lab_url = (f"{jupyterlab['base']}/lab/workspaces/browser-test/tree/{jupyterlab['file']}"
               f"?reset&token={jupyterlab['token']}")
    page.goto(lab_url)
    notebook = page.locator(".jp-NotebookPanel:visible")
    expect(notebook.locator(".jp-Notebook")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible(timeout=60_000)

    run_menu(page, "Run All Cells")   # runs on until the check that waits for Start
    start = notebook.locator(".widget-button", has_text="Start")
    expect(start).to_be_visible(timeout=RUN_TIMEOUT_MS)
    shot(page, "jupyterlab-01-waiting-for-start")
    clicked = time.strftime("%H:%M:%S", time.gmtime())
    start.click()
    expect(notebook.locator(".widget-html", has_text="started: sending “Wind speed data set” to WindDataStream")) \
        .to_be_visible(timeout=30_000)
    shot(page, "jupyterlab-01-start-clicked")

    image = notebook.locator(".jp-CodeCell", has_text="lab.plots.live(").locator(".jp-OutputArea-output img")
    frames = set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(frames) < 4:
        if image.count():
            frames.add(image.first.get_attribute("src"))
        page.wait_for_timeout(1000)
    assert len(frames) >= 4, "the plot redrew as the readings arrived"
    plot_check = notebook.locator(".jp-OutputArea-output", has_text="✓ the plot shows")
    expect(plot_check).to_be_visible(timeout=RUN_TIMEOUT_MS)
    shot(page, "jupyterlab-01-plot-grown")
    newest = re.search(r"readings from 5 locations, the newest at (\d\d:\d\d:\d\d)", plot_check.inner_text())
    assert newest and newest.group(1) >= clicked, f"the plot shows the readings sent after Start: {newest}"
    expect(notebook.locator(".jp-OutputArea-output", has_text="✓ the data viewer shows")) \
        .to_be_visible(timeout=RUN_TIMEOUT_MS)
    assert simulate.status()["state"] == "running"
