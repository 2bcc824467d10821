"""Rebuild the lab's wind data sets and their fault labels, deterministically.

    python data/generate.py            # rewrite data/*.jsonl and data/labels.json
    python data/generate.py --check    # regenerate into a temp dir; exit 1 if any file differs
    python data/generate.py --out DIR  # write the files into DIR instead

Every file comes from the fixed seeds below, so a rebuild is byte-for-byte identical. Random numbers come
from numpy's legacy RandomState, whose streams numpy keeps frozen across versions (NEP 19).

Wind model, per location: a Weibull-distributed level that drifts slowly (a Gaussian AR(1) process mapped
through the Weibull quantile function), turbulence (a fast AR(1) process scaled by the level, with bounded
uniform innovations: Gaussian tails alone push normal readings over the lab's anomaly threshold) and
gusts (a ramp up over a few seconds, then an exponential decay). Power comes from the real power curve of the
turbine type below, read offline from the data files shipped inside windpowerlib.

Faults are sensor or turbine faults: the turbine keeps producing power from the TRUE wind while the
anemometer spikes, sticks or drops out; under-performance scales the power below the power curve.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from windpowerlib.power_output import power_curve

from labkit.turbine import MPS_PER_MPH, TURBINE_TYPE, power_curve_kw

DATA_DIR = Path(__file__).resolve().parent
LABELS_FILE = "labels.json"

CADENCE_MS = 1000  # each turbine reports once per second of event time
LOCATION_OFFSET_MS = 200  # turbine k reports at +k*200 ms within each second, so times never tie

# (location, turbine_id, Weibull scale of the wind level in mph)
LOCATIONS = (
    ("North Ridge", "WT-01", 24.0),
    ("Lakeshore", "WT-02", 21.0),
    ("Quarry Hill", "WT-03", 22.5),
    ("Airport Flats", "WT-04", 19.5),
    ("Harbor Point", "WT-05", 23.0),
)
WEIBULL_SHAPE = 2.0
LEVEL_QUANTILES = (0.05, 0.97)  # keeps the level within about 5-45 mph
LEVEL_TAU_S = 50_000.0  # slow drift: the level moves by about +-15 % over an hour
TURBULENCE_TAU_S = 0.7
TURBULENCE_INTENSITY = 0.15
TURBULENCE_MIN_MPH = 0.8
GUST_RATE_PER_S = 1 / 60
GUST_AMPLITUDE = (0.05, 0.15)  # fraction of the level
GUST_RISE_S = (3.0, 6.0)
GUST_DECAY_S = (5.0, 15.0)
POWER_NOISE = 0.01  # relative measurement noise of power_kw

SPIKE_MPH = (80.0, 110.0)
UNDERPERFORMANCE_RATIO = (0.45, 0.65)  # power delivered, as a fraction of the power curve
WINDY_MPH = 12.0  # drop-outs and under-performance are placed where the true wind stays above this
MIN_GAP = 100  # readings between two faults of one turbine


@dataclass(frozen=True)
class Fault:
    """A fault to inject: `kind` at turbine `location` (index into LOCATIONS), `length` readings long,
    starting at that turbine's reading `earliest` or, for drop-outs and under-performance, at the first
    later reading where the wind blows (true speed >= WINDY_MPH) for the whole period."""

    kind: str
    location: int
    earliest: int
    length: int = 1


@dataclass(frozen=True)
class DatasetSpec:
    name: str  # also the event_id prefix: "wind-000001"
    filename: str
    start: str
    readings_per_location: int
    seed: int
    faults: tuple[Fault, ...]


# Every fault starts after at least 150 readings of its turbine, so a Random Cut Forest (shingle 4, sample 256)
# has warmed up. The seeds were picked from a scan. Wind and anomaly sets: a per-turbine forest (50 trees,
# sample 256, shingle 4, score then update) keeps every normal reading below the lab's threshold of 2 with
# each of 20 forest seeds. The anomaly set is the wind set (same seed) plus its three spikes: the lab sends the
# wind set, then the anomaly set, and a change of wind regime between them would itself score as anomalies.
# Health set: every drop-out and under-performance finds a windy window.
DATASETS = (
    DatasetSpec("wind", "wind_speed.jsonl", "2024-06-03T09:00:00Z", 400, 2102, ()),
    DatasetSpec(
        "anomaly", "wind_speed_anomaly.jsonl", "2024-06-03T10:00:00Z", 400, 2102,
        (Fault("spike", 0, 180), Fault("spike", 2, 260), Fault("spike", 4, 340)),
    ),
    DatasetSpec(
        "health", "turbine_health.jsonl", "2024-06-04T06:00:00Z", 3200, 2307,
        (
            Fault("spike", 0, 300),
            Fault("stuck", 0, 800, 60),
            Fault("underperformance", 0, 1400, 600),
            Fault("spike", 0, 2700),
            Fault("dropout", 1, 400, 30),
            Fault("spike", 1, 1100),
            Fault("stuck", 1, 1800, 120),
            Fault("spike", 1, 2900),
            Fault("spike", 2, 250),
            Fault("underperformance", 2, 900, 900),
            Fault("dropout", 2, 2400, 60),
            Fault("stuck", 3, 500, 40),
            Fault("spike", 3, 1300),
            Fault("dropout", 3, 2000, 120),
            Fault("underperformance", 4, 600, 300),
            Fault("spike", 4, 2200),
        ),
    ),
)


def expected_power_kw(speed_mph: np.ndarray, curve: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Power (kW) the turbine makes at `speed_mph` according to its power curve."""
    speeds_mps, power_kw = curve
    return power_curve(np.asarray(speed_mph, float) * MPS_PER_MPH, speeds_mps, power_kw)


