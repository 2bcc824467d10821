"""The Wind Turbine Simulator in a notebook: the page's controls plus a rate slider and live counters.

    panel = SimulatorPanel("WindDataStream", dataset="anomaly", rate=simulate.rate_for("live"))
    panel                      # shows it; Start / Stop work like the page's buttons
    panel.run                  # the run this panel's Start began (None until it is pressed)

The headless course run makes the panel with autostart=True: it presses Start itself, once.
"""
from __future__ import annotations

import html
import math
import threading

import ipywidgets as w

from .. import simulate
from ..config import NAMES
from ..datasets import DATASETS, TITLES
from ..errors import LabError
from ..simulator import DEFAULT_RATE, MAX_RATE, MIN_RATE, validate


def _error_html(error: Exception) -> str:
    return f'<span style="color:#8a1c13">✗ {html.escape(str(error))}</span>'


def _ok_html(text: str) -> str:
    return f'<span style="color:#1d5e2c">✓ {html.escape(text)}</span>'


class SimulatorPanel:
    """Stream name, data set, rate, Loop, Start/Stop and counters refreshed while the simulator runs."""

    def __init__(self, stream: str = NAMES.wind_stream, dataset: str = "wind", rate: float = DEFAULT_RATE,
                 refresh_s: float = 1.0, autostart: bool = False):
        validate(stream, dataset, rate, False, "live")
        self.stream = w.Text(value=stream, description="Stream name")
        self.dataset = w.Dropdown(options=[(TITLES[key], key) for key in DATASETS], value=dataset,
                                  description="Data set")
        self.rate = w.FloatLogSlider(value=rate, base=10, min=math.log10(MIN_RATE), max=math.log10(MAX_RATE),
                                     step=0.05, description="Records/s", readout_format=",.4g")
        self.loop = w.Checkbox(value=False, description="Loop")
        self.start_button = w.Button(description="Start", button_style="success", icon="play")
        self.stop_button = w.Button(description="Stop", button_style="danger", icon="stop")
        self.counters = w.HTML()
        self.message = w.HTML()
        self.log = w.Output(layout=w.Layout(max_height="8em", overflow="auto"))
        self.widget = w.VBox([
            w.HBox([self.stream, self.dataset]),
            w.HBox([self.rate, self.loop]),
            w.HBox([self.start_button, self.stop_button]),
            self.counters, self.message, self.log,
        ])
        self.refresh_s = refresh_s
        self.run: dict | None = None  # the status of the run this panel's Start began
        self._stop_watching = threading.Event()
        self._watcher: threading.Thread | None = None
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        report = self.refresh()
        if autostart:
            self.start_button.click()
        elif report and report["state"] == "running":  # started earlier, e.g. in another notebook
            self._watch()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def refresh(self) -> dict | None:
        """Show the simulator's current status; None (and the reason) when it cannot be read."""
        try:
            report = simulate.status()
        except LabError as error:
            self.message.value = _error_html(error)
            return None
        self.counters.value = html.escape(simulate.summary(report)).replace("\n", "<br>")
        return report

    def start(self) -> None:
        """Start sending the chosen data set (what the Start button does)."""
        self._unwatch()
        try:
            report = simulate.start(self.stream.value.strip(), self.dataset.value, self.rate.value,
                                    self.loop.value)
        except LabError as error:
            self.message.value = _error_html(error)
            return
        self.run = report
        self.message.value = _ok_html(f"started: sending “{report['title']}” to {report['stream']} at "
                                      f"{report['rate']:,.4g} records/s")
        self.refresh()
        self._watch()

    def stop(self) -> None:
        """Stop sending (what the Stop button does)."""
        self._unwatch()
        try:
            report = simulate.stop()
        except LabError as error:
            self.message.value = _error_html(error)
            return
        self.message.value = _ok_html("stopped" if report["state"] != "idle" else "the simulator was not running")
        self.refresh()

    def close(self) -> None:
        """Stop refreshing the counters (the simulator itself keeps running)."""
        self._unwatch()

    def _watch(self) -> None:
        self._stop_watching = threading.Event()
        self._watcher = threading.Thread(target=self._follow, args=(self._stop_watching,),
                                         name="simulator-panel", daemon=True)
        self._watcher.start()

    def _unwatch(self) -> None:
        self._stop_watching.set()
        if self._watcher:
            self._watcher.join()
            self._watcher = None

    def _follow(self, stop: threading.Event) -> None:
        """Refresh the counters until the run ends; a thread never prints, it writes into the log widget."""
        while not stop.wait(self.refresh_s):
            report = self.refresh()
            if report is None:
                self.log.append_stdout("the counters stopped: the simulator's status cannot be read.\n")
                return
            if report["state"] != "running":
                self.log.append_stdout(simulate.summary(report) + "\n")
                return
