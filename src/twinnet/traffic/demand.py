"""Demand over the day: diurnal profiles (a typical urban day, flat, measured in Milan, or given).

Where demand is in space — users drawn from a demand raster such as the Milan traffic map — is
:mod:`twinnet.network.raster`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from twinnet.datasets import milan
from twinnet.scenario import Demand

__all__ = ["TYPICAL_URBAN_PROFILE", "diurnal_profile"]

#: A generic urban mobile-data day (hour 0 … 23), normalised to a peak of 1: night trough
#: around 04:00, rise through the morning, evening busy hour at 21:00. Used when no measured
#: profile is requested; ``diurnal = "milan"`` uses the measured Milan profile instead.
TYPICAL_URBAN_PROFILE: tuple[float, ...] = (
    0.42, 0.30, 0.22, 0.17, 0.15, 0.17, 0.25, 0.40, 0.56, 0.66, 0.72, 0.76,
    0.79, 0.80, 0.79, 0.79, 0.81, 0.84, 0.88, 0.93, 0.97, 1.00, 0.90, 0.66,
)


def diurnal_profile(demand: Demand) -> NDArray[np.float64]:
    """The 24 hourly demand factors (peak 1) of a scenario's demand model."""
    if isinstance(demand.diurnal, list):
        p = np.asarray(demand.diurnal, dtype=np.float64)
        return p / p.max()
    if demand.diurnal == "flat":
        return np.ones(24)
    if demand.diurnal == "milan":
        return np.asarray(milan.hourly_profile(), dtype=np.float64)
    return np.asarray(TYPICAL_URBAN_PROFILE, dtype=np.float64)