def weibull_quantile(u: np.ndarray, scale: float) -> np.ndarray:
    return scale * (-np.log1p(-u)) ** (1.0 / WEIBULL_SHAPE)


def ar1(eps: np.ndarray, tau_s: float) -> np.ndarray:
    """A unit-variance AR(1) process with correlation time `tau_s` (in readings) driven by `eps`."""
    phi = math.exp(-1.0 / tau_s)
    x = np.empty(len(eps))
    x[0] = eps[0]
    for t in range(1, len(eps)):
        x[t] = phi * x[t - 1] + math.sqrt(1 - phi * phi) * eps[t]
    return x


def simulate_wind(rng: np.random.RandomState, scale_mph: float, n: int) -> np.ndarray:
    """True wind speed (mph, 1 s apart) at one turbine."""
    level_eps = rng.standard_normal(n)
    turbulence_eps = rng.uniform(-math.sqrt(3), math.sqrt(3), n)  # unit variance, bounded
    gust_onset = rng.random_sample(n) < GUST_RATE_PER_S
    gust_shape = rng.random_sample((n, 3))

    z = ar1(level_eps, LEVEL_TAU_S)
    u = np.clip(0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2))), *LEVEL_QUANTILES)
    level = weibull_quantile(u, scale_mph)

    turbulence_mph = np.maximum(TURBULENCE_INTENSITY * level, TURBULENCE_MIN_MPH)
    turbulence = ar1(turbulence_eps, TURBULENCE_TAU_S) * turbulence_mph

    gusts = np.zeros(n)
    t_all = np.arange(n, dtype=float)
    for t0 in np.flatnonzero(gust_onset):
        a, r, d = gust_shape[t0]
        amplitude = level[t0] * (GUST_AMPLITUDE[0] + a * (GUST_AMPLITUDE[1] - GUST_AMPLITUDE[0]))
        rise = GUST_RISE_S[0] + r * (GUST_RISE_S[1] - GUST_RISE_S[0])
        decay = GUST_DECAY_S[0] + d * (GUST_DECAY_S[1] - GUST_DECAY_S[0])
        dt = t_all[t0:] - t0
        gusts[t0:] += amplitude * np.where(dt < rise, dt / rise, np.exp(-(dt - rise) / decay))

    return np.maximum(level + turbulence + gusts, 0.0)


def find_windy_start(true_mph: np.ndarray, first: int, length: int) -> int | None:
    windy = true_mph >= WINDY_MPH
    for start in range(first, len(true_mph) - length + 1):
        if windy[start:start + length].all():
            return start
    return None


