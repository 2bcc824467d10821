"""The Wind Turbine Simulator service of the local stack: the lab's web page at /kinesis and the JSON API
that the page, the notebook widgets and the CLI use.

    GET  /kinesis                      the simulator page (stream name, Submit, Start/Stop, data set buttons)
    GET  /api/simulator                status of the current run
    POST /api/simulator/start          {"stream", "dataset", "rate", "loop", "timestamps"} -> status
    POST /api/simulator/stop           -> status
    GET  /api/simulator/stream?name=X  is stream X there and ACTIVE (the page's Submit)

Errors answer {"error": sentence}: 400 for a bad parameter, 404 for a missing stream (with "missing_stream"),
409 for anything else the student can fix.
"""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify, render_template_string, request
from werkzeug.exceptions import HTTPException

from ..config import NAMES, Settings
from ..datasets import DATASETS, TITLES
from ..errors import BadParameter, LabError, ResourceMissing
from ..resources import streams
from ..simulator import DEFAULT_RATE, MAX_RATE, MIN_RATE
from .simulator_process import SimulatorProcess

log = logging.getLogger(__name__)


def _lab_error(error: LabError):
    if isinstance(error, BadParameter):
        return jsonify(error=str(error)), 400
    if isinstance(error, ResourceMissing):
        body = request.get_json(silent=True)
        name = request.args.get("name") or (body.get("stream") if isinstance(body, dict) else None)
        is_stream = isinstance(name, str) and str(error) == str(streams.missing(name))
        return jsonify(error=str(error), missing_stream=name if is_stream else None), 404
    return jsonify(error=str(error)), 409


