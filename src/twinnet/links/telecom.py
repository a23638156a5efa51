"""The cellular sensors of the LINKs city: the real Telecom Italia Milan series on every square.

The data come from :mod:`twinnet.datasets.milan` (10-minute internet activity of 25 grid
squares in November 2013, the total activity of all 10 000 squares, the grid). A square with
its own series returns it unchanged; any other square returns the series of the nearest of the
25 squares scaled by the ratio of the two squares' total internet activity (Nov–Dec 2013).
Outside November 2013 the series repeats with a period of 4 weeks (weekday and time of day
kept). ``cell_sms_activity`` and ``cell_call_activity`` have no public per-square series here:
they are the internet series of the square times fixed ratios (0.11 and 0.16) with ±10 %
hashed noise keyed by the sensor id.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from twinnet.datasets import milan
from twinnet.errors import InputError
from twinnet.links.hashing import FloatArray, IntArray, key, normal
from twinnet.links.registry import haversine_m

__all__ = ["CELL_TYPES", "TelecomSeries", "cell_values"]

#: Cellular sensor types and their share of the square's internet activity (``None``: the
#: series itself).
CELL_TYPES: dict[str, float | None] = {
    "cell_internet_activity": None, "cell_sms_activity": 0.11, "cell_call_activity": 0.16}
_STEP_S = 600


class TelecomSeries:
    """The Telecom Italia Milan internet series mapped onto every grid square (``data_dir``:
    another folder holding the Milan files)."""

    PERIOD_S = 28 * 86_400

    def __init__(self, data_dir: str | Path | None = None):
        df = milan.series(data_dir, utc=True)
        self.t0 = int(df.index[0].timestamp())
        self.n = len(df)
        self.squares = np.array([int(c.removeprefix("sq_")) for c in df.columns])
        values = df.to_numpy(np.float64)
        self.values = np.where(np.isfinite(values), values, 0.0)
        self.total = milan.square_totals(data_dir).to_dict()
        grid = milan.grid_centroids(None if data_dir is None else Path(data_dir) / milan.GRID_FILE)
        grid = grid.set_index("square_id")
        self.grid_lat = grid.lat_centroid.to_dict()
        self.grid_lon = grid.lon_centroid.to_dict()

    def source(self, square: int) -> tuple[int, float]:
        """Column of the series used for ``square`` and its scale factor."""
        hit = np.flatnonzero(self.squares == square)
        if hit.size:
            return int(hit[0]), 1.0
        lat, lon = self.grid_lat.get(square), self.grid_lon.get(square)
        if lat is None or lon is None:
            raise InputError("grid_square_id", square, "a square of the Milan grid (1..10000)")
        d = haversine_m(lat, lon, np.array([self.grid_lat[s] for s in self.squares]),
                        np.array([self.grid_lon[s] for s in self.squares]))
        j = int(np.argmin(d))
        return j, float(self.total[square] / self.total[int(self.squares[j])])

    def internet(self, square: int, t: IntArray) -> FloatArray:
        """Internet activity of ``square`` at UTC epoch seconds ``t``."""
        col, scale = self.source(square)
        span = self.n * _STEP_S
        rel = t - self.t0
        rel = np.where((rel >= 0) & (rel < span), rel, np.mod(rel, self.PERIOD_S))
        return self.values[rel // _STEP_S, col] * scale


def cell_values(series: TelecomSeries, sensor_type: str, sensor_id: str, square: int,
                t: IntArray) -> FloatArray:
    """The series of the cellular sensor ``sensor_id`` of ``square`` at epoch seconds ``t``."""
    net = series.internet(square, t)
    ratio = CELL_TYPES[sensor_type]
    if ratio is None:
        return net
    return net * ratio * (1 + 0.1 * np.clip(normal(key(sensor_id), t // _STEP_S), -3, 3))
