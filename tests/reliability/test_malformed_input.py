"""Drill: malformed input through every entry point of the pipeline, mixed with valid readings.

- Kinesis records reaching Flink (AnomalyDetection): each is rejected with its reason on the job's `rejected`
  side output (TaskManager stdout), in order, or, when it is a valid reading after all (a duplicate, an
  out-of-order or very late event time), delivered; every valid reading around them arrives scored;
- Kinesis records reaching each stream Lambda (AnalyticsDestinationFunction, DIYFunction): each malformed one
  is skipped with its reason in the function's log, valid ones are stored;
- AnomalyMessageDeliveryFunction: malformed invocation payloads and hand-made table items that are not
  readings: a clear error or a logged skip, and every real anomaly still mailed;
- the simulator's JSON API: each bad request gets a 4xx answer with a sentence, the service keeps running
  and the run in progress sends its whole data set.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter

import pytest

import labkit as lab
from labkit.config import CONFIRMATION_SUBJECT
from labkit.progress import wait_until
from tests.conftest import aws_client
from tests.reliability.pipeline import (ANOMALY_STREAM, FUNCTION, TRIGGER, WIND_STREAM, audit, finish, prefixed,
                                        read_stream, record_figures, send, wait_for_items)

pytestmark = pytest.mark.flink
PREFIX = "malformed"
REJECTED = "rejected> "


def _json(record: dict, **changes) -> bytes:
    """`record` as JSON with fields changed (a value of ... removes the field)."""
    changed = {k: v for k, v in {**record, **changes}.items() if v is not ...}
    return json.dumps(changed).encode()


def _with(record: dict, field: str, raw: str) -> bytes:
    """`record` as JSON with one field's value written as the raw JSON text `raw` (NaN, huge numbers...)."""
    return json.dumps({**record, field: "__RAW__"}).replace('"__RAW__"', raw).encode()


def _bad(kind: str) -> str:
    return f"{PREFIX}:bad-{kind}"


# -- Kinesis records reaching Flink ---------------------------------------------------------------------------

