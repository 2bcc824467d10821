"""Real data through the real AnomalyDetection job: ENGIE's La Haute Borne SCADA (4 Senvion MM82, 10-minute
records; labkit.real_data fetches and converts it) on a private local stack, the alerts per kind and turbine,
scored against the project's labelling rule (data/README.md, "Real data"), and compared with the plain-Python
detector (flink/anomaly_detection/detector.py run in this process, one LocationDetector per location).

The job runs with the app's own properties plus: lab/locations naming the four turbines' locations (the app
refuses others) and lab/power.window = POWER_WINDOW (the default 30 readings is 30 s of the course's 1 Hz
data but 5 hours of 10-minute records; 6 is one hour, the labelling rule's POWER_RUN). lab/turbines.model
names none of these turbines (no MM82 curve ships in power_curve.MANUFACTURER_CURVES), so each learns its curve.

- Alerts: per turbine and kind (the output's `fault`), a run of outputs of that kind, gaps shorter than the
  shingle merged. An alert matches a label event of its kind and turbine when they overlap, the event widened
  by MATCH_READINGS on both sides (the power rule needs most of its window low before it fires).
- Per kind: recall = label events with a matching alert / label events (and how many events an alert of any
  kind overlaps: a stop the job names under-performance is still seen); precision = alerts matching a label
  event / alerts; both leave out each turbine's first WARMUP_READINGS readings (forest and learned curve warm up).
- Agreement: the job's outputs equal the plain-Python detector's, record for record, and so its alerts.
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict

from .common import verdict

SLICE = ("2014-12-01", "2015-03-01")  # three winter months: stops, under-performance, stuck anemometers
QUICK = {"period": ("2014-06-04", "2014-06-11")}  # `python -m bench --quick`: the integration test's week
SHINGLE = 4
POWER_WINDOW = 6
MATCH_READINGS = 6
WARMUP_READINGS = 144  # one day of 10-minute records
JOB_TIMEOUT_S = 1500
READING_KEYS = ("event_id", "event_time", "location", "turbine_id", "speed", "power_kw")
GOAL_AGREEMENT = 1.0  # the job's outputs equal the plain-Python detector's


def lab_properties(records: list[dict]) -> dict[str, str]:
    """The runtime properties the job gets on top of the app's own (see the module doc)."""
    return {"locations": ",".join(sorted({r["location"] for r in records})), "power.window": str(POWER_WINDOW)}


def readings(records: list[dict]) -> list[dict]:
    """What the simulator would send: the course's reading fields only."""
    return [{key: record[key] for key in READING_KEYS} for record in records]


def replay(records: list[dict], lab: dict[str, str]) -> list[dict]:
    """The plain-Python detector over `records` with the app's properties and `lab`; outputs as JSON crosses."""
    from labkit.config import FLINK_DIR, NAMES
    from labkit.resources.apps import default_properties

    sys.path[:0] = [str(FLINK_DIR / "anomaly_detection")]
    import detector

    settings = detector.DetectorSettings.from_properties({**default_properties(NAMES.anomaly_app)["lab"], **lab})
    detectors: dict = {}
    return [json.loads(json.dumps(detectors.setdefault(r["location"], detector.LocationDetector(settings))
                                  .assess(detector.parse_reading(json.dumps(r))))) for r in records]


def alerts(records: list[dict], outputs: list[dict]) -> list[dict]:
    """Per turbine and kind, runs of outputs of that kind (gaps shorter than the shingle merged), in time order:
    {"kind", "turbine_id", "first", "last" (positions in the turbine's readings), "start", "end"}."""
    by_id = {o["event_id"]: o for o in outputs}
    series: dict[str, list[str]] = defaultdict(list)
    for record in records:
        series[record["turbine_id"]].append(record["event_id"])
    found = []
    for turbine, ids in series.items():
        open_runs: dict[str, dict] = {}
        for position, event_id in enumerate(ids):
            kind = by_id[event_id]["fault"]
            if kind is None:
                continue
            run = open_runs.get(kind)
            if run is None or position - run["last"] >= SHINGLE:
                run = open_runs[kind] = {"kind": kind, "turbine_id": turbine, "first": position,
                                         "start": by_id[event_id]["event_time"]}
                found.append(run)
            run["last"], run["end"] = position, by_id[event_id]["event_time"]
    return sorted(found, key=lambda a: (a["start"], a["turbine_id"], a["kind"]))


