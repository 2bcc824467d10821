"""AnomalyDetection set up as notebook 02 does, on empty streams, for the stack tests that run it."""
from __future__ import annotations

from contextlib import contextmanager

import labkit as lab
from labkit.config import NAMES
from tests.conftest import aws_client


@contextmanager
def configured_anomaly_app(stack):
    """AnomalyDetection created and configured (the simulator stopped, the app stopped first if it ran); yields a
    Kinesis client of the stack and stops the app without a snapshot at the end."""
    lab.simulate.stop()
    for name in (NAMES.wind_stream, NAMES.anomaly_stream):
        lab.streams.create(name, quiet=True)
    if lab.apps.exists(NAMES.anomaly_app):
        lab.apps.stop(NAMES.anomaly_app, snapshot=False, quiet=True)
    lab.apps.create(NAMES.anomaly_app)
    lab.apps.configure(NAMES.anomaly_app, group="lab", inputStreamName=NAMES.wind_stream,
                       outputStreamName=NAMES.anomaly_stream, region=stack.region, quiet=True)
    try:
        yield aws_client("kinesis", stack.endpoint_url)
    finally:
        lab.apps.stop(NAMES.anomaly_app, snapshot=False, quiet=True)
