"""Check cells: each verifies one expected outcome and prints ✓, or raises CheckFailed saying what to do."""
from __future__ import annotations

import contextlib
import contextvars
import inspect
import io
from typing import TYPE_CHECKING

from . import results
from .results import figure
from .config import ALERT_SUBJECT, ALERT_THRESHOLD, CONFIRMATION_SUBJECT, NAMES, settings
from .errors import LabError, ResourceMissing, WaitTimedOut
from .local import control
from .progress import wait_until

if TYPE_CHECKING:
    import pandas as pd


class CheckFailed(LabError, AssertionError):
    """An expected outcome is not there; the message says what to do next."""


_recording = contextvars.ContextVar("recording", default=True)  # off while a check runs another as a step


def passed(message: str, *figures: dict) -> None:
    """Print ✓ and the sentence; keep it, with the figures compared, for the instructor preview."""
    print(f"✓ {message}")
    if _recording.get():
        results.record(inspect.currentframe().f_back.f_code.co_name, message, list(figures))


def stack_is_healthy() -> None:
    """The target answers: the local stack is up (local), or credentials reach AWS (aws)."""
    s = settings()
    if s.is_local:
        report = control.status(s)
        if not report["running"]:
            raise CheckFailed(report["hint"])
        passed(f"local stack running; AWS API endpoint {report['endpoint']}")
        return
    from .clients import client

    identity = client("sts").get_caller_identity()
    passed(f"AWS credentials work (account {identity['Account']}, region {s.region})")


# -- helpers -------------------------------------------------------------------------------------------

def _exists(describe, *args):
    """describe(*args), or None when the resource does not exist."""
    try:
        return describe(*args)
    except ResourceMissing:
        return None


def _wait(condition, timeout_s: float, what: str, on_timeout: str, interval_s: float = 1.0):
    """Wait (with progress) for `condition`; CheckFailed saying `on_timeout` if it never holds."""
    try:
        return wait_until(condition, timeout_s, what, interval_s=interval_s)
    except WaitTimedOut as error:
        raise CheckFailed(f"{error} {on_timeout}") from None


def _quietly(check, *args):
    """Run another check as a step of this one: its ✓ is not printed, its CheckFailed still is raised."""
    token = _recording.set(False)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return check(*args)
    finally:
        _recording.reset(token)


def _when(timestamp) -> str:
    import pandas as pd

    return pd.Timestamp(timestamp).strftime("%H:%M:%S UTC")


# -- Kinesis streams and the simulator -----------------------------------------------------------------

def stream_is_active(name: str) -> None:
    """The stream exists and takes records."""
    from .resources import streams

    stream = _exists(streams.describe, name)
    if stream is None:
        raise CheckFailed(f"there is no stream {name} yet: run the cell above (`lab.streams.create({name!r})`), "
                          "then this check again.")
    if stream["status"] not in ("ACTIVE", "UPDATING"):
        raise CheckFailed(f"stream {name} is {stream['status']}: wait a few seconds and run this check again.")
    passed(f"stream {name} is ACTIVE with {len(stream['shards'])} shard(s)")


def simulator_can_send(stream: str) -> None:
    """The simulator answers and its target stream is ACTIVE (the page's Submit)."""
    from . import simulate

    try:
        report = simulate.status()
    except LabError as error:
        raise CheckFailed(f"the simulator does not answer: {error}") from error
    _quietly(stream_is_active, stream)
    passed(f"the simulator is ready ({report['state']}); press Start to send a data set to {stream}")


def _simulator_run(panel, stream: str, dataset: str, timeout_s: float) -> dict:
    """The status of the run the panel's Start began (waits for the press), if it sends `dataset` to `stream`."""
    from . import simulate
    from .datasets import TITLES
    from .ui.press import wait_for_press

    try:
        wait_for_press(lambda: panel.run is not None, timeout_s, "you to press Start in the simulator panel")
    except WaitTimedOut as error:
        raise CheckFailed(f"{error} Choose “{TITLES[dataset]}”, type {stream} as the stream name, press Start, "
                          "then run this check again.") from None
    if (panel.run["stream"], panel.run["dataset"]) != (stream, dataset):
        raise CheckFailed(f"the panel's Start sent “{panel.run['title']}” to {panel.run['stream']}: choose "
                          f"“{TITLES[dataset]}”, type {stream} as the stream name and press Start again.")
    report = simulate.status()
    if report["run_id"] != panel.run["run_id"]:
        raise CheckFailed(f"another run (“{report['title']}” to {report['stream']}) replaced the one this panel "
                          "started: press Start in the panel again.")
    if report["state"] in ("failed", "stopped"):
        reason = report["last_error"] or "the Stop button was pressed"
        raise CheckFailed(f"the simulator {report['state']} after {report['sent']:,} of {report['total']:,} "
                          f"records ({reason}). Press Start to send the data set again.")
    return report


