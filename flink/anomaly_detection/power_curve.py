"""Power-curve rules for the AnomalyDetection app, in plain Python (no Flink, no numpy): unit-tested without a
cluster, carried in the app's zip beside main.py.

A turbine's expected power at the measured wind comes from its manufacturer's curve when the runtime property
lab/turbines.model names its model (`ManufacturerCurve`), else from a curve it learns from its own healthy
readings (`LearnedCurve`), so any turbine, any model and any reporting interval can be judged. Below cut-in
and above cut-out a curve expects no power: a turbine that stands still there is not at fault.

`TurbineMonitor` judges the residual over time, never one reading: a fault is raised when most of the last
`window` judged readings fall below `low_ratio` of the expected power ("stop" when most of those produced
nothing, else "underperformance"), and ends after `recover` judged readings in a row back on the curve. While
the anemometer is suspect (the forest or the stuck rule fired) power is neither judged nor learned from.

The curve also cross-checks the anemometer: when the power a turbine delivers is what its curve gives at the
reported wind (`confirms`), the wind was real, however odd; a faulty anemometer's reading disagrees with the
power the turbine makes from the true wind.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime

MPS_PER_MPH = 0.44704  # exact: 1 mph = 1609.344 m / 3600 s
KIND_UNDERPERFORMANCE = "underperformance"
KIND_STOP = "stop"
LEARNED = "learned"

# Manufacturers' power curves: wind speed (m/s) -> electrical power (kW), from windpowerlib's shipped oedb data
# (labkit.turbine reads the same curve; tests/unit/test_power_curve.py checks that the two agree).
MANUFACTURER_CURVES: dict[str, tuple[tuple[float, float], ...]] = {
    "E-82/2350": ((1.0, 0.0), (2.0, 3.0), (3.0, 25.0), (4.0, 82.0), (5.0, 174.0), (6.0, 321.0), (7.0, 532.0),
                  (8.0, 815.0), (9.0, 1180.0), (10.0, 1580.0), (11.0, 1890.0), (12.0, 2100.0), (13.0, 2250.0),
                  *((float(mps), 2350.0) for mps in range(14, 26))),
}


@dataclass(frozen=True)
class PowerSettings:
    window: int = 30  # judged readings the persistence rule looks back over
    persistence: float = 0.8  # share of them that must be low to raise a fault
    low_ratio: float = 0.8  # a reading is low below this share of its expected power
    recover: int = 5  # judged readings in a row at or above low_ratio that end a fault
    judge_from: float = 0.05  # judge only where the curve expects at least this share of rated power
    stop_share: float = 0.02  # a reading at or below this share of rated power produced nothing
    agree_ratio: float = 0.2  # power confirms the wind within this share of the expected power ...
    agree_share: float = 0.02  # ... plus this share of rated power
    bin_mps: float = 0.5  # learned curve: width of a wind-speed bin
    learn_min_count: int = 10  # learned curve: readings a bin needs before it is trusted
    learn_memory: int = 200  # learned curve: a bin's mean forgets like an average of this many readings
    max_gap_s: float = 600.0  # energy: a reading stands for the time since the previous one, at most this
    models: tuple[tuple[str, str], ...] = ()  # (turbine_id, model) pairs from lab/turbines.model

    def model_of(self, turbine_id: str) -> str | None:
        return dict(self.models).get(turbine_id)


def parse_models(text: str) -> tuple[tuple[str, str], ...]:
    """`WT-01=E-82/2350,WT-02=E-82/2350` as pairs; a model without a shipped curve is refused with a sentence."""
    pairs = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        turbine, _, model = (s.strip() for s in entry.partition("="))
        if not turbine or model not in MANUFACTURER_CURVES:
            raise ValueError(f"property lab/turbines.model: {entry!r} must be turbine_id=model with a model of "
                             f"{sorted(MANUFACTURER_CURVES)}; leave a turbine out to learn its curve")
        pairs.append((turbine, model))
    return tuple(pairs)


def _interpolate(points: list[tuple[float, float]], x: float) -> float:
    """Linear interpolation through (x, y) points sorted by x, x within their range."""
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 > x0 else y1
    return points[-1][1]


class ManufacturerCurve:
    """The model's published curve; no power below its first or above its last speed (cut-out)."""

    def __init__(self, model: str):
        self.name = model
        self.points = list(MANUFACTURER_CURVES[model])
        self.rated_kw = max(kw for _, kw in self.points)

    def expected_kw(self, speed_mph: float) -> float:
        mps = speed_mph * MPS_PER_MPH
        if mps < self.points[0][0] or mps > self.points[-1][0]:
            return 0.0
        return _interpolate(self.points, mps)

    def learn(self, speed_mph: float, power_kw: float, ratio: float | None) -> None:
        """A published curve does not change."""