class SimulatorService:
    """Stack component "simulator": one simulator shared by every page, kernel and CLI call."""

    name = "simulator"

    def __init__(self, s: Settings):
        self.settings = s
        self.simulator = SimulatorProcess(s.state_dir / "simulator")
        self.blueprint = self._blueprint()

    def start(self) -> None:
        log.info("Wind Turbine Simulator page on %s/kinesis", self.settings.service_url)

    def stop(self) -> None:
        self.simulator.close()

    def status(self) -> dict:
        run = self.simulator.status()
        return {"page": f"{self.settings.service_url}/kinesis",
                **{key: run[key] for key in ("state", "stream", "dataset", "sent", "failed", "last_error")}}

    def _blueprint(self) -> Blueprint:
        bp = Blueprint("simulator", __name__)
        bp.register_error_handler(LabError, _lab_error)
        simulator = self.simulator
        stack_log = self.settings.state_dir / "stack.log"

        @bp.errorhandler(Exception)
        def unexpected(error: Exception):
            if isinstance(error, HTTPException):
                return error
            log.exception("simulator request failed")
            return jsonify(error=f"the simulator failed unexpectedly ({error!r}); the stack log {stack_log} "
                                 "has the details."), 500

        @bp.get("/kinesis")
        def page():
            return render_template_string(PAGE, default_stream=NAMES.wind_stream, datasets=DATASETS,
                                          titles=TITLES, rate=DEFAULT_RATE, min_rate=MIN_RATE, max_rate=MAX_RATE)

        @bp.get("/api/simulator")
        def status():
            return jsonify(simulator.status())

        @bp.post("/api/simulator/start")
        def start():
            try:
                body = request.get_json(silent=True)
            except RecursionError:  # JSON nested thousands deep
                body = None
            if not isinstance(body, dict):
                raise BadParameter('send a JSON object such as {"stream": "WindDataStream", "dataset": "anomaly", '
                                   '"rate": 50}.')
            unknown = set(body) - {"stream", "dataset", "rate", "loop", "timestamps"}
            if unknown:
                raise BadParameter(f"unknown field(s) {', '.join(sorted(unknown))}: use stream, dataset, rate, "
                                   "loop, timestamps.")
            return jsonify(simulator.start(body.get("stream", NAMES.wind_stream), body.get("dataset", "wind"),
                                           body.get("rate", DEFAULT_RATE), body.get("loop", False),
                                           body.get("timestamps", "live")))

        @bp.post("/api/simulator/stop")
        def stop():
            return jsonify(simulator.stop())

        @bp.get("/api/simulator/stream")
        def stream():
            found = streams.describe(request.args.get("name", ""))
            return jsonify(name=found["name"], status=found["status"], shards=found["shards"])

        return bp


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Wind Turbine Simulator</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; color: #1b2733; }
  h1 { font-size: 1.5rem; margin-bottom: .2rem; }
  p.lead { color: #51606e; margin-top: 0; }
  fieldset { border: 1px solid #c9d2da; border-radius: 6px; margin: 1rem 0; padding: .8rem 1rem; }
  legend { font-weight: 600; }
  label { margin-right: .5rem; }
  input[type=text] { width: 16rem; }
  input[type=number] { width: 6rem; }
  button { margin: .2rem .3rem .2rem 0; padding: .35rem .9rem; cursor: pointer; }
  table { border-collapse: collapse; }
  td { padding: .25rem .8rem .25rem 0; }
  #message { min-height: 1.4rem; padding: .5rem .7rem; border-radius: 4px; }
  #message.ok { background: #e7f5ea; color: #1d5e2c; }
  #message.error { background: #fdecea; color: #8a1c13; }
  #status { font-weight: 600; }
  #last-error { color: #8a1c13; }
</style>
</head>
<body>
<h1>Wind Turbine Simulator</h1>
<p class="lead">Sends wind turbine readings to your Kinesis data stream, like the sensors of a wind farm.</p>

<fieldset>
  <legend>Kinesis data stream</legend>
  <label for="stream-name">Stream name</label>
  <input id="stream-name" type="text" value="{{ default_stream }}" autocomplete="off">
  <button id="submit" type="button">Submit</button>
</fieldset>

<fieldset>
  <legend>Simulator</legend>
  <label for="rate">Records per second</label>
  <input id="rate" type="number" value="{{ rate|int }}" min="{{ min_rate }}" max="{{ max_rate|int }}" step="any">
  <label><input id="loop" type="checkbox"> Loop</label>
  <br>
  <button id="start" type="button">Start</button>
  <button id="stop" type="button">Stop</button>
  <table>
  {% for key in datasets %}
    <tr><td>{{ titles[key] }}</td>
        <td><button id="start-{{ key }}" type="button" data-dataset="{{ key }}">Start</button></td></tr>
  {% endfor %}
  </table>
</fieldset>

<div id="message" role="alert"></div>
<p id="status">Simulator status: loading…</p>
<p id="last-error"></p>

<script>
const TITLES = {{ titles|tojson }};
const STACK_DOWN = "The local stack is not answering. Start it with `labkit up` (or run notebook 00), then reload this page.";
let chosenDataset = "wind";

const $ = (id) => document.getElementById(id);
const number = (n) => Number(n || 0).toLocaleString("en-US");

function say(text, ok) {
  $("message").textContent = text;
  $("message").className = text ? (ok ? "ok" : "error") : "";
}

async function api(path, body) {
  let response;
  try {
    response = await fetch(path, body === undefined ? {} : {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  } catch (e) {
    throw new Error(STACK_DOWN);
  }
  let data;
  try { data = await response.json(); } catch (e) { throw new Error(STACK_DOWN); }
  if (!response.ok) throw new Error(data.error || ("the simulator answered " + response.status));
  return data;
}

function streamName() { return $("stream-name").value.trim(); }

function describe(s) {
  const what = `“${s.title}” to ${s.stream}`;
  const counts = `${number(s.sent)} of ${number(s.total)} records sent · ${number(s.rate_actual)} records/s · ${number(s.failed)} errors`;
  switch (s.state) {
    case "idle": return "Simulator idle: type your stream name, Submit, then Start a data set.";
    case "running": return `Sending ${what}${s.loop ? " (looping, pass " + s.pass + ")" : ""}: ${counts}`;
    case "finished": return `Finished sending ${what}: ${counts}`;
    case "stopped": return `Stopped sending ${what}: ${counts}`;
    case "failed": return `Failed sending ${what}: ${counts}`;
    default: return "Simulator state: " + s.state;
  }
}

async function refresh() {
  try {
    const s = await api("/api/simulator");
    $("status").textContent = describe(s);
    $("last-error").textContent = s.last_error ? "Last error: " + s.last_error : "";
  } catch (e) {
    $("status").textContent = "Simulator status unknown.";
    say(e.message, false);
  }
}

async function submit() {
  const name = streamName();
  if (!name) { say("Type the name of your Kinesis data stream first, e.g. {{ default_stream }}.", false); return; }
  try {
    const s = await api("/api/simulator/stream?name=" + encodeURIComponent(name));
    say(`Stream ${s.name} is ${s.status} with ${s.shards.length} shard(s). Start a data set to send records to it.`, true);
  } catch (e) { say(e.message, false); }
}

async function start(dataset) {
  chosenDataset = dataset;
  try {
    const s = await api("/api/simulator/start", {
      stream: streamName(), dataset: dataset, rate: $("rate").value, loop: $("loop").checked});
    say(`Started: sending “${TITLES[dataset]}” to ${s.stream} at ${number(s.rate)} records/s.`, true);
  } catch (e) { say(e.message, false); }
  refresh();
}

async function stop() {
  try {
    const s = await api("/api/simulator/stop", {});
    say(s.state === "idle" ? "The simulator was not running." : "Stopped.", true);
  } catch (e) { say(e.message, false); }
  refresh();
}

$("submit").addEventListener("click", submit);
$("stream-name").addEventListener("keydown", (e) => { if (e.key === "Enter") submit(); });
$("start").addEventListener("click", () => start(chosenDataset));
$("stop").addEventListener("click", stop);
document.querySelectorAll("button[data-dataset]").forEach(
  (b) => b.addEventListener("click", () => start(b.dataset.dataset)));
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
"""
