"""Notebook 05 on the aws target, run by papermill against an independent stock moto server (no labkit patches)
with a confirmed subscription: no cell raises and every check prints ✓.

What stock moto 5.2.5 cannot do, and what this test does instead:
- Lambda Invoke runs a handler only in Docker. Without a Docker daemon (none here) it answers every Invoke with the
  text "error running docker: ..." (not JSON, FunctionError Handled). Told to run without Docker (POST
  /moto-api/config {"lambda": {"use_docker": false}}, moto's own switch, before any function exists) Invoke runs no
  code at all: it answers with a result queued at /moto-api/static/lambda-simple/response, else echoes the payload,
  and writes no log. So the test runs the real handler (lambdas/anomaly_message_delivery.py, with the environment
  labkit deploys it with) itself, against the same server, once per Test the notebook presses, before the notebook,
  and queues each of its answers, in order, for the notebook's two Invokes. Its Scan, conditional marks
  (`alerted_at`) and SNS Publish are real calls to the server; the notebook's checks read those marks.
- The function's CloudWatch log therefore holds no line of those runs (Lambda writes it, and moto ran nothing), and
  stock moto keeps no AWS/SNS metrics (GetMetricStatistics answers no data points): the notebook says so, and this
  test checks that it does rather than a count.
- Stock moto confirms an e-mail subscription at once (AWS waits for the link in the mail): `lab.topics.confirm`
  returns without waiting."""
from __future__ import annotations

import json
import sys
from decimal import Decimal

import nbformat
import pytest
import requests

from labkit import check, course
from labkit.config import LAMBDAS_DIR, NAMES
from labkit.datasets import load_labels, load_records
from labkit.resources import buckets, functions, roles, tables, topics

from ..conftest import aws_client
from .test_aws_target_on_stock_moto import aws_on_stock_moto  # noqa: F401  (the fixture)

EMAIL = "student@example.com"


@pytest.fixture
def lambda_without_docker(aws_on_stock_moto):  # noqa: F811
    """The stock server's Lambda told to run without Docker (moto's config API), and back to its default after."""
    requests.post(f"{aws_on_stock_moto}/moto-api/config", json={"lambda": {"use_docker": False}}, timeout=10)
    yield aws_on_stock_moto
    requests.post(f"{aws_on_stock_moto}/moto-api/config", json={"lambda": {"use_docker": True}}, timeout=10)


def notebook_04_items() -> list[dict]:
    """WindDataTable items as AnalyticsDestinationFunction writes them for the anomaly data set: its first and last
    readings (the send's span), a few normal ones, and each labelled anomaly's reading scored above the threshold."""
    records = load_records("anomaly")
    anomalous = {event_id for label in load_labels("anomaly") for event_id in label["event_ids"]}
    chosen = [records[0], *records[1:6], *(r for r in records if r["event_id"] in anomalous), records[-1]]
    return [{"location": r["location"], "reading_id": f"{r['event_time']}#{r['event_id']}",
             "timestamp": r["event_time"], "event_id": r["event_id"], "turbine_id": r["turbine_id"],
             "wind_speed": Decimal(str(r["speed"])),
             "anomaly_score": Decimal("4.5") if r["event_id"] in anomalous else Decimal("0.75")}
            for r in chosen]


def run_the_real_handler(monkeypatch) -> dict:
    """lambdas/anomaly_message_delivery.py's handler with the environment labkit deploys it with, against the server
    the fixture's AWS_ENDPOINT_URL names."""
    monkeypatch.syspath_prepend(str(LAMBDAS_DIR))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for variable, value in functions.lab_environment(NAMES.delivery_function).items():
        monkeypatch.setenv(variable, value)
    import anomaly_message_delivery

    return anomaly_message_delivery.handler({}, None)


def test_notebook_05_on_the_aws_target_raises_nothing_and_its_checks_pass(lambda_without_docker, monkeypatch,
                                                                           tmp_path):
    endpoint = lambda_without_docker
    roles.ensure()  # what notebooks 00-04 left: the role, the code bucket, WindDataTable with the anomaly set
    buckets.ensure()
    tables.create(NAMES.wind_table, quiet=True)
    table = aws_client("dynamodb", endpoint)
    items = notebook_04_items()
    for item in items:
        table.put_item(TableName=NAMES.wind_table, Item={
            k: {"N": str(v)} if isinstance(v, Decimal) else {"S": v} for k, v in item.items()})
    topics.create()
    assert topics.subscribe_email(EMAIL)["confirmed"]  # stock moto confirms e-mail subscriptions at once
    nothing_yet = f"{NAMES.delivery_function} published 0 alert.* expected 3. Run the Test"
    with pytest.raises(check.CheckFailed, match=nothing_yet):
        check.inbox_has_emails(EMAIL, 3)  # nothing published yet

    first, second = run_the_real_handler(monkeypatch), run_the_real_handler(monkeypatch)
    assert first == {"anomaly_events": 3, "mailed": 3, "already_mailed": 0}
    assert second == {"anomaly_events": 3, "mailed": 0, "already_mailed": 3}
    sys.modules.pop("anomaly_message_delivery", None)
    queued = requests.post(f"{endpoint}/moto-api/static/lambda-simple/response", timeout=10,
                           json={"results": [json.dumps(first), json.dumps(second)], "region": "us-east-1"})
    assert queued.status_code == 201

    notebook = next(n for n in course.notebooks() if n.name.startswith("05"))
    executed = course.execute(notebook, tmp_path, {"target": "aws", "email": EMAIL})

    cells = [c for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code"]
    outputs = [o for c in cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    checks = [c for c in cells if "lab.check." in c.source]
    assert printed.count("✓ ") == len(checks) == 7, printed
    assert f"✓ {EMAIL} is subscribed to {NAMES.topic} (confirmed)" in printed
    shown = [o["data"]["text/plain"] for c in cells if c.source.rstrip().endswith('["result"]')
             for o in c.outputs if o.output_type == "execute_result"]
    assert shown == [repr(first), repr(second)], "each Test shows the handler's answer"
    published = (f"✓ {NAMES.delivery_function} published 3 alerts “Abnormal Wind Turbine Speed Detected” to "
                 f"{NAMES.topic}, one per labelled anomaly; SNS mails them to {EMAIL} (look in that mailbox). Its log "
                 "names 0 of them so far; SNS has not reported deliveries yet")
    assert printed.count(published) == 2, printed  # after the first Test and after the second
    widgets = json.dumps(nbformat.read(executed, as_version=4).metadata.get("widgets", {}))  # the inbox view's state
    assert (f"On AWS, SNS sends the e-mail of topic {NAMES.topic} to {EMAIL}: open that mailbox. What "
            f"{NAMES.delivery_function} published (its CloudWatch log, last hour): 0 line(s). SNS has not reported "
            "deliveries in the last hour yet") in widgets

    marked = [i for i in tables.items(NAMES.wind_table) if "alerted_at" in i]
    assert sorted(i["location"] for i in marked) == sorted(label["location"] for label in load_labels("anomaly"))