def simulator_is_sending(panel, stream: str, dataset: str, timeout_s: float = 600) -> None:
    """You pressed Start in the simulator panel and it sends `dataset` to `stream` (or has sent all of it)."""
    report = _simulator_run(panel, stream, dataset, timeout_s)
    passed(f"the simulator sends “{report['title']}” to {stream}: {report['sent']:,} of {report['total']:,} "
           "records so far")


def simulator_finished(panel, stream: str, dataset: str, timeout_s: float = 600) -> None:
    """You pressed Start in the simulator panel and it sent the whole of `dataset` to `stream` (waits for the
    run to end: about 2 s per record per 1,000 records/s, and longer at the live pace)."""
    from . import simulate

    report = _simulator_run(panel, stream, dataset, timeout_s)
    patience = timeout_s + 2 * report["total"] / report["rate"]
    _wait(lambda: simulate.status()["state"] != "running", patience, "the simulator to send its data set",
          "It is still sending: raise the rate in the simulator panel, or run this check again later.")
    report = _simulator_run(panel, stream, dataset, timeout_s)
    passed(f"the simulator sent all {report['sent']:,} records of “{report['title']}” to {stream}",
           figure("records sent", report["total"], report["sent"]))


def plot_shows_readings(data: pd.DataFrame, locations: int = 5) -> None:
    """The live plot drew wind readings from `locations` locations."""
    if not len(data) or "speed" not in data:
        raise CheckFailed("the plot got no wind readings: start the simulator (step 3) and run the plot cell again.")
    seen = data["location"].nunique()
    if seen < locations:
        raise CheckFailed(f"the plot shows {seen} of {locations} locations: let the simulator send longer (or "
                          "start it again) and run the plot cell again.")
    passed(f"the plot shows {len(data):,} readings from {seen} locations, the newest at "
           f"{_when(data['event_time'].max())}")


def viewer_shows_records(frame: pd.DataFrame | None, fields=("event_id", "event_time", "location", "speed")) -> None:
    """The data viewer got records with the reading's fields."""
    if frame is None or not len(frame):
        raise CheckFailed("the data viewer shows no records yet: press Get records (with Trim horizon) or run the "
                          "cell above; if it stays empty, start the simulator first.")
    absent = [f for f in fields if f not in frame]
    if absent:
        raise CheckFailed(f"the records have no {', '.join(absent)}: is the simulator sending to this stream?")
    passed(f"the data viewer shows {len(frame)} records, e.g. {frame.iloc[0]['location']} at "
           f"{frame.iloc[0]['speed']} mph")


# -- Flink applications --------------------------------------------------------------------------------

def app_is_created(name: str) -> None:
    """The Flink application exists (READY, or already RUNNING from an earlier run)."""
    from .resources import apps

    app = _exists(apps.describe, name)
    if app is None:
        raise CheckFailed(f"there is no application {name}: run the cell above (`lab.apps.create({name!r})`).")
    passed(f"application {name} exists ({app['ApplicationStatus']}, runtime {app['RuntimeEnvironment']})")


def app_has_properties(name: str, group: str = "lab", **expected) -> None:
    """The application's runtime property group `group` holds `expected` (values compared as text)."""
    from .resources import apps

    if _exists(apps.describe, name) is None:
        raise CheckFailed(f"there is no application {name}: create it first (`lab.apps.create({name!r})`).")
    values = apps.properties(name).get(group)
    if values is None:
        raise CheckFailed(f"{name} has no property group {group!r}: add it (console: Configure > Runtime "
                          f"properties > Add group) with `lab.apps.configure({name!r}, group={group!r}, ...)`.")
    wrong = {key: value for key, value in expected.items() if values.get(key) != str(value)}
    if wrong:
        details = "; ".join(f"{key} is {values.get(key)!r}, should be {str(value)!r}" for key, value in wrong.items())
        raise CheckFailed(f"{name}'s group {group!r}: {details}. Set them with `lab.apps.configure({name!r}, "
                          f"group={group!r}, ...)`.")
    passed(f"{name} reads its {group!r} properties: " + ", ".join(f"{k}={v}" for k, v in expected.items()))