def score(records: list[dict], outputs: list[dict], labels: list[dict]) -> dict:
    """Alerts per kind and turbine, and recall / precision per kind against the label events (module doc)."""
    from labkit.real_data import KINDS

    position = {}
    for turbine_ids in _series(records).values():
        position.update((event_id, n) for n, event_id in enumerate(turbine_ids))
    found = alerts(records, outputs)
    spans = [(label["kind"], label["turbine_id"], position[label["event_ids"][0]], position[label["event_ids"][-1]])
             for label in labels]

    def matches(alert, span) -> bool:
        kind, turbine, first, last = span
        return (kind == alert["kind"] and turbine == alert["turbine_id"]
                and alert["first"] <= last + MATCH_READINGS and alert["last"] >= first - MATCH_READINGS)

    kinds, per_turbine = {}, defaultdict(lambda: defaultdict(int))
    for alert in found:
        per_turbine[alert["turbine_id"]][alert["kind"]] += 1
    for kind in sorted({*KINDS, *(a["kind"] for a in found)}):
        mine = [a for a in found if a["kind"] == kind and a["first"] >= WARMUP_READINGS]
        events = [s for s in spans if s[0] == kind and s[2] >= WARMUP_READINGS]
        hit_alerts = sum(any(matches(a, s) for s in events) for a in mine)
        caught = sum(any(matches(a, s) for a in mine) for s in events)
        caught_any = sum(any(matches({**a, "kind": s[0]}, s) for a in found if a["first"] >= WARMUP_READINGS)
                         for s in events)
        kinds[kind] = {"alerts": sum(a["kind"] == kind for a in found), "scored_alerts": len(mine),
                       "true_alerts": hit_alerts, "label_events": len(events), "caught": caught,
                       "caught_by_any_kind": caught_any,
                       "recall": round(caught / len(events), 3) if events else None,
                       "precision": round(hit_alerts / len(mine), 3) if mine else None}
    return {"kinds": kinds, "per_turbine": {t: dict(k) for t, k in sorted(per_turbine.items())},
            "alerts": [{k: a[k] for k in ("kind", "turbine_id", "start", "end")} for a in found]}


def _series(records: list[dict]) -> dict[str, list[str]]:
    series: dict[str, list[str]] = defaultdict(list)
    for record in records:
        series[record["turbine_id"]].append(record["event_id"])
    return series


def power_diagnostics(records: list[dict], outputs: list[dict], curve: list[tuple[float, float]]) -> dict:
    """Where the job's under-performance alerts are: the median wind in their records, the median ratio of the
    job's expected power (its learned curve) to the labelling rule's reference curve there, and the median share
    of each alert's records the rule finds low (power below LOW_RATIO of the reference)."""
    import statistics

    from labkit.real_data import JUDGE_KW, LOW_RATIO, expected_kw

    by_id, record = {o["event_id"]: o for o in outputs}, {r["event_id"]: r for r in records}
    series = _series(records)
    winds, ratios, low_shares = [], [], []
    for alert in (a for a in alerts(records, outputs) if a["kind"] == "underperformance"):
        ids = series[alert["turbine_id"]][alert["first"]:alert["last"] + 1]
        low = 0
        for event_id in ids:
            wind, power = record[event_id]["wind_mps"], record[event_id]["power_kw"]
            reference, learned = expected_kw(curve, wind), by_id[event_id]["expected_kw"]
            winds.append(wind)
            if reference is not None and reference >= JUDGE_KW:
                low += power is not None and power < LOW_RATIO * reference
                if learned is not None:
                    ratios.append(learned / reference)
        low_shares.append(low / len(ids))
    middle = (lambda values: round(statistics.median(values), 3) if values else None)
    return {"underperformance_alert_wind_mps_median": middle(winds),
            "learned_over_reference_median": middle(ratios),
            "underperformance_alert_low_share_median": middle(low_shares)}


def compare(job: list[dict], plain: list[dict]) -> dict:
    """Records whose outputs differ between the job and the plain-Python detector, and whether their alerts match."""
    expected = {o["event_id"]: o for o in plain}
    differ = [o["event_id"] for o in job if o != expected.get(o["event_id"])]
    return {"outputs": len(job), "plain_outputs": len(plain), "differing_outputs": len(differ),
            "first_differing": differ[:5], "agreement": round(1 - len(differ) / max(len(plain), 1), 6)}


def prepare() -> None:
    """What a fresh clone lacks: data/la_haute_borne.jsonl (the openoa wheel downloaded once, then converted)."""
    from labkit import real_data

    if not real_data.RECORDS_FILE.is_file():
        print(f"fetching ENGIE's La Haute Borne data into {real_data.RECORDS_FILE} (once) ...", flush=True)
    real_data.fetch()


