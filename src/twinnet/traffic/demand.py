"""Demand: diurnal profiles and spatial demand rasters (Milan Telecom Italia data)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from twinnet.data import shared_data_dir
from twinnet.errors import DataNotFoundError, ScenarioError
from twinnet.scenario import Demand, Raster

__all__ = [
    "TYPICAL_URBAN_PROFILE",
    "DemandRaster",
    "diurnal_profile",
    "load_raster",
    "milan_hourly_profile",
    "sample_raster",
]

#: A generic urban mobile-data day (hour 0 … 23), normalised to a peak of 1: night trough
#: around 04:00, rise through the morning, evening busy hour at 21:00. Used when no measured
#: profile is requested; ``diurnal = "milan"`` uses the measured Milan profile instead.
TYPICAL_URBAN_PROFILE: tuple[float, ...] = (
    0.42, 0.30, 0.22, 0.17, 0.15, 0.17, 0.25, 0.40, 0.56, 0.66, 0.72, 0.76,
    0.79, 0.80, 0.79, 0.79, 0.81, 0.84, 0.88, 0.93, 0.97, 1.00, 0.90, 0.66,
)

MILAN_SERIES = "milan_internet_10min_25cells_2013-11-01_to_2013-11-30.csv"
MILAN_TOTALS = "milan_internet_total_per_square_2013-11-01_to_2014-01-01.csv"


@lru_cache(maxsize=4)
def milan_hourly_profile(data_dir: str | None = None) -> tuple[float, ...]:
    """Mean hourly internet activity of the Milan 5×5-square block (Nov 2013), peak = 1.

    Index 0 of the series is 2013-11-01 00:00 CET; the 10-minute samples of all 25 squares
    are summed and averaged per hour of day over the 30 days.
    """
    folder = Path(data_dir) if data_dir else shared_data_dir("milan")
    path = folder / MILAN_SERIES
    if not path.exists():
        raise DataNotFoundError(f"Milan series not found: {path}")
    df = pd.read_csv(path)
    total = df.drop(columns=[df.columns[0]]).sum(axis=1).to_numpy()
    hours = (np.arange(total.size) // 6) % 24
    prof = np.bincount(hours, weights=total, minlength=24) / np.bincount(hours, minlength=24)
    return tuple(float(v) for v in prof / prof.max())


def diurnal_profile(demand: Demand) -> NDArray[np.float64]:
    """The 24 hourly demand factors (peak 1) of a scenario's demand model."""
    if isinstance(demand.diurnal, list):
        p = np.asarray(demand.diurnal, dtype=np.float64)
        return p / p.max()
    if demand.diurnal == "flat":
        return np.ones(24)
    if demand.diurnal == "milan":
        return np.asarray(milan_hourly_profile(), dtype=np.float64)
    return np.asarray(TYPICAL_URBAN_PROFILE, dtype=np.float64)


@dataclass(frozen=True)
class DemandRaster:
    """Cell centres ``x_m``, ``y_m`` of a regular grid of side ``cell_size_m`` and weights."""

    x_m: NDArray[np.float64]
    y_m: NDArray[np.float64]
    weight: NDArray[np.float64]
    cell_size_m: float


def load_raster(cfg: Raster, base_dir: str | None = None) -> DemandRaster:
    """Load a demand raster (see :class:`twinnet.scenario.Raster`), centred on (0, 0)."""
    if cfg.source == "csv":
        if cfg.path is None:
            raise ScenarioError("raster", [("users.raster.path", None, "a CSV path")])
        path = Path(cfg.path)
        if not path.is_absolute() and base_dir:
            path = Path(base_dir) / path
        df = pd.read_csv(path)
        for col in ("x_m", "y_m", "weight"):
            if col not in df.columns:
                raise ScenarioError(str(path), [("users.raster.path", str(path),
                                                 f"a CSV with column {col!r}")])
        w = df["weight"].to_numpy(dtype=float)
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise ScenarioError(str(path), [("users.raster.weight", "…",
                                             "finite, non-negative weights with a positive sum")])
        return DemandRaster(df["x_m"].to_numpy(float), df["y_m"].to_numpy(float), w,
                            cfg.cell_size_m)
    folder = shared_data_dir("milan")
    totals = pd.read_csv(folder / MILAN_TOTALS)
    sq = totals["square_id"].to_numpy() - 1
    row, col = sq // 100, sq % 100
    c_sq = cfg.center_square - 1
    r0, c0 = c_sq // 100, c_sq % 100
    half = cfg.size // 2
    keep = (np.abs(row - r0) <= half) & (np.abs(col - c0) <= half)
    keep &= (row - r0 < cfg.size - half) & (col - c0 < cfg.size - half)
    w = totals["internet"].to_numpy(dtype=float)[keep]
    return DemandRaster(
        (col[keep] - c0) * cfg.cell_size_m, (row[keep] - r0) * cfg.cell_size_m,
        np.maximum(w, 0.0), cfg.cell_size_m,
    )


def sample_raster(raster: DemandRaster, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """``n`` points: a raster cell drawn in proportion to its weight, uniform inside it."""
    p = raster.weight / raster.weight.sum()
    idx = rng.choice(p.size, size=n, p=p)
    jitter = rng.uniform(-0.5, 0.5, (n, 2)) * raster.cell_size_m
    return np.column_stack([raster.x_m[idx], raster.y_m[idx]]) + jitter