def app_is_running(name: str) -> None:
    """The Flink application is RUNNING."""
    from .resources import apps

    app = _exists(apps.describe, name)
    if app is None:
        raise CheckFailed(f"there is no application {name}: create and configure it (the steps above) first.")
    try:
        state = apps.settle(name)
    except WaitTimedOut as error:
        raise CheckFailed(str(error)) from None
    if state != "RUNNING":
        raise CheckFailed(f"{name} is {state}, not RUNNING: run it (`lab.apps.run({name!r})`); if it stops again, "
                          f"its logs say why (`lab.apps.logs({name!r})`).")
    passed(f"{name} is RUNNING; Flink dashboard: {apps.dashboard_url(name)}")


def forests_warmed_up(scores: "pd.DataFrame", locations: int = 5) -> None:
    """Every location's forest has passed its warm-up: some of its readings score above 0."""
    from .ui.feeds import warmed_up_locations

    warm = warmed_up_locations(scores)
    if warm < locations:
        raise CheckFailed(f"{warm} of {locations} locations have readings scored above 0 so far. Each forest scores 0 "
                          "for its first 64 readings: is AnomalyDetection RUNNING (step 4) and has the simulator sent "
                          "the wind data set (notebook 01)? Run the plot cell again to read on.")
    passed(f"all {locations} forests have warmed up: {int((scores['score'].astype(float) == 0).sum()):,} readings "
           f"scored 0 while they filled, {int((scores['score'].astype(float) > 0).sum()):,} scored after",
           figure("locations whose forest scores", locations, warm))


def app_has_snapshot(name: str) -> None:
    """The application is stopped (READY) and has a snapshot to run from later."""
    from .resources import apps

    if _exists(apps.describe, name) is None:
        raise CheckFailed(f"there is no application {name}.")
    state, snapshots = apps.status(name), apps.snapshots(name)
    if state != "READY" or not snapshots:
        raise CheckFailed(f"{name} is {state} with {len(snapshots)} snapshot(s): stop it with a snapshot "
                          f"(`lab.apps.stop({name!r}, snapshot=True)`).")
    passed(f"{name} is stopped; its latest snapshot is {snapshots[0]['SnapshotName']}")


def labelled_anomalies_score_high(scores: pd.DataFrame, dataset: str = "anomaly",
                                  threshold: float = ALERT_THRESHOLD) -> None:
    """Each labelled anomaly of `dataset` reached the alert threshold in the app's output."""
    from .datasets import load_labels

    labels = load_labels(dataset)
    latest = scores.drop_duplicates("event_id", keep="last").set_index("event_id") if len(scores) else None
    missing = [label for label in labels if latest is None or not set(label["event_ids"]) & set(latest.index)]
    if missing:
        raise CheckFailed(f"{len(missing)} of the {len(labels)} labelled anomalies have no score yet (first: "
                          f"{missing[0]['location']} at {missing[0]['start']}). Is AnomalyDetection RUNNING and "
                          "did the simulator send the anomaly data set? Run the plot cell again to read more.")
    peaks = {label["location"]: round(float(latest.loc[latest.index.intersection(label["event_ids"]), "score"]
                                            .astype(float).max()), 2) for label in labels}
    low = [f"{location} scored {peak:.2f}" for location, peak in peaks.items() if peak < threshold]
    if low:
        raise CheckFailed(f"labelled anomalies below the threshold {threshold:g}: {'; '.join(low)}. The forest may "
                          "still be warming up: send the wind speed data set first, then the anomaly data set.")
    passed(f"all {len(labels)} labelled anomalies scored at least {threshold:g}",
           figure("peak score of each labelled anomaly", f">= {threshold:g}", peaks))


# -- Lambda, DynamoDB, SNS -----------------------------------------------------------------------------

