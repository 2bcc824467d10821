"""AnomalyMessageDeliveryFunction: one e-mail per anomaly in WindDataTable, each anomaly mailed once.

Run it by hand (the console's Test button) or on a schedule; the event's content is not used.
Environment: OUTPUT_TABLE_NAME (default WindDataTable), SNS_TOPIC_ARN (the AnomalyNotification topic),
THRESHOLD and SUBJECT (labkit sets both from labkit.config; the defaults below are the lab's values, for a
deployment without labkit).

A reading is anomalous when its anomaly_score is at least THRESHOLD (compared as numbers), the detector
flagged a stuck sensor, or its power-curve rule flagged the turbine (under-performance, stop). Consecutive
anomalous readings of one location are ONE anomaly event (a spike also lifts the next few scores); its mail
reads like a maintenance ticket: turbine, location, fault kind, since when, expected vs actual power, energy
lost, and for the forest's alerts which reading drove the score. Before publishing, the function marks the event's first reading with
`alerted_at` through a conditional write, so a second run, or a concurrent one, sends nothing again; if
publishing fails the mark is taken back and the next run retries.
"""
from __future__ import annotations

import logging
import math
import os
import time
from collections import defaultdict

import boto3
from botocore.exceptions import ClientError

from kinesis_batch import iso_time

SUBJECT = "Abnormal Wind Turbine Speed Detected"  # labkit.config.ALERT_SUBJECT
THRESHOLD = 2.0  # labkit.config.ALERT_THRESHOLD
GUIDANCE = (
    "Safe operating guidance: a wind turbine produces its maximum capacity in winds of roughly 30 to 55 mph. "
    "When the wind is above about 70 mph, start the shutdown procedure to protect the turbine from high wind."
)
FIELDS = ("location", "reading_id", "timestamp", "turbine_id", "wind_speed", "anomaly_score", "stuck", "alerted_at",
          "rule", "fault", "fault_since", "power_kw", "expected_kw", "energy_lost_kwh", "power_curve", "attribution")
POWER_RULE = "power"  # the detector's power-curve rule
KINDS = {
    "spike": "spike: the anemometer reported a speed far above the recent wind",
    "dropout": "drop-out: the anemometer reported no wind while the turbine kept producing",
    "stuck": "stuck sensor: the anemometer repeated one reading",
    "underperformance": "under-performance: the turbine delivers less power than its power curve gives",
    "stop": "stop at good wind: the turbine delivers no power although the wind is in its operating range",
}
POWER_GUIDANCE = (
    "Maintenance: inspect the turbine (pitch and yaw systems, blades for icing or damage, converter and "
    "curtailment settings) before the loss grows; the power lost is counted from the fault's start."
)

log = logging.getLogger()
log.setLevel(logging.INFO)


def is_anomalous(item: dict, threshold: float) -> bool:
    return (float(item.get("anomaly_score", 0)) >= threshold or item.get("stuck") is True
            or item.get("rule") == POWER_RULE)


def readable(items: list[dict]) -> list[dict]:
    """The items this function can judge and mail about; any other (e.g. typed by hand in the console: a score
    that is not a number, no wind speed or time) is left out with a log line instead of stopping every mail."""
    kept = []
    for item in items:
        problem = None if isinstance(item.get("timestamp"), str) else "it has no timestamp"
        for field in ("anomaly_score", "wind_speed"):
            try:
                finite = math.isfinite(float(item.get(field)))
            except (TypeError, ValueError, OverflowError):
                finite = False
            problem = problem or (None if finite else f"{field} is {_clean(item.get(field), 40)!r}, not a number")
        if problem:
            log.warning("left out item %s / %s: %s", _clean(item.get("location")), _clean(item.get("reading_id"), 80),
                        problem)
        else:
            kept.append(item)
    return kept


def anomaly_events(items: list[dict], threshold: float) -> list[list[dict]]:
    """Runs of consecutive anomalous readings of one location, each run in time order (no I/O)."""
    by_location = defaultdict(list)
    for item in items:
        by_location[item["location"]].append(item)
    events = []
    for readings in by_location.values():
        run: list[dict] = []
        for item in sorted(readings, key=lambda i: i["reading_id"]):
            if is_anomalous(item, threshold):
                run.append(item)
            elif run:
                events.append(run)
                run = []
        if run:
            events.append(run)
    return sorted(events, key=lambda run: run[0]["reading_id"])


