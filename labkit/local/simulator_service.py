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

from flask import Blueprint, jsonify, render_template, request
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
                **{key: run.get(key) for key in ("state", "stream", "dataset", "sent", "failed", "over_limit", "note",
                                                  "last_error")}}

    def _blueprint(self) -> Blueprint:
        bp = Blueprint("simulator", __name__, template_folder="templates")
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
            return render_template("kinesis.html", default_stream=NAMES.wind_stream, datasets=DATASETS,
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