def table_is_active(name: str) -> None:
    """The DynamoDB table exists and is ACTIVE."""
    from .resources import tables

    table = _exists(tables.describe, name)
    if table is None:
        raise CheckFailed(f"there is no table {name}: run the cell above (`lab.tables.create({name!r})`).")
    if table["status"] != "ACTIVE":
        raise CheckFailed(f"table {name} is {table['status']}: wait a few seconds and run this check again.")
    keys = f"partition key {table['partition_key']}" + (f", sort key {table['sort_key']}" if table["sort_key"] else "")
    passed(f"table {name} is ACTIVE ({keys})")


def function_is_active(name: str) -> None:
    """The Lambda function exists and is Active."""
    from .resources import functions

    function = _exists(functions.describe, name)
    if function is None:
        raise CheckFailed(f"there is no function {name}: run the cell above (`lab.functions.deploy({name!r})`).")
    if function["state"] != "Active":
        raise CheckFailed(f"function {name} is {function['state']}: wait a few seconds and run this check again.")
    passed(f"function {name} is Active ({function['runtime']}, handler {function['handler']})")


def trigger_is_enabled(function: str, stream: str) -> None:
    """The function has an enabled Kinesis trigger on `stream`."""
    from .resources import functions

    if _exists(functions.describe, function) is None:
        raise CheckFailed(f"there is no function {function}: deploy it first (`lab.functions.deploy({function!r})`).")
    found = [t for t in functions.triggers(function) if t["stream"] == stream]
    if not found:
        raise CheckFailed(f"{function} has no trigger on {stream}: add it (`lab.functions.add_trigger({function!r}, "
                          f"{stream!r})`).")
    if found[0]["state"] != "Enabled":
        raise CheckFailed(f"the trigger {stream} -> {function} is {found[0]['state']}: add it again to enable it.")
    passed(f"trigger {stream} -> {function} is Enabled (batch size {found[0]['batch_size']}, "
           f"from {found[0]['starting_position']})")


def table_has_one_item_per_record(table: str, stream: str, timeout_s: float = 300) -> None:
    """Every record of `stream` is exactly one item of `table` (key "<event_time>#<event_id>"), and the table
    holds nothing else; waits while the function catches up."""
    from .resources import tables
    from .ui.feeds import StreamFeed

    _quietly(table_is_active, table)
    feed = StreamFeed(stream)
    state: dict = {}

    def matched() -> bool:
        records = feed()
        expected = {f"{t}#{i}" for t, i in zip(records.get("event_time", []), records.get("event_id", []))}
        state.update(expected=expected, count=tables.count(table))
        if not expected or state["count"] != len(expected):  # counting first: reading every item costs more
            return False
        keys = {item["reading_id"] for item in tables.items(table)}
        state.update(missing=len(expected - keys), extra=len(keys - expected))
        return keys == expected

    try:
        wait_until(matched, timeout_s, f"one item in {table} per record of {stream}", interval_s=2)
    except WaitTimedOut:
        found = (f" ({state['missing']:,} records missing, {state['extra']:,} items of other records)"
                 if "missing" in state else "")
        raise CheckFailed(
            f"after {timeout_s:.0f} s {table} holds {state.get('count', 0):,} items for the "
            f"{len(state.get('expected', ())):,} records of {stream}{found}. Is the trigger Enabled? The "
            "function's logs say why records fail (`lab.functions.logs(...)`).") from None
    passed(f"{table} holds exactly one item per record of {stream}: {len(state['expected']):,} items",
           figure(f"items in {table}", len(state["expected"]), state["count"]))


def topic_exists(name: str) -> None:
    """The SNS topic exists."""
    from .resources import topics

    arn = _exists(topics.arn, name)
    if arn is None:
        raise CheckFailed(f"there is no topic {name}: run the cell above (`lab.topics.create({name!r})`).")
    passed(f"topic {name} exists ({arn})")


def email_is_subscribed(address: str, topic: str) -> None:
    """`address` has a confirmed e-mail subscription to `topic`."""
    from .resources import topics

    _quietly(topic_exists, topic)
    found = [s for s in topics.subscriptions(topic) if s["protocol"] == "email" and s["endpoint"] == address]
    if not found:
        raise CheckFailed(f"{address} is not subscribed to {topic}: run the cell above "
                          f"(`lab.topics.subscribe_email({address!r})`).")
    if not found[0]["confirmed"]:
        raise CheckFailed(f"the subscription of {address} is pending: run the cell above "
                          f"(`lab.topics.confirm({address!r}, topic={topic!r})`); on aws, open the mail "
                          f"“{CONFIRMATION_SUBJECT}” in that mailbox and click Confirm subscription.")
    passed(f"{address} is subscribed to {topic} (confirmed)")