class LearnedCurve:
    """Mean power per wind-speed bin of the turbine's own healthy readings, interpolated between bin centres.
    Unknown (None) where no trusted bin is near: such readings are learned from, not judged."""

    def __init__(self, settings: PowerSettings):
        self.settings = settings
        self.name = LEARNED
        self.bins: dict[int, list[float]] = {}  # bin -> [readings, mean kW]

    @property
    def rated_kw(self) -> float | None:
        trusted = [mean for count, mean in self.bins.values() if count >= self.settings.learn_min_count]
        return max(trusted) if trusted else None

    def _trusted(self, index: int) -> float | None:
        count, mean = self.bins.get(index, (0, 0.0))
        return mean if count >= self.settings.learn_min_count else None

    def expected_kw(self, speed_mph: float) -> float | None:
        position = speed_mph * MPS_PER_MPH / self.settings.bin_mps - 0.5  # in bin centres
        below = math.floor(position)
        low, high = self._trusted(below), self._trusted(below + 1)
        if low is not None and high is not None:
            return low + (high - low) * (position - below)
        return low if high is None else high

    def learn(self, speed_mph: float, power_kw: float, ratio: float | None) -> None:
        """Learn from a healthy reading; one well below an established curve is not learned (it may be a fault)."""
        if ratio is not None and ratio < self.settings.low_ratio:
            return
        entry = self.bins.setdefault(int(speed_mph * MPS_PER_MPH / self.settings.bin_mps), [0, 0.0])
        entry[0] += 1
        entry[1] += (power_kw - entry[1]) / min(entry[0], self.settings.learn_memory)


@dataclass
class Judged:
    low: bool
    stopped: bool
    event_time: str
    lost_kwh: float


class TurbineMonitor:
    """One turbine's curve and its residual over time."""

    def __init__(self, settings: PowerSettings, model: str | None):
        self.settings = settings
        self.curve = ManufacturerCurve(model) if model else LearnedCurve(settings)
        self.recent: deque[Judged] = deque(maxlen=settings.window)
        self.fault: str | None = None
        self.since: str | None = None
        self.lost_kwh = 0.0
        self.back_on_curve = 0
        self.last_time: datetime | None = None

    def _hours(self, moment: datetime) -> float:
        """The time this reading stands for: since the turbine's previous reading, at most max_gap_s."""
        seconds = (moment - self.last_time).total_seconds() if self.last_time else 0.0
        self.last_time = max(moment, self.last_time or moment)
        return min(max(seconds, 0.0), self.settings.max_gap_s) / 3600.0

    def confirms(self, speed_mph: float, power_kw: float | None) -> bool:
        """True when the power is what the curve gives at this wind: the reading is real wind, not a sensor fault."""
        expected, rated = self.curve.expected_kw(speed_mph), self.curve.rated_kw
        if power_kw is None or expected is None or rated is None:
            return False
        return abs(power_kw - expected) <= self.settings.agree_ratio * expected + self.settings.agree_share * rated

    def assess(self, speed_mph: float, power_kw: float | None, event_time: str, moment: datetime,
               sensor_suspect: bool) -> dict:
        """Judge one reading; the power fields of the output record (`fault_since` and `energy_lost_kwh` describe
        the turbine's power fault, `self.fault`, while it lasts)."""
        hours = self._hours(moment)
        expected = self.curve.expected_kw(speed_mph)
        rated = self.curve.rated_kw
        judged = (power_kw is not None and not sensor_suspect and expected is not None and rated is not None
                  and expected >= self.settings.judge_from * rated)
        if judged:
            self._judge(power_kw, expected, rated, event_time, hours)
        if power_kw is not None and not sensor_suspect and self.fault is None:
            self.curve.learn(speed_mph, power_kw, power_kw / expected if judged else None)
        return {
            "power_kw": power_kw,
            "expected_kw": None if expected is None else round(expected, 1),
            "power_curve": self.curve.name,
            "fault_since": self.since,
            "energy_lost_kwh": round(self.lost_kwh, 3) if self.fault else None,
        }

    def _judge(self, power_kw: float, expected: float, rated: float, event_time: str, hours: float) -> None:
        """Add the reading to the window; raise a fault when most of a full window is low, end one on recovery."""
        settings = self.settings
        low = power_kw < settings.low_ratio * expected
        lost = max(expected - power_kw, 0.0) * hours
        self.recent.append(Judged(low, power_kw <= settings.stop_share * rated, event_time, lost))
        if self.fault:
            self.lost_kwh += lost
            self.back_on_curve = 0 if low else self.back_on_curve + 1
            if self.back_on_curve >= settings.recover:
                self.fault, self.since, self.lost_kwh = None, None, 0.0
                self.recent.clear()
            return
        lows = [entry for entry in self.recent if entry.low]
        if len(self.recent) == settings.window and len(lows) >= settings.persistence * settings.window:
            stops = sum(entry.stopped for entry in lows)
            self.fault = KIND_STOP if stops * 2 >= len(lows) else KIND_UNDERPERFORMANCE
            self.since = lows[0].event_time
            self.lost_kwh = sum(entry.lost_kwh for entry in lows)
            self.back_on_curve = 0
