"""Spatial demand rasters: where users are, drawn in proportion to measured traffic.

A raster is a regular grid of cells with non-negative weights — a CSV of ``x_m, y_m, weight``
or a window of the real Milan traffic map (total internet activity per ~235 m square, Telecom
Italia Big Data Challenge) — centred on (0, 0); :func:`sample_raster` draws users from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from twinnet.datasets import milan
from twinnet.errors import ScenarioError
from twinnet.scenario import Raster

__all__ = ["DemandRaster", "load_raster", "sample_raster"]


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
    totals = milan.square_totals().reset_index()
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