def invocation_succeeded(result: dict) -> None:
    """A function run (the Test button) ended without an error."""
    if not result["ok"]:
        raise CheckFailed(f"the function failed ({result['error']}): {result['result']}. Its log:\n{result['log']}")
    passed(f"the function succeeded: {result['result']}")


def _latest_send(items: list[dict], dataset: str) -> tuple[str, str]:
    """The event-time span of the latest send of `dataset` among a table's items: from the newest copy of its
    first reading to the newest copy of its last (or on, if that has not arrived yet)."""
    from .datasets import load_records

    records = load_records(dataset)
    ends = {records[0]["event_id"]: "", records[-1]["event_id"]: ""}
    for item in items:
        event_id = str(item.get("reading_id", "")).partition("#")[2]
        if event_id in ends:
            ends[event_id] = max(ends[event_id], item["timestamp"])
    first, last = ends.values()
    return first, (last if last >= first else "~")


def inbox_has_emails(to: str, count: int, table: str = "WindDataTable", dataset: str = "anomaly",
                     subject: str = ALERT_SUBJECT) -> None:
    """`to` received exactly `count` e-mails about the anomalies of the latest send of `dataset` in `table`
    (the delivery function marks each mailed one with `alerted_at`), one naming each labelled anomaly's
    location. Mail about earlier sends stays in the inbox, as in a real mailbox, and is not counted.

    On the aws target SNS sends real e-mail, which no check can read: `alerts_were_published` judges what the
    function published instead."""
    from .datasets import load_labels
    from .inbox import inbox
    from .resources import tables

    if not settings().is_local:
        return alerts_were_published(to, count, table, dataset, subject)
    items = tables.items(table)
    start, end = _latest_send(items, dataset)
    alerted = [i for i in items if "alerted_at" in i and start and start <= i["timestamp"] <= end]
    mails = [m for m in inbox(to=to) if m["subject"] != CONFIRMATION_SUBJECT]  # SNS's, not the function's
    about = [m for m in mails if any(i["location"] in m["body"] and i["timestamp"] in m["body"] for i in alerted)]
    if len(about) != count:
        hint = ("Run the Test cell above once the table holds the anomaly data set's items (notebook 04)."
                if len(about) < count else
                f"The latest send of the data set has {len(alerted)} mailed anomalies, more than the {count} "
                "labelled ones: look at the e-mails above for readings that are not labelled anomalies.")
        raise CheckFailed(f"{to} has {len(about)} e-mail(s) about the anomalies of the latest send in {table}, "
                          f"expected {count}. {hint}")
    wrong = sorted({m["subject"] for m in about} - {subject})
    if wrong:
        raise CheckFailed(f"unexpected subject(s) {wrong}: every alert should say “{subject}”.")
    labels = load_labels(dataset)
    unnamed = [label["location"] for label in labels if sum(label["location"] in m["body"] for m in about) != 1]
    if unnamed:
        raise CheckFailed(f"these labelled anomalies are not in exactly one e-mail: {', '.join(unnamed)}.")
    older = len(mails) - len(about)
    passed(f"{to} received {count} e-mails “{subject}”, one per labelled anomaly"
           + (f" ({older} e-mail(s) about earlier sends are in the inbox too)" if older else ""),
           figure("e-mails about this send's anomalies", count, len(about)),
           figure("subjects", [subject] * count, [m["subject"] for m in about]),
           figure("locations of the labelled anomalies", sorted(label["location"] for label in labels),
                  sorted(next(label["location"] for label in labels if label["location"] in m["body"])
                         for m in about)),
           figure("e-mail bodies", "the turbine's location, the speed and the safe operating guidance",
                  [m["body"] for m in about]))