def flink_catalogue(valid: list[dict]) -> list[tuple[str, bytes, str]]:
    """(kind, data, outcome): outcome "delivered", or the fragment the rejection's reason must contain."""
    r = valid[0]
    same_place = [v for v in valid if v["location"] == r["location"]]
    late = {**r, "event_time": same_place[1]["event_time"]}
    return [
        ("not JSON", f"{_bad('text')} is not a reading".encode(), "not JSON"),
        ("truncated JSON", _json(r, event_id=_bad("truncated"))[:45], "not JSON"),
        ("empty payload", b"", "not JSON"),
        ("only whitespace", b" \n\t ", "not JSON"),
        ("JSON array", b'[1, 2, 3]', "expected a JSON object"),
        ("JSON number", b"42", "expected a JSON object"),
        ("JSON null", b"null", "expected a JSON object"),
        ("missing speed", _json(r, event_id=_bad("no-speed"), speed=...), "'speed' must be a finite number"),
        ("missing location", _json(r, event_id=_bad("no-location"), location=...), "'location' must be a non-empty"),
        ("missing event_id", _json(r, event_id=...), "'event_id' must be a non-empty"),
        ("missing event_time", _json(r, event_id=_bad("no-time"), event_time=...), "'event_time' must be a non-empty"),
        ("speed as text", _json(r, event_id=_bad("speed-text"), speed="31.5"), "'speed' must be a finite number"),
        ("speed as boolean", _json(r, event_id=_bad("speed-bool"), speed=True), "'speed' must be a finite number"),
        ("speed as object", _json(r, event_id=_bad("speed-obj"), speed={"mph": 3}), "'speed' must be a finite number"),
        ("location as number", _json(r, event_id=_bad("loc-num"), location=7), "'location' must be a non-empty"),
        ("NaN speed", _with({**r, "event_id": _bad("nan")}, "speed", "NaN"), "'speed' must be a finite number"),
        ("infinite speed", _with({**r, "event_id": _bad("inf")}, "speed", "Infinity"), "must be a finite number"),
        ("-infinite speed", _with({**r, "event_id": _bad("-inf")}, "speed", "-Infinity"), "must be a finite number"),
        ("negative speed", _json(r, event_id=_bad("negative"), speed=-3.5), ">= 0 mph"),
        ("absurd speed 5,000 mph", _json(r, event_id=_bad("absurd"), speed=5000.0), "<= 300 mph"),
        ("absurd speed 1e50 mph", _json(r, event_id=_bad("1e50"), speed=1e50), "<= 300 mph"),
        ("400-digit integer speed", _with({**r, "event_id": _bad("int400")}, "speed", "1" + "0" * 400),
         "'speed' must be a finite number"),
        ("5,000-digit number", _with({**r, "event_id": _bad("digits")}, "speed", "7" * 5000), "not JSON"),
        ("JSON nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        ("unknown location", _json(r, event_id=_bad("atlantis"), location="Atlantis"), "is not one of this app's"),
        ("location of 300 bytes", _json(r, event_id=_bad("long-loc"), location="x" * 300), "at most 256 bytes"),
        ("record of 800 KB", json.dumps({**r, "event_id": _bad("800kb"), "location": "\u00e9" * 400_000},
                                        ensure_ascii=False).encode(), "at most 256 bytes"),
        ("Latin-1 bytes", _json(r, event_id=_bad("latin1")).replace(r["location"].encode(), "Z\u00fcrich".encode(
            "latin-1")), "printable UTF-8 text"),
        ("UTF-16 record", _json(r, event_id=_bad("utf16")).decode().encode("utf-16"), "not JSON"),
        ("invalid UTF-8 bytes", _json(r, event_id=_bad("utf8")).replace(r["turbine_id"].encode(), b"WT\xff\xfe"),
         "printable UTF-8 text"),
        ("control characters", _json(r, event_id=_bad("ctrl"), location="North\u001b[2J Ridge"), "printable UTF-8"),
        ("event_time not ISO-8601", _json(r, event_id=_bad("when"), event_time="yesterday"), "is not ISO-8601"),
        ("event_time without zone", _json(r, event_id=_bad("zone"), event_time="2024-06-03T10:00:00"),
         "has no time zone"),
        ("duplicated event id", _json(valid[1]), "delivered"),
        ("out-of-order event time", _json(late, event_id=f"{PREFIX}:out-of-order"), "delivered"),
        ("very late event time", _json(r, event_id=f"{PREFIX}:very-late", event_time="2001-01-01T00:00:00.000Z"),
         "delivered"),
        ("far-future event time", _json(r, event_id=f"{PREFIX}:far-future", event_time="9999-12-31T23:59:59.999Z"),
         "delivered"),
    ]


def rejections() -> list[dict]:
    """Everything the job has put on its `rejected` side output so far (TaskManager stdout), in order."""
    folder = lab.settings().state_dir / "flink" / "log"
    lines = [line for path in sorted(folder.glob("*taskexecutor*.out"))
             for line in path.read_text(errors="replace").splitlines() if line.startswith(REJECTED)]
    return [json.loads(line[len(REJECTED):]) for line in lines]


def test_malformed_records_reaching_flink_are_rejected_with_reasons_and_lose_nothing(drill):
    valid = prefixed("anomaly", PREFIX, 600)
    catalogue = flink_catalogue(valid)
    mixed: list[dict | bytes] = list(valid[:100])
    for (_, data, _), reading in zip(catalogue, valid[100:]):
        mixed += [data, reading]
    mixed += valid[100 + len(catalogue):]
    before = len(rejections())

    finish(send(mixed))
    too_big = json.dumps({**valid[0], "event_id": _bad("1mb"), "note": "x" * 2**20}).encode()
    with pytest.raises(Exception, match="ValidationException.*must have length less than or equal to 1048576"):
        aws_client("kinesis", lab.settings().endpoint_url).put_records(StreamName=WIND_STREAM, Records=[
            {"Data": too_big, "PartitionKey": "big"}])
    expected = [outcome for _, _, outcome in catalogue if outcome != "delivered"]
    delivered = {json.loads(data)["event_id"] for _, data, outcome in catalogue if outcome == "delivered"}
    wait_for_items(PREFIX, len(valid) + len(delivered) - 1)  # the duplicate adds no item
    wait_until(lambda: len(rejections()) >= before + len(expected), 120, "the job's rejections", quiet=True)

    new = rejections()[before:]
    assert len(new) == len(expected), [n["reason"][:60] for n in new]
    for (kind, _, fragment), rejection in zip([c for c in catalogue if c[2] != "delivered"], new):
        assert fragment in rejection["reason"], (kind, rejection["reason"])
    sent = valid + [{"event_id": event_id} for event_id in delivered - {valid[1]["event_id"]}]
    figures = audit(PREFIX, sent)
    assert figures["lost"] == figures["duplicated"] == figures["unexpected"] == figures["wrong_scores"] == 0, figures
    assert figures["uncounted"] == 0, figures
    assert drill.job_id() and lab.apps.status("AnomalyDetection") == "RUNNING"
    record_figures("malformed-flink", f"{len(catalogue) + 1} kinds of malformed records into WindDataStream "
                   f"(Flink), {len(mixed) - len(valid)} records among {len(valid)} valid readings",
                   f"{len(expected)} rejected with their reason on the job's side output; {len(delivered)} valid after "
                   "all (duplicate, out-of-order, late, far-future) delivered; >1 MiB refused by Kinesis at put; "
                   "the job never restarted",
                   {**figures, "records_in": len(mixed) + 1}, rejected=len(expected), refused_at_put=1,
                   kinds={kind: "delivered" if outcome == "delivered" else f"rejected: {reason['reason'][:90]}"
                          for (kind, _, outcome), reason in zip(catalogue, _aligned(catalogue, new))})


def _aligned(catalogue, rejected: list[dict]) -> list[dict]:
    """One entry per catalogue kind: its rejection, or {} for the delivered kinds."""
    found = iter(rejected)
    return [{} if outcome == "delivered" else next(found) for _, _, outcome in catalogue]


# -- Kinesis records reaching the stream Lambdas ---------------------------------------------------------------

def put_all(stream: str, payloads: list[bytes]) -> list[str]:
    """Put the payloads in order (one call); their event IDs as the function sees them (shard:sequence)."""
    answer = aws_client("kinesis", lab.settings().endpoint_url).put_records(
        StreamName=stream, Records=[{"Data": p, "PartitionKey": "drill"} for p in payloads])
    assert answer["FailedRecordCount"] == 0
    return [f"{r['ShardId']}:{r['SequenceNumber']}" for r in answer["Records"]]


def skipped(log: list[str], event_id: str) -> str | None:
    """The reason the function logged for skipping record `event_id`, if it did."""
    marker = f"skipped malformed record {event_id}: "
    return next((line.split(marker, 1)[1] for line in log if marker in line), None)


def judged(function: str, catalogue, event_ids: list[str], first: int) -> tuple[list[str], dict[str, str]]:
    """Wait until the function logged a skip for every kind it must reject (catalogue entry i is record
    first + i); its log and, per kind, what happened to it."""
    rejects = [first + i for i, (_, _, outcome) in enumerate(catalogue) if outcome != "delivered"]
    wait_until(lambda: all(skipped(lab.functions.logs(function, limit=100_000), event_ids[i]) for i in rejects),
               120, f"{function} to judge every malformed record", quiet=True, interval_s=1)
    log = lab.functions.logs(function, limit=100_000)
    results = {}
    for position, (kind, _, outcome) in enumerate(catalogue, start=first):
        reason = skipped(log, event_ids[position])
        results[kind] = f"skipped: {reason[:90]}" if reason else "delivered"
        assert (reason is None) if outcome == "delivered" else (reason and outcome in reason), (kind, reason)
    return log, results


def analytics_catalogue(r: dict) -> list[tuple[str, bytes, str]]:
    """(kind, data, outcome) for AnomalyDetectionStream records: "delivered" or the reason's fragment."""
    return [
        ("not JSON", b"not a record", "not JSON"),
        ("truncated JSON", _json(r)[:30], "not JSON"),
        ("empty payload", b"", "not JSON"),
        ("JSON array", b"[1, 2]", "expected a JSON object"),
        ("missing location", _json(r, location=...), "'location'"),
        ("missing speed", _json(r, speed=...), "'speed' must be a finite number"),
        ("missing score", _json(r, score=...), "'score' must be a finite number"),
        ("speed as text", _json(r, speed="fast"), "'speed' must be a finite number"),
        ("score as boolean", _json(r, score=True), "'score' must be a finite number"),
        ("NaN score", _with(r, "score", "NaN"), "'score' must be a finite number"),
        ("infinite speed", _with(r, "speed", "Infinity"), "'speed' must be a finite number"),
        ("negative speed", _json(r, speed=-4.0), "'speed' must be"),
        ("absurd speed 1e300", _json(r, speed=1e300), "DynamoDB"),
        ("score 1e-300", _json(r, score=1e-300), "DynamoDB"),
        ("400-digit integer", _with(r, "speed", "1" + "0" * 400), "'speed' must be a finite number"),
        ("5,000-digit number", _with(r, "score", "3" * 5000), "not JSON"),
        ("JSON nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        ("location of 300 characters", _json(r, location="x" * 300), "'location' must be"),
        ("event id of 1,000 bytes", _json(r, event_id="\U0001F32C" * 250), "'event_id' must be"),
        ("event_time not ISO-8601", _json(r, event_time="yesterday"), "ISO-8601 with a time zone"),
        ("event_time without zone", _json(r, event_time="2026-11-27T10:00:00"), "ISO-8601 with a time zone"),
        ("control characters", _json(r, location="North\u001b[2J\nRidge"), "'location' must be"),
        ("invalid UTF-8 bytes", _json(r).replace(b"North", b"N\xffrth"), "not JSON"),
        ("attribution with NaN", _with(r, "attribution", '{"t": NaN}'), "'t' must be a finite number"),
        ("UTF-16 record", _json(r, event_id="lambda:utf16").decode().encode("utf-16"), "delivered"),
        ("1,000 attribution keys", _json(r, event_id="lambda:wide", attribution={f"k{i}": 0.1 for i in range(1000)}),
         "delivered"),
        ("unknown extra fields", _json(r, event_id="lambda:extra", colour="blue"), "delivered"),
        ("duplicated record", _json(r), "delivered"),
    ]


def test_malformed_records_reaching_analytics_destination_are_skipped_with_reasons(drill):
    valid = [{"event_id": f"lambda:{i}", "event_time": f"2026-11-27T11:00:{i:02d}.000Z", "location": "North Ridge",
              "turbine_id": "WT-01", "speed": 30.5 + i, "score": 0.8, "attribution": {"t": 0.8}, "stuck": False,
              "rule": None} for i in range(40)]
    catalogue = analytics_catalogue(valid[0])
    payloads = [json.dumps(v).encode() for v in valid[:10]] + [data for _, data, _ in catalogue] + \
        [json.dumps(v).encode() for v in valid[10:]]
    event_ids = put_all(ANOMALY_STREAM, payloads)
    wanted = {v["event_id"] for v in valid} | {"lambda:utf16", "lambda:wide", "lambda:extra"}

    def stored() -> set[str]:
        return {i["event_id"] for i in lab.tables.items("DrillWindTable") if i.get("event_id", "").startswith("lambda:")}

    wait_until(lambda: stored() >= wanted, 180, "the valid records in DrillWindTable", quiet=True, interval_s=2)
    log, results = judged(FUNCTION, catalogue, event_ids, first=10)
    assert stored() == wanted
    assert not any("it will be retried" in line and any(e in line for e in event_ids) for line in log)
    wide = next(i for i in lab.tables.items("DrillWindTable") if i["event_id"] == "lambda:wide")
    assert len(wide["attribution"]) == 16
    rejected = sum(1 for _, _, outcome in catalogue if outcome != "delivered")
    record_figures("malformed-analytics", f"{len(catalogue)} kinds of malformed records into AnomalyDetectionStream "
                   "(AnalyticsDestinationFunction)",
                   f"{rejected} skipped with their reason in the function's log, none retried or parked; the rest "
                   "stored", {"records_in": len(payloads), "records_out": len(stored()), "lost": 0, "duplicated": 0},
                   rejected=rejected, kinds=results)


DIY_STREAM, DIY_TABLE, DIY_FUNCTION = "DrillMaxSpeedStream", "DrillDIYTable", "DrillDIYFunction"


@pytest.fixture(scope="module")
def diy(drill):
    """MaxWindSpeed -> DIYFunction -> DIYTable under drill names."""
    lab.streams.create(DIY_STREAM, quiet=True)
    lab.tables.create(DIY_TABLE, partition_key="location", sort_key="timestamp", quiet=True)
    lab.functions.deploy(DIY_FUNCTION, handler_file="diy_function.py", environment={"OUTPUT_TABLE_NAME": DIY_TABLE},
                         quiet=True)
    options = {k: v for k, v in TRIGGER.items() if k != "starting_position"}
    lab.functions.add_trigger(DIY_FUNCTION, DIY_STREAM, quiet=True, **options)
    yield
    lab.functions.delete(DIY_FUNCTION)
    lab.tables.delete(DIY_TABLE, quiet=True)
    lab.streams.delete(DIY_STREAM, quiet=True)


def diy_catalogue() -> list[tuple[str, bytes, str]]:
    window = {"location": "North Ridge", "max_wind_speed": 41.5, "window_start": "2026-11-27T10:00:00.000Z",
              "window_end": "2026-11-27T10:01:00.000Z", "count": 60}
    return [
        ("neither JSON nor CSV", b"hello", "expected JSON or a CSV line"),
        ("CSV with three fields", b'"North Ridge",41.5,7', "expected JSON or a CSV line"),
        ("CSV speed as text", b'"North Ridge",fast', "finite number >= 0"),
        ("CSV negative speed", b'"North Ridge",-3', "finite number >= 0"),
        ("CSV NaN speed", b'"North Ridge",nan', "finite number >= 0"),
        ("CSV infinite speed", b'"North Ridge",inf', "finite number >= 0"),
        ("empty payload", b"", "expected JSON or a CSV line"),
        ("truncated JSON", json.dumps(window).encode()[:30], "not valid JSON"),
        ("JSON array", b"[1, 2, 3]", "expected JSON or a CSV line"),
        ("missing location", _json(window, location=...), "location must be"),
        ("speed null", _json(window, max_wind_speed=None), "finite number >= 0"),
        ("400-digit integer speed", _with(window, "max_wind_speed", "1" + "0" * 400), "finite number >= 0"),
        ("absurd speed 1e300", _json(window, max_wind_speed=1e300), "DynamoDB"),
        ("JSON nested 100,000 deep", b"{" + b'"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "not valid JSON"),
        ("invalid UTF-8 bytes", b'"N\xffrth",3', "not UTF-8"),
        ("location of 300 characters", _json(window, location="x" * 300), "location must be"),
        ("window_end as number", _json(window, window_end=12), "window_end must be"),
        ("window_end of 100 characters", _json(window, window_end="2" * 100), "window_end must be"),
        ("same window again", _json(window), "delivered"),
        ("out-of-order window", _json(window, window_start="2026-11-27T09:00:00.000Z",
                                      window_end="2026-11-27T09:01:00.000Z"), "delivered"),
    ]


def test_malformed_records_reaching_the_diy_function_are_skipped_with_reasons(diy):
    valid = [json.dumps({"location": place, "max_wind_speed": 30.0 + k, "window_start": "2026-11-27T10:00:00.000Z",
                         "window_end": "2026-11-27T10:01:00.000Z", "count": 60}).encode()
             for k, place in enumerate(("North Ridge", "Lakeshore", "Quarry Hill"))] + [b'"Harbor Point",33.5']
    catalogue = diy_catalogue()
    payloads = valid[:2] + [data for _, data, _ in catalogue] + valid[2:]
    event_ids = put_all(DIY_STREAM, payloads)
    wait_until(lambda: len(lab.tables.items(DIY_TABLE)) >= 5, 120, "the valid windows in DrillDIYTable", quiet=True,
               interval_s=1)
    _, results = judged(DIY_FUNCTION, catalogue, event_ids, first=2)
    places = Counter(item["location"] for item in lab.tables.items(DIY_TABLE))
    assert places == {"North Ridge": 2, "Lakeshore": 1, "Quarry Hill": 1, "Harbor Point": 1}
    rejected = sum(1 for _, _, outcome in catalogue if outcome != "delivered")
    record_figures("malformed-diy", f"{len(catalogue)} kinds of malformed records into MaxWindSpeed (DIYFunction)",
                   f"{rejected} skipped with their reason in the function's log; valid windows stored, a repeated "
                   "one once", {"records_in": len(payloads), "records_out": sum(places.values()), "lost": 0,
                                "duplicated": 0}, rejected=rejected, kinds=results)


# -- AnomalyMessageDeliveryFunction: its invocation payload and the table items it reads ------------------------

DELIVERY_TABLE, DELIVERY_FUNCTION, ALERTS = "DrillDeliveryTable", "DrillDeliveryFunction", "DrillAlerts"
ALERT_ADDRESS = "drill-alerts@drill.example.com"


def _item(location: str, second: int, **fields) -> dict:
    stamp = f"2026-11-27T12:00:{second:02d}.000Z"
    return {"location": location, "reading_id": f"{stamp}#{location}-{second}", "timestamp": stamp,
            "event_id": f"{location}-{second}", **fields}


def test_the_delivery_function_mails_every_real_anomaly_whatever_else_it_is_given(drill):
    from decimal import Decimal

    topic = lab.topics.create(ALERTS)
    lab.topics.subscribe_email(ALERT_ADDRESS, topic=ALERTS)
    lab.topics.confirm(ALERT_ADDRESS, topic=ALERTS)
    lab.tables.create(DELIVERY_TABLE, partition_key="location", sort_key="reading_id", quiet=True)
    lab.functions.deploy(DELIVERY_FUNCTION, handler_file="anomaly_message_delivery.py", quiet=True, environment={
        "OUTPUT_TABLE_NAME": DELIVERY_TABLE, "SNS_TOPIC_ARN": topic, "THRESHOLD": "2"})
    try:
        table = aws_client("dynamodb", lab.settings().endpoint_url)
        from boto3.dynamodb.types import TypeSerializer
        serialize = TypeSerializer().serialize
        good = [_item("Lakeshore", s, wind_speed=Decimal("31.5"), anomaly_score=Decimal("0.7")) for s in range(3)]
        good += [_item("Lakeshore", 3, wind_speed=Decimal("88.1"), anomaly_score=Decimal("4.4")),
                 _item("Quarry Hill", 1, wind_speed=Decimal("5.0"), anomaly_score=Decimal("3.2")),
                 _item("Airport Flats", 1, wind_speed="71", anomaly_score="9.5")]  # typed by hand in the console
        hand_made = {  # items no AnalyticsDestinationFunction wrote; what each one lacks
            "score as a word": _item("Harbor Point", 1, wind_speed=Decimal("40"), anomaly_score="high"),
            "no wind speed": _item("North Ridge", 1, anomaly_score=Decimal("5")),
            "no timestamp": {k: v for k, v in _item("Bay", 1, wind_speed=Decimal("40"),
                                                     anomaly_score=Decimal("6")).items() if k != "timestamp"},
            "score as a list": _item("Cove", 1, wind_speed=Decimal("40"), anomaly_score=[1, 2]),
        }
        for item in [*good, *hand_made.values()]:
            table.put_item(TableName=DELIVERY_TABLE, Item={k: serialize(v) for k, v in item.items()})

        lam = aws_client("lambda", lab.settings().endpoint_url)
        with pytest.raises(Exception, match="InvalidRequestContentException"):
            lam.invoke(FunctionName=DELIVERY_FUNCTION, Payload=b"this is not JSON")
        payloads = [[1, 2], "text", None, 42, {"Records": "nonsense"}, [[[[[]]]]], {}]
        results = [lab.functions.invoke(DELIVERY_FUNCTION, payload) for payload in payloads]
        assert all(result["ok"] for result in results), [r["log"][-300:] for r in results if not r["ok"]]
        mails = [m for m in lab.inbox.inbox(to=ALERT_ADDRESS) if m["subject"] != CONFIRMATION_SUBJECT]
        assert sorted(m["body"].split(" detected at ")[1].split(".")[0].split(" (")[0] for m in mails) == [
            "Airport Flats", "Lakeshore", "Quarry Hill"]
        assert [r["result"]["mailed"] for r in results] == [3, 0, 0, 0, 0, 0, 0]
        log = lab.functions.logs(DELIVERY_FUNCTION, limit=10_000)
        for what, item in hand_made.items():
            assert any("left out item" in line and item["reading_id"] in line for line in log), what
    finally:
        lab.functions.delete(DELIVERY_FUNCTION)
        lab.tables.delete(DELIVERY_TABLE, quiet=True)
        lab.topics.delete(ALERTS)
    record_figures("malformed-delivery", f"{len(payloads) + 1} malformed invocation payloads and "
                   f"{len(hand_made)} hand-made table items that are not readings (AnomalyMessageDeliveryFunction)",
                   "non-JSON payload refused by Invoke (InvalidRequestContentException); other payloads ignored; "
                   "items that are not readings left out with a log line; the 3 real anomalies mailed once",
                   {"records_in": len(good) + len(hand_made), "records_out": 3, "lost": 0, "duplicated": 0},
                   rejected=len(hand_made) + 1)


# -- The simulator's JSON API ------------------------------------------------------------------------------------

SIMULATOR_STREAM = "DrillSimulatorStream"


def bad_requests() -> list[tuple[str, str, bytes, str]]:
    """(kind, path, body, content type) of requests the simulator must refuse with a sentence."""
    start, j = "/api/simulator/start", "application/json"
    return [
        ("body not JSON", start, b"start please", j),
        ("empty body", start, b"", j),
        ("JSON array", start, b'["WindDataStream"]', j),
        ("JSON string", start, b'"WindDataStream"', j),
        ("JSON sent as text/plain", start, b'{"stream": "WindDataStream"}', "text/plain"),
        ("unknown field", start, b'{"stream": "DrillSimulatorStream", "speed": 3}', j),
        ("stream that does not exist", start, b'{"stream": "NoSuchStream"}', j),
        ("stream name with spaces", start, b'{"stream": "my stream!"}', j),
        ("stream name of 500 characters", start, json.dumps({"stream": "s" * 500}).encode(), j),
        ("stream name with HTML", start, b'{"stream": "<img src=x onerror=alert(1)>"}', j),
        ("stream as number", start, b'{"stream": 42}', j),
        ("unknown data set", start, b'{"dataset": "tornado"}', j),
        ("data set as list", start, b'{"dataset": ["wind"]}', j),
        ("rate as text", start, b'{"rate": "fast"}', j),
        ("rate NaN", start, b'{"rate": NaN}', j),
        ("rate Infinity", start, b'{"rate": Infinity}', j),
        ("negative rate", start, b'{"rate": -5}', j),
        ("rate 0", start, b'{"rate": 0}', j),
        ("rate 1e9", start, b'{"rate": 1e9}', j),
        ("rate true", start, b'{"rate": true}', j),
        ("loop as text", start, b'{"loop": "yes"}', j),
        ("unknown timestamps mode", start, b'{"timestamps": "tomorrow"}', j),
        ("Latin-1 body", start, '{"stream": "Z\u00fcrich"}'.encode("latin-1"), j),
        ("invalid UTF-8 body", start, b'{"stream": "\xff\xfe"}', j),
        ("UTF-16 body", start, '{"stream": "bad name!"}'.encode("utf-16"), j),
        ("JSON nested 100,000 deep", start, b"[" * 100_000 + b"]" * 100_000, j),
        ("body of 5 MB", start, json.dumps({"stream": "s" * 5_000_000}).encode(), j),
        ("duplicated keys", start, b'{"rate": 5, "rate": "x"}', j),
    ]


def call(path: str, body: bytes, content_type: str) -> tuple[int, dict]:
    request = urllib.request.Request(lab.settings().service_url + path, data=body, method="POST",
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_bad_simulator_requests_get_sentences_and_the_run_in_progress_sends_everything(drill):
    lab.streams.create(SIMULATOR_STREAM, quiet=True)
    try:
        lab.simulate.start(SIMULATOR_STREAM, "wind", rate=250)
        answers = {kind: call(path, body, content_type) for kind, path, body, content_type in bad_requests()}
        for kind, (status, answer) in answers.items():
            error = answer.get("error", "")
            assert status in (400, 404), (kind, status, answer)
            assert error.endswith((".", ")")) and " " in error and len(error) <= 400, (kind, error)
        assert lab.simulate.status()["state"] == "running", "a refused request must not stop the run"
        final = lab.simulate.wait(timeout_s=120, quiet=True)
        sent = [json.loads(r["Data"])["event_id"] for r in read_stream(SIMULATOR_STREAM)]
        assert final["state"] == "finished" and final["sent"] == final["total"]
        assert sent == [r["event_id"] for r in lab.datasets.load_records("wind")]
    finally:
        lab.streams.delete(SIMULATOR_STREAM, quiet=True)
    record_figures("malformed-simulator-api", f"{len(answers)} kinds of bad requests to the simulator's API during "
                   "a run", "each refused with 400/404 and a sentence saying what to send; the run went on and sent "
                   "its whole data set in order",
                   {"records_in": final["total"], "records_out": len(sent), "lost": final["total"] - len(set(sent)),
                    "duplicated": len(sent) - len(set(sent))}, rejected=len(answers),
                   kinds={kind: f"{status}: {answer.get('error', '')[:90]}" for kind, (status, answer) in answers.items()})
