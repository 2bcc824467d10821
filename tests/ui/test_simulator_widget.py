"""The simulator panel, headless: its buttons start and stop the producer, and its errors are sentences."""
from __future__ import annotations

import threading

import pytest

from labkit import simulate
from labkit.errors import BadParameter
from labkit.progress import wait_until
from labkit.resources import streams
from labkit.ui.simulator_panel import SimulatorPanel
from tests.conftest import free_port


def watchers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "simulator-panel"]


@pytest.fixture
def panel(stack):
    streams.create("WidgetStream", quiet=True)
    panel = SimulatorPanel("WidgetStream", dataset="health", rate=100, refresh_s=0.2)
    yield panel
    panel.close()
    simulate.stop()


def test_start_and_stop_buttons_start_and_stop_the_producer(panel):
    panel.start_button.click()
    report = simulate.status()
    assert (report["state"], report["stream"], report["dataset"], report["rate"]) == \
        ("running", "WidgetStream", "health", 100.0)
    assert "started: sending “Turbine health data set” to WidgetStream" in panel.message.value
    wait_until(lambda: "Sending" in panel.counters.value and simulate.status()["sent"] >= 50, 60,
               "the counters to move", quiet=True)
    assert len(watchers()) == 1

    panel.stop_button.click()
    stopped = simulate.status()
    assert stopped["state"] == "stopped" and 50 <= stopped["sent"] < 16_000
    assert f"Stopped sending “Turbine health data set” to WidgetStream: {stopped['sent']:,} of 16,000" in \
        panel.counters.value
    assert watchers() == []
    assert len(streams.read_records("WidgetStream", limit=20_000)) == stopped["sent"]


def test_counters_follow_the_run_to_its_end(panel):
    panel.dataset.value, panel.rate.value = "anomaly", 1000
    panel.start_button.click()
    wait_until(lambda: not watchers(), 120, "the run to end", quiet=True)
    assert "Finished sending “Wind speed anomaly data set” to WidgetStream: 2,000 of 2,000" in panel.counters.value
    assert any("Finished sending" in o.get("text", "") for o in panel.log.outputs)


def test_a_missing_stream_shows_how_to_create_it(panel):
    panel.stream.value = "NoSuchStream"
    panel.start_button.click()
    assert "does not exist" in panel.message.value and "notebook 01, step 3" in panel.message.value
    assert simulate.status()["stream"] != "NoSuchStream"


def test_a_bad_rate_is_refused_with_the_range(panel):
    with pytest.raises(BadParameter, match="rate=0 records/s cannot work: give a number from 0.1 to 10,000"):
        SimulatorPanel(rate=0)
    panel.rate.value = 1e6  # typed into the slider's readout: held at the slider's end, never sent as is
    assert panel.rate.value == 10_000


def test_a_stopped_stack_shows_the_command_that_starts_it(monkeypatch):
    monkeypatch.setenv("LABKIT_SERVICE_PORT", str(free_port()))  # nothing listens there
    panel = SimulatorPanel()
    assert "Start it with `labkit up`" in panel.message.value
    panel.message.value = ""
    panel.start_button.click()
    assert "Start it with `labkit up`" in panel.message.value
    assert watchers() == []