def alerts_were_published(to: str, count: int, table: str = "WindDataTable", dataset: str = "anomaly",
                          subject: str = ALERT_SUBJECT) -> None:
    """The aws target's `inbox_has_emails`: the delivery function published exactly `count` alerts about the
    anomalies of the latest send of `dataset` in `table`, one per labelled anomaly's location. It marks an anomaly
    `alerted_at` only when the topic has a confirmed subscriber, right before publishing, and takes the mark back
    if publishing fails, so the marks are what was published. Its log lines about them and SNS's
    NumberOfNotificationsDelivered are shown too; both reach CloudWatch later than the mark (seconds, minutes)."""
    from .datasets import load_labels
    from .resources import functions, tables, topics

    items = tables.items(table)
    start, end = _latest_send(items, dataset)
    alerted = [i for i in items if "alerted_at" in i and start and start <= i["timestamp"] <= end]
    function = NAMES.delivery_function
    if len(alerted) != count:
        hint = (f"Run the Test cell above once the table holds the anomaly data set's items (notebook 04), with "
                f"the subscription of {to} confirmed; the function's answer and its log (`lab.functions.logs("
                f"{function!r})`) say why it did not mail." if len(alerted) < count else
                f"The latest send of the data set has {len(alerted)} mailed anomalies, more than the {count} "
                "labelled ones: look at the table's items marked alerted_at for readings that are not labelled "
                "anomalies.")
        raise CheckFailed(f"{function} published {len(alerted)} alert(s) about the anomalies of the latest send in "
                          f"{table}, expected {count}. {hint}")
    labels = load_labels(dataset)
    unnamed = [label["location"] for label in labels if sum(i["location"] == label["location"] for i in alerted) != 1]
    if unnamed:
        raise CheckFailed(f"these labelled anomalies are not in exactly one alert: {', '.join(unnamed)}.")
    logged = [line for line in functions.logs(function, limit=10_000) if "mailed the anomaly at" in line
              and any(i["location"] in line and i["timestamp"] in line for i in alerted)]
    delivered = topics.deliveries()
    sns = ("SNS has not reported deliveries yet (CloudWatch shows NumberOfNotificationsDelivered a few minutes "
           "later)" if delivered is None else f"SNS reports {delivered} notification(s) delivered in the last hour")
    passed(f"{function} published {count} alerts “{subject}” to {NAMES.topic}, one per labelled anomaly; SNS mails "
           f"them to {to} (look in that mailbox). Its log names {len(logged)} of them so far; {sns}",
           figure("alerts published about this send's anomalies", count, len(alerted)),
           figure("locations of the labelled anomalies", sorted(label["location"] for label in labels),
                  sorted(i["location"] for i in alerted)),
           figure("log lines about them", count, len(logged)),
           figure("SNS NumberOfNotificationsDelivered, last hour", ">= 1", delivered))


def items_include_labelled_anomalies(items: "pd.DataFrame | None", dataset: str = "anomaly",
                                     threshold: float = ALERT_THRESHOLD) -> None:
    """The table items shown hold every labelled anomaly of `dataset`, each with anomaly_score >= threshold."""
    from .datasets import load_labels

    labels = load_labels(dataset)
    if items is None or not len(items):
        raise CheckFailed("the explorer shows no items: press Run; if the table is empty, go back to step 4.")
    scored = items.groupby("event_id")["anomaly_score"].max() if "event_id" in items else {}
    missing = [label for label in labels
               if max((scored.get(i, -1) for i in label["event_ids"]), default=-1) < threshold]
    if missing:
        raise CheckFailed(f"{len(missing)} labelled anomalies are not among the items with anomaly_score >= "
                          f"{threshold:g} (first: {missing[0]['location']} at {missing[0]['start']}). Tick “Only "
                          "anomaly_score ≥” and press Run; did notebook 03 send the anomaly data set?")
    passed(f"the explorer shows all {len(labels)} labelled anomalies with anomaly_score >= {threshold:g}",
           figure("labelled anomalies among the items shown", len(labels), len(labels) - len(missing)))


def function_logs_have_no_errors(name: str) -> None:
    """The function ran (its log has REPORT lines) and logged no [ERROR] line."""
    from .resources import functions

    lines = functions.logs(name, limit=10_000)
    runs = sum(line.startswith("REPORT") for line in lines)
    if not runs:
        raise CheckFailed(f"{name} has not run yet: is its trigger Enabled and does its stream hold records?")
    errors = [line for line in lines if line.startswith("[ERROR]")]
    if errors:
        raise CheckFailed(f"{name} logged {len(errors)} error(s); the first: {errors[0][:400]}")
    passed(f"{name} ran {runs} time(s) in the last hour without an error")