def inject_faults(spec: DatasetSpec, location: int, true_mph: np.ndarray, speed: np.ndarray,
                  power: np.ndarray, rng: np.random.RandomState) -> list[tuple[Fault, int]]:
    """Apply this turbine's faults to `speed` and `power` in place; return (fault, first reading) pairs."""
    placed = []
    next_free = 0
    for fault in sorted((f for f in spec.faults if f.location == location), key=lambda f: f.earliest):
        first = max(fault.earliest, next_free)
        start = first
        if fault.kind in ("dropout", "underperformance"):
            start = find_windy_start(true_mph, first, fault.length)
        if start is None or start + fault.length > len(speed):
            raise RuntimeError(f"{spec.name}: no room for {fault} after reading {first}; change the schedule")
        window = slice(start, start + fault.length)
        if fault.kind == "spike":
            speed[window] = round(rng.uniform(*SPIKE_MPH), 1)
        elif fault.kind == "stuck":
            speed[window] = speed[start]
        elif fault.kind == "dropout":
            speed[window] = 0.0
        elif fault.kind == "underperformance":
            power[window] *= rng.uniform(*UNDERPERFORMANCE_RATIO)
        else:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
        placed.append((fault, start))
        next_free = start + fault.length + MIN_GAP
    return placed


def event_time(start_ms: int, reading: int, location: int) -> str:
    ms = start_ms + reading * CADENCE_MS + location * LOCATION_OFFSET_MS
    stamp = datetime.fromtimestamp(ms // 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{ms % 1000:03d}Z"


def build(spec: DatasetSpec, curve: tuple[np.ndarray, np.ndarray]) -> tuple[list[dict], list[dict]]:
    """The records of one data set, interleaved in event-time order, and the labels of its faults."""
    n = spec.readings_per_location
    fault_rng = np.random.RandomState([spec.seed, len(LOCATIONS)])
    speeds, powers, placed = [], [], []
    for k, (_, _, scale) in enumerate(LOCATIONS):
        rng = np.random.RandomState([spec.seed, k])
        true_mph = np.round(simulate_wind(rng, scale, n), 1)
        power = expected_power_kw(true_mph, curve) * (1 + POWER_NOISE * rng.standard_normal(n))
        speed = true_mph.copy()
        placed += [(k, fault, start) for fault, start in inject_faults(spec, k, true_mph, speed, power, fault_rng)]
        speeds.append(speed)
        powers.append(np.clip(power, 0.0, curve[1].max()))

    start_ms = int(datetime.fromisoformat(spec.start.replace("Z", "+00:00")).timestamp() * 1000)
    records, ids = [], {}
    for i in range(n):
        for k, (location, turbine_id, _) in enumerate(LOCATIONS):
            ids[k, i] = f"{spec.name}-{len(records) + 1:06d}"
            records.append({
                "event_id": ids[k, i],
                "event_time": event_time(start_ms, i, k),
                "location": location,
                "turbine_id": turbine_id,
                "speed": round(float(speeds[k][i]), 1) + 0.0,
                "power_kw": round(float(powers[k][i]), 1) + 0.0,
            })

    labels = []
    for k, fault, start in sorted(placed, key=lambda p: (p[2], p[0])):
        last = start + fault.length - 1
        location, turbine_id, _ = LOCATIONS[k]
        labels.append({
            "dataset": spec.name,
            "kind": fault.kind,
            "location": location,
            "turbine_id": turbine_id,
            "start": event_time(start_ms, start, k),
            "end": event_time(start_ms, last, k),
            "event_ids": [ids[k, i] for i in range(start, last + 1)],
        })
    return records, labels


def write_all(out_dir: Path) -> list[str]:
    """Write every data set and labels.json into `out_dir`; return the file names written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    curve = power_curve_kw()
    all_labels, written = [], []
    for spec in DATASETS:
        records, labels = build(spec, curve)
        with open(out_dir / spec.filename, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)
        all_labels += labels
        written.append(spec.filename)
    with open(out_dir / LABELS_FILE, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(all_labels, indent=1) + "\n")
    written.append(LABELS_FILE)
    return written


def check(data_dir: Path) -> list[str]:
    """Regenerate into a temp dir; return the names of files in `data_dir` that differ or are missing."""
    with tempfile.TemporaryDirectory() as tmp:
        names = write_all(Path(tmp))
        return [n for n in names
                if not (data_dir / n).is_file() or (data_dir / n).read_bytes() != (Path(tmp) / n).read_bytes()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a temp dir and exit 1 if any file differs from the one in --out")
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="directory of the data files (default: data/)")
    args = parser.parse_args(argv)
    if args.check:
        differing = check(args.out)
        for name in differing:
            print(f"{args.out / name} differs from a fresh build: run `python data/generate.py` to rebuild it",
                  file=sys.stderr)
        if not differing:
            print(f"all data files in {args.out} match a fresh build")
        return 1 if differing else 0
    for name in write_all(args.out):
        print(f"wrote {args.out / name} ({(args.out / name).stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
