"""The simulator's web page (/kinesis) in real Chromium, driven like a student would use it."""
from __future__ import annotations

import os
from collections import defaultdict

import pytest
from playwright.sync_api import expect, sync_playwright

from labkit import datasets, simulate
from labkit.config import NAMES, REPO_ROOT
from labkit.resources import streams

pytestmark = pytest.mark.browser

ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    home = tmp_path_factory.mktemp("chromium-home")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS,
                                             env={**os.environ, "HOME": str(home)})
        yield browser
        browser.close()


@pytest.fixture
def page(stack, browser):
    page = browser.new_page()
    page.goto(f"{stack.service_url}/kinesis")
    yield page
    page.close()
    simulate.stop()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def ids_by_location(records) -> dict[str, list[str]]:
    by_location = defaultdict(list)
    for record in records:
        by_location[record["location"]].append(record["event_id"])
    return dict(by_location)


def test_anomaly_data_set_started_on_the_page_arrives_complete_in_order(page):
    stream = NAMES.wind_stream
    streams.create(stream, quiet=True)
    readers = [streams.ShardReader(stream, shard, "LATEST") for shard in streams.describe(stream)["shards"]]

    page.fill("#stream-name", stream)
    page.click("#submit")
    expect(page.locator("#message")).to_contain_text(f"Stream {stream} is ACTIVE")
    page.fill("#rate", "1000")
    page.click("#start-anomaly")
    expect(page.locator("#message")).to_contain_text(f"Started: sending “Wind speed anomaly data set” to {stream}")
    expect(page.locator("#status")).to_contain_text(
        f"Finished sending “Wind speed anomaly data set” to {stream}: 2,000 of 2,000 records sent", timeout=120_000)
    expect(page.locator("#status")).to_contain_text("· 0 errors")
    shot(page, "simulator-page-anomaly-finished")

    received = [row for reader in readers for row in reader.read(limit=10_000).to_dict("records")]
    file = datasets.load_records("anomaly")
    assert len(received) == len(file)
    assert ids_by_location(received) == ids_by_location(file)


def test_stop_button_stops_the_simulator(page):
    streams.create("PageStopStream", quiet=True)
    page.fill("#stream-name", "PageStopStream")
    page.fill("#rate", "100")
    page.click("#start-health")
    expect(page.locator("#status")).to_contain_text("Sending “Turbine health data set” to PageStopStream")
    page.click("#stop")
    expect(page.locator("#status")).to_contain_text("Stopped sending “Turbine health data set” to PageStopStream")
    shot(page, "simulator-page-stopped")
    report = simulate.status()
    assert report["state"] == "stopped"
    assert len(streams.read_records("PageStopStream", limit=20_000)) == report["sent"]


def test_a_missing_stream_shows_a_clear_message(page):
    page.fill("#stream-name", "NoSuchStream")
    page.click("#submit")
    message = page.locator("#message")
    expect(message).to_contain_text("the Kinesis stream 'NoSuchStream' does not exist. Create it with")
    expect(message).to_contain_text("notebook 01, step 3")
    expect(message).to_have_class("error")
    page.click("#start-anomaly")
    expect(message).to_contain_text("'NoSuchStream' does not exist")
    shot(page, "simulator-page-missing-stream")
    assert simulate.status()["stream"] != "NoSuchStream"


def test_a_bad_rate_shows_the_allowed_range(page):
    streams.create("PageRateStream", quiet=True)
    page.fill("#stream-name", "PageRateStream")
    page.fill("#rate", "0")
    page.click("#start-wind")
    expect(page.locator("#message")).to_contain_text("rate=0 records/s cannot work: give a number from 0.1 to 10,000")
    shot(page, "simulator-page-bad-rate")


def test_a_stack_that_stops_answering_is_named_with_the_fix(page):
    page.route("**/api/**", lambda route: route.abort())
    page.click("#submit")
    expect(page.locator("#message")).to_contain_text(
        "The local stack is not answering. Start it with `labkit up`")
    expect(page.locator("#status")).to_contain_text("Simulator status unknown")
    shot(page, "simulator-page-stack-down")