def run_slice(start: str, end: str) -> dict:
    """Fetch (once), label with the whole file's reference curve, run the slice through the job and in plain
    Python; everything score() and compare() report, plus the slice's description."""
    from labkit import real_data

    from .anomaly_job_throughput import run_job

    real_data.fetch()
    everything = real_data.load_records()
    curve = real_data.reference_curve(everything)
    records = [r for r in everything if start <= r["event_time"] < end]
    labels = real_data.label(records, curve)
    lab = lab_properties(records)
    job = run_job(readings(records), timeout_s=JOB_TIMEOUT_S, **lab)
    plain = replay(readings(records), lab)
    job_score, plain_score = score(records, job["outputs"], labels), score(records, plain, labels)
    return {
        "slice": {"start": start, "end": end, "first_event_time": records[0]["event_time"],
                  "last_event_time": records[-1]["event_time"], "records": len(records),
                  "turbines": sorted({r["turbine_id"] for r in records}), "model": real_data.MODEL,
                  "record_minutes": real_data.RECORD_S // 60},
        "properties": lab, "labels": labels, "job": job_score, "plain": plain_score,
        "same_alerts": job_score["alerts"] == plain_score["alerts"], "comparison": compare(job["outputs"], plain),
        "sustained_rec_s": round(job["sustained_rec_s"]),
        "label_events": {kind: sum(label["kind"] == kind for label in labels) for kind in real_data.KINDS},
        "power_diagnostics": power_diagnostics(records, job["outputs"], curve),
    }


def run(period: tuple[str, str] = SLICE) -> dict:
    print(f"real data alerts: La Haute Borne {period[0]} to {period[1]} through AnomalyDetection", flush=True)
    measured = run_slice(*period)
    measured.pop("labels")
    measured["job"].pop("alerts")
    measured["plain"].pop("alerts")
    result = {**measured, "warmup_readings": WARMUP_READINGS, "match_readings": MATCH_READINGS,
              "goal": "the job's outputs and alerts equal the plain-Python detector's",
              "meets_goal": measured["same_alerts"] and measured["comparison"]["agreement"] >= GOAL_AGREEMENT}
    return result


def _shown(value) -> str:
    """A ratio as measured, or a dash where there was nothing to divide by."""
    return "—" if value is None else str(value)


def render(result: dict) -> str:
    piece = result["slice"]
    rows = "".join(
        f"| {kind} | {k['label_events']} | {k['alerts']} | {k['caught']} | {_shown(k['recall'])} | "
        f"{k['caught_by_any_kind']} | {k['true_alerts']} of {k['scored_alerts']} | {_shown(k['precision'])} |\n"
        for kind, k in result["job"]["kinds"].items())
    kinds = list(result["job"]["kinds"])
    turbines = "".join(f"| {turbine} | " + " | ".join(str(counts.get(kind, 0)) for kind in kinds) + " |\n"
                       for turbine, counts in result["job"]["per_turbine"].items())
    same, power = result["comparison"], result["power_diagnostics"]
    return (
        "## Real data: La Haute Borne SCADA through AnomalyDetection\n\n"
        f"ENGIE's La Haute Borne SCADA ({len(piece['turbines'])} {piece['model']}, {piece['record_minutes']}-minute "
        "records), "
        f"{piece['first_event_time']} to {piece['last_event_time']}: {piece['records']:,} records through the real "
        "Flink job on a private local stack, one run, scored against the project's labelling rule "
        f"(data/README.md). Properties on top of the app's: {json.dumps(result['properties'])}; every turbine "
        "learns its power curve (power_curve.py ships no curve of this model).\n\n"
        "| kind | label events | alerts | events caught | recall | events under an alert of any kind | "
        "alerts on an event | precision |\n|---|---|---|---|---|---|---|---|\n" + rows +
        "\nAlerts per turbine:\n\n| turbine | " + " | ".join(kinds) + " |\n|---|" + "---|" * len(kinds) + "\n" +
        turbines +
        f"\nThe plain-Python detector over the same records: {same['differing_outputs']} of {same['outputs']:,} "
        f"outputs differ (agreement {same['agreement']}), same alerts: {result['same_alerts']}. Recall and "
        f"precision leave out each turbine's first {result['warmup_readings']} readings; an alert matches a label "
        f"event of its kind and turbine within {result['match_readings']} readings. Sustained "
        f"{result['sustained_rec_s']:,} rec/s. Goal: {result['goal']} — {verdict(result)}.\n\n"
        f"Under-performance alerts sit in light wind (median {power['underperformance_alert_wind_mps_median']} m/s "
        f"in their records), where each turbine's learned curve expects {power['learned_over_reference_median']} "
        "times the labelling rule's reference curve (median); in the median alert a share of "
        f"{power['underperformance_alert_low_share_median']} of the records is low by the rule.\n"
    )