def all_readings_scored(scores: "pd.DataFrame", dataset: str) -> None:
    """Every reading of `dataset` came back from the app with a score."""
    from .datasets import load_records

    ids = {r["event_id"] for r in load_records(dataset)}
    seen = ids & set(scores["event_id"]) if "event_id" in scores else set()
    if seen != ids:
        raise CheckFailed(f"{len(ids) - len(seen):,} of the {len(ids):,} readings have no score yet: run the plot cell "
                          "again to read on (is AnomalyDetection RUNNING and the simulator finished?).")
    passed(f"all {len(ids):,} readings of the {dataset} data set have a score")


def attribution_adds_up(top: "pd.DataFrame") -> None:
    """Each anomaly's attribution (one value per shingle position) adds up to its score."""
    positions = [c for c in top.columns if c == "t" or c.startswith("t-")]
    if not len(top) or not positions:
        raise CheckFailed("there are no anomalies with an attribution: score the data set first (the cells above).")
    off = top[(top[positions].sum(axis=1) - top["score"]).abs() > 1e-6 * top["score"].abs().clip(lower=1)]
    if len(off):
        raise CheckFailed(f"the attribution of {len(off)} anomalies does not add up to the score; is the app the "
                          "lab's AnomalyDetection?")
    faults = int((top["fault"] != "false alert").sum())
    passed(f"each attribution adds up to its score; {faults} of the top {len(top)} alerts are labelled faults")


# -- scores, DIY, clean-up -----------------------------------------------------------------------------

def scoreboard_catches(board: "pd.DataFrame", **minimum_recall: float) -> None:
    """The scoreboard's recall per fault kind is at least `minimum_recall[kind]`, e.g. spike=1.0."""
    short = {kind: f"{board.loc[kind, 'recall']:.0%} < {least:.0%}" for kind, least in minimum_recall.items()
             if board.loc[kind, "recall"] < least}
    if short:
        raise CheckFailed("the detector missed faults it should catch: " + "; ".join(
            f"{kind} recall {text}" for kind, text in short.items()) + ". Did the whole turbine health data set "
            "reach the app (run the plot cell again), and is its `lab` group unchanged (rcf.*, stuck.runLength)?")
    passed("the detector catches " + ", ".join(f"{kind} {board.loc[kind, 'recall']:.0%}" for kind in minimum_recall),
           *(figure(f"{kind} recall", f">= {least:.0%}", f"{board.loc[kind, 'recall']:.0%}")
             for kind, least in minimum_recall.items()),
           figure("scoreboard", "", board.reset_index().to_dict("records")))


def simulator_stopped() -> None:
    """The simulator is not sending."""
    from . import simulate

    report = simulate.status()
    if report["state"] == "running":
        raise CheckFailed("the simulator is still sending: press Stop (or run the cell above again).")
    passed(f"the simulator is {report['state']}")


def apps_are_stopped() -> None:
    """No course application is running (each stopped one keeps its snapshots)."""
    from . import teardown
    from .resources import apps

    running = [r.name for r in teardown.find() if r.kind == "Flink application" and apps.status(r.name) != "READY"]
    if running:
        raise CheckFailed(f"still running: {', '.join(running)}. Run the cell above again; if a stop fails, "
                          f"`lab.apps.logs({running[0]!r})` says why.")
    passed("no Flink application is running")


def course_resources_deleted(kind: str | None = None) -> None:
    """Nothing the course created is left: of one kind ("functions", "tables", "topics", "apps", "streams",
    "buckets", "roles"), or of any kind."""
    from . import cleanup

    left = cleanup.leftovers(kind)
    if left:
        raise CheckFailed(f"still there: {', '.join(left)}. Run the delete cell above again; a stream or table "
                          "that is being deleted disappears within a minute.")
    what = {"functions": "Lambda function and trigger", "tables": "DynamoDB table", "topics": "SNS topic",
            "apps": "Flink application", "streams": "Kinesis stream", "buckets": "S3 bucket", "roles": "IAM role"}
    passed(f"every {what[kind] if kind else 'resource'} of the course is deleted")
