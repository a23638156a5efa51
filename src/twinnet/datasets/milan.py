"""Telecom Italia Big Data Challenge, Milan (November–December 2013; ODbL 1.0).

G. Barlacchi et al., "A multi-source dataset of urban life in the city of Milan and the
Province of Trentino", Scientific Data 2, 150055 (2015).

* :func:`series` — internet activity every 10 minutes of a 5×5 block of grid squares
  (ids 4142–4546), 1–30 November 2013; index 0 is 2013-11-01 00:00 local time (CET);
* :func:`hourly_profile` — its mean day, hour by hour, peak 1;
* :func:`square_totals` — total activity of every one of the 10,000 squares over two months;
* :func:`grid_centroids` — the 100×100 grid of ~235 m squares (id = 1 + col + 100·row, id 1 at
  the south-west corner), WGS84 centroids.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from twinnet.datasets import data_file
from twinnet.errors import DataNotFoundError, InputError

__all__ = ["GRID_FILE", "SERIES_FILE", "SERIES_T0", "TOTALS_FILE", "grid_centroids",
           "hourly_profile", "series", "square_totals"]

SERIES_FILE = "milan_internet_10min_25cells_2013-11-01_to_2013-11-30.csv"
TOTALS_FILE = "milan_internet_total_per_square_2013-11-01_to_2014-01-01.csv"
GRID_FILE = "milano_grid_centroids.csv"
#: 2013-11-01 00:00 local time: index 0 of :func:`series`
SERIES_T0 = pd.Timestamp("2013-11-01 00:00:00")
_TIME_COL = "timestamp_local_cet"


def series(data_dir: str | Path | None = None, *, utc: bool = False) -> pd.DataFrame:
    """The 25 squares' 10-minute activity (columns ``sq_<id>``, floats), indexed by naive local
    time (``utc=False``) or by UTC-aware time stamps (``utc=True``)."""
    df = pd.read_csv(data_file("milan", SERIES_FILE, data_dir, "Milan internet series"))
    raw = df.pop(_TIME_COL)
    if utc:
        index = pd.DatetimeIndex(pd.to_datetime(raw, utc=True), name="ts")
    else:
        index = pd.DatetimeIndex(pd.to_datetime(raw.str.slice(0, 19)), name="ts")
    df.index = index
    return df.astype(float)


@lru_cache(maxsize=4)
def hourly_profile(data_dir: str | None = None) -> tuple[float, ...]:
    """Mean hourly internet activity of the 5×5-square block (Nov 2013), peak = 1: the
    10-minute samples of all 25 squares are summed and averaged per hour of day over 30 days."""
    total = series(data_dir).sum(axis=1).to_numpy()
    hours = (np.arange(total.size) // 6) % 24
    prof = np.bincount(hours, weights=total, minlength=24) / np.bincount(hours, minlength=24)
    return tuple(float(v) for v in prof / prof.max())


def square_totals(data_dir: str | Path | None = None) -> pd.Series:
    """Total internet activity per grid square (index ``square_id`` 1…10000)."""
    df = pd.read_csv(data_file("milan", TOTALS_FILE, data_dir, "Milan totals per square"))
    return df.set_index("square_id")["internet"]


def grid_centroids(path: str | Path | None = None) -> pd.DataFrame:
    """The grid's squares: ``square_id, lon_centroid, lat_centroid, row_from_south_0based,
    col_from_west_0based`` (``path``: another copy of the file)."""
    p = Path(path) if path is not None else data_file("milan", GRID_FILE, None,
                                                      "Milan grid centroids")
    if not p.is_file():
        raise DataNotFoundError(f"Milan grid centroids: no file at {p}")
    df = pd.read_csv(p)
    need = {"square_id", "lon_centroid", "lat_centroid"}
    if not need <= set(df.columns):
        raise InputError(str(p), sorted(df.columns), f"columns {sorted(need)}")
    return df
