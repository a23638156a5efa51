"""Huawei Cup 2019 measured RSRP ("wireless intelligent propagation model" contest).

Each row is a 5 m × 5 m bin's measured mean RSRP [dBm] with its serving cell's engineering data:
position (planar metres), antenna height, azimuth (clockwise from north), electrical and
mechanical downtilt, frequency [MHz], RS power [dBm per RE], and terrain altitude, building
height and clutter class at the cell and at the bin (:data:`HUAWEI_COLUMNS`). Each cell's rows
are only the bins that cell serves. No licence is stated: internal testing only.

* :func:`load_cluster` — the 48 cells of the densest 1 km² window (153,759 bins, 2585 MHz);
* :func:`validate_measurements` — the columns checked and coerced to numbers;
* :func:`split_by_cell` — train / test rows with disjoint cells (scoring on unseen cells).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from twinnet.datasets import data_file
from twinnet.errors import InputError

__all__ = ["CLUSTER_FILE", "HUAWEI_COLUMNS", "load_cluster", "split_by_cell",
           "validate_measurements"]

CLUSTER_FILE = "cluster_1km_x409900_y3391300_48cells.csv.gz"

HUAWEI_COLUMNS = (
    "Cell Index", "Cell X", "Cell Y", "Height", "Azimuth", "Electrical Downtilt",
    "Mechanical Downtilt", "Frequency Band", "RS Power", "Cell Altitude", "Cell Building Height",
    "Cell Clutter Index", "X", "Y", "Altitude", "Building Height", "Clutter Index", "RSRP",
)


def load_cluster(data_dir: str | Path | None = None) -> pd.DataFrame:
    """The 48-cell cluster as read (one row per bin, :data:`HUAWEI_COLUMNS`)."""
    return pd.read_csv(data_file("radio/huawei_cup2019_rsrp", CLUSTER_FILE, data_dir,
                                 "Huawei RSRP cluster"))


def validate_measurements(df: pd.DataFrame, name: str = "frame", with_rsrp: bool = True
                          ) -> tuple[pd.DataFrame, int]:
    """Check the Huawei columns (``InputError`` naming the first missing one; ``RSRP`` only if
    ``with_rsrp``), coerce them to numbers and drop rows with NaN. Returns ``(frame, n_dropped)``.
    """
    cols = [c for c in HUAWEI_COLUMNS if with_rsrp or c != "RSRP"]
    for col in cols:
        if col not in df.columns:
            raise InputError(col, None, f"column required in the Huawei RSRP format ({name})")
    out = df.loc[:, cols].apply(pd.to_numeric, errors="coerce").dropna()
    if out.empty:
        raise InputError(name, len(df), "at least one row without missing values")
    return out.reset_index(drop=True), len(df) - len(out)


def split_by_cell(
    df: pd.DataFrame, test_fraction: float = 0.25, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into (train, test) with disjoint ``Cell Index`` sets, ``round(test_fraction *
    n_cells)`` (at least 1) test cells drawn with ``numpy.random.default_rng(seed)``."""
    cells = np.sort(df["Cell Index"].unique())
    if not 0.0 < test_fraction < 1.0 or len(cells) < 2:
        raise InputError("test_fraction", test_fraction, "in (0, 1) with at least two cells")
    n_test = min(max(1, round(test_fraction * len(cells))), len(cells) - 1)
    test_cells = np.random.default_rng(seed).choice(cells, n_test, replace=False)
    mask = df["Cell Index"].isin(test_cells).to_numpy()
    return df[~mask].reset_index(drop=True), df[mask].reset_index(drop=True)