def _clean(value, limit: int = 64) -> str:
    """Untrusted text for a mail body: printable, one line, at most `limit` characters."""
    text = " ".join("".join(c if c.isprintable() else " " for c in str(value)).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _driver(attribution) -> str | None:
    """Which reading of the shingle drove the forest's score, in words, e.g. "this reading (92% of the score)";
    None when the attribution is missing or not the detector's."""
    try:
        shares = {str(k): float(v) for k, v in attribution.items()}
    except (AttributeError, TypeError, ValueError):
        return None
    total = sum(shares.values())
    position = max(shares, key=shares.get) if shares else ""
    age = position[2:] if position.startswith("t-") else "0" if position == "t" else ""
    if not age.isdigit() or not total > 0:
        return None
    which = {"0": "this reading", "1": "the reading before it"}.get(age, f"the reading {age} before it")
    return f"{which} ({shares[position] / total:.0%} of the score)"


def _kw(value) -> str:
    return f"{float(value):,.1f} kW"


def message(event: list[dict], threshold: float) -> str:
    """The e-mail body for one anomaly event (no I/O): a maintenance ticket for a power-curve fault, else where,
    how fast, how anomalous, when, why, what to do."""
    power = [item for item in event if item.get("rule") == POWER_RULE]
    if power:
        return _power_message(event, power[-1])
    peak = max(event, key=lambda item: float(item.get("anomaly_score", 0)))
    turbine = f" (turbine {_clean(peak['turbine_id'])})" if peak.get("turbine_id") else ""
    lines = [
        f"Abnormal wind turbine speed detected at {_clean(peak['location'])}{turbine}.",
        "",
        f"  Wind speed:    {float(peak['wind_speed']):.1f} mph",
        f"  Anomaly score: {float(peak['anomaly_score']):.2f} (alert threshold {threshold:g})",
        f"  Time (UTC):    {_clean(peak['timestamp'], 40)}",
    ]
    kind = next((item["fault"] for item in event if item.get("fault") in KINDS), None)
    if kind:
        lines.append(f"  Kind:          {KINDS[kind]}")
    driver = _driver(peak.get("attribution"))
    if driver and float(peak["anomaly_score"]) >= threshold:
        lines.append(f"  Why:           the forest's score came from {driver}")
    if peak.get("power_kw") is not None and peak.get("expected_kw") is not None:
        lines.append(f"  Power:         {_kw(peak['power_kw'])} delivered; the power curve gives "
                     f"{_kw(peak['expected_kw'])} at the reported speed")
    if len(event) > 1:
        lines.append(f"  Readings:      {len(event)} in a row, {_clean(event[0]['timestamp'], 40)} "
                     f"to {_clean(event[-1]['timestamp'], 40)}")
    if any(item.get("stuck") is True for item in event):
        lines.append("  Note:          the same speed repeated many times: the anemometer may be stuck.")
    return "\n".join([*lines, "", GUIDANCE])


def _power_message(event: list[dict], last: dict) -> str:
    """The ticket for an under-performing or stopped turbine; `last` is the event's latest power-rule reading."""
    turbine = f"turbine {_clean(last['turbine_id'])}" if last.get("turbine_id") else "turbine"
    kind = last.get("fault") if last.get("fault") in KINDS else "underperformance"
    lines = [
        f"Turbine fault: {turbine} at {_clean(last['location'])}, {KINDS[kind].split(':')[0]}.",
        "",
        f"  Kind:          {KINDS[kind]}",
        f"  Since (UTC):   {_clean(last.get('fault_since') or event[0]['timestamp'], 40)}",
        f"  Last reading:  {_clean(last['timestamp'], 40)}, wind {float(last['wind_speed']):.1f} mph",
    ]
    if last.get("power_kw") is not None and last.get("expected_kw") is not None:
        curve = f" ({_clean(last['power_curve'], 40)} curve)" if last.get("power_curve") else ""
        lines.append(f"  Power:         {_kw(last['power_kw'])} delivered, {_kw(last['expected_kw'])} expected{curve}")
    if last.get("energy_lost_kwh") is not None:
        lines.append(f"  Energy lost:   {float(last['energy_lost_kwh']):,.1f} kWh so far")
    lines.append(f"  Readings:      {len(event)}, {_clean(event[0]['timestamp'], 40)} "
                 f"to {_clean(event[-1]['timestamp'], 40)}")
    return "\n".join([*lines, "", POWER_GUIDANCE])


def _threshold() -> float:
    raw = os.environ.get("THRESHOLD")
    try:
        return THRESHOLD if raw is None else float(raw)
    except ValueError:
        raise ValueError(f"THRESHOLD={raw!r} is not a number; set it to the alert score, e.g. {THRESHOLD:g}.") from None


def _scan(table) -> list[dict]:
    """Every item of the table (the FIELDS of each), through the Scan paginator of the table's client (which,
    like the table, gives Python values)."""
    names = {f"#f{i}": name for i, name in enumerate(FIELDS)}
    pages = table.meta.client.get_paginator("scan").paginate(
        TableName=table.name, ProjectionExpression=", ".join(names), ExpressionAttributeNames=names)
    return [item for page in pages for item in page["Items"]]


def _mark(table, item: dict, stamp: str, claim: bool) -> bool:
    """Set (claim) or take back the event's `alerted_at` mark; False if another run holds it."""
    key = {"location": item["location"], "reading_id": item["reading_id"]}
    try:
        if claim:
            table.update_item(Key=key, UpdateExpression="SET alerted_at = :t",
                              ConditionExpression="attribute_exists(reading_id) AND attribute_not_exists(alerted_at)",
                              ExpressionAttributeValues={":t": stamp})
        else:
            table.update_item(Key=key, UpdateExpression="REMOVE alerted_at",
                              ConditionExpression="alerted_at = :t", ExpressionAttributeValues={":t": stamp})
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def confirmed_subscribers(sns, topic_arn: str) -> int:
    """How many of the topic's subscriptions are confirmed. SNS delivers nothing to one that is still
    PendingConfirmation (an e-mail address whose owner has not clicked the link in the confirmation mail)."""
    pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
    return sum(s["SubscriptionArn"].startswith("arn:") for page in pages for s in page["Subscriptions"])


def handler(event, context):
    threshold, subject = _threshold(), os.environ.get("SUBJECT", SUBJECT)
    topic_arn = os.environ.get("SNS_TOPIC_ARN")
    if not topic_arn:
        raise ValueError("SNS_TOPIC_ARN is not set; set it to the ARN of the AnomalyNotification topic.")
    table_name = os.environ.get("OUTPUT_TABLE_NAME", "WindDataTable")
    table = boto3.resource("dynamodb").Table(table_name)
    sns = boto3.client("sns")
    try:
        events = anomaly_events(readable(_scan(table)), threshold)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            raise RuntimeError(f"the DynamoDB table {table_name!r} does not exist; "
                               "create it or fix OUTPUT_TABLE_NAME.") from error
        raise
    waiting = sum(not any("alerted_at" in item for item in run) for run in events)
    if waiting and not confirmed_subscribers(sns, topic_arn):
        why = ("the topic has no confirmed subscriber, so SNS would deliver to nobody: confirm the subscription "
               "(the link in its confirmation e-mail), then run the function again")
        log.warning("%d anomaly events not mailed and not marked: %s", waiting, why)
        return {"anomaly_events": len(events), "mailed": 0, "already_mailed": len(events) - waiting,
                "not_mailed": waiting, "why_not_mailed": why}
    mailed = 0
    for run in events:
        first = run[0]
        stamp = iso_time(time.time())
        if any("alerted_at" in item for item in run) or not _mark(table, first, stamp, claim=True):
            continue
        try:
            sns.publish(TopicArn=topic_arn, Subject=subject, Message=message(run, threshold))
        except Exception:
            _mark(table, first, stamp, claim=False)
            raise
        mailed += 1
        log.info("mailed the anomaly at %s starting %s", _clean(first["location"]), _clean(first["timestamp"], 40))
    log.info("%d anomaly events at score >= %g; %d mailed now, %d mailed before", len(events), threshold, mailed,
             len(events) - mailed)
    return {"anomaly_events": len(events), "mailed": mailed, "already_mailed": len(events) - mailed}
