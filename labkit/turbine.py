"""The wind farm's turbine model and its power curve (windpowerlib's shipped data, offline): what the data
sets are generated with and what the plots' operating bands are drawn from."""
from __future__ import annotations

import functools

import numpy as np

MPS_PER_MPH = 0.44704  # exact: 1 mph = 1609.344 m / 3600 s
TURBINE_TYPE = "E-82/2350"  # Enercon E-82 E2, 2.35 MW, windpowerlib's oedb power curve
HUB_HEIGHT_M = 98


@functools.lru_cache(maxsize=1)
def power_curve_kw() -> tuple[np.ndarray, np.ndarray]:
    """The turbine's power curve as (wind speeds in m/s, power in kW), from windpowerlib's shipped files."""
    from windpowerlib import WindTurbine

    curve = WindTurbine(hub_height=HUB_HEIGHT_M, turbine_type=TURBINE_TYPE).power_curve
    return curve["wind_speed"].to_numpy(float), curve["value"].to_numpy(float) / 1000.0


def operating_speeds_mph() -> dict[str, float]:
    """Cut-in (first power), rated (full power reached) and cut-out (end of the curve) wind speeds, in mph."""
    speeds, power = power_curve_kw()
    cut_in = speeds[np.argmax(power > 0)]
    rated = speeds[np.argmax(power >= power.max())]
    return {name: round(float(mps) / MPS_PER_MPH, 1)
            for name, mps in (("cut-in", cut_in), ("rated", rated), ("cut-out", speeds[-1]))}
