"""ML-MATT LTE cell KPIs: 33 cells of 10 base stations, one row per cell and 15 minutes.

PRB usage UL/DL [%], mean/max throughput, active users, and the label ``Unusual`` (anomalous for
that time of day). Rows are shuffled and carry only a time of day (``HH:MM``); 91 rows hold the
Excel error string ``#¡VALOR!`` — real bad input. No licence is stated: internal use only.

:data:`STORE_COLUMNS` maps the export's columns onto the context store's ``cell_kpis`` fields
(with the scale that turns percentages into fractions); the store's ``mlmatt`` ingest profile
uses it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from twinnet.datasets import data_file
from twinnet.errors import InputError

__all__ = ["FILES", "INTERVAL_S", "STORE_COLUMNS", "load", "path"]

FILES = {"train": "ML-MATT-CompetitionQT1920_train.csv",
         "test": "ML-MATT-CompetitionQT1920_test.csv"}
INTERVAL_S = 900
#: export column → (store field, scale)
STORE_COLUMNS: dict[str, tuple[str, float]] = {
    "Time": ("time_of_day_min", 1.0), "CellName": ("cell_id", 1.0),
    "PRBUsageUL": ("prb_util_ul", 0.01), "PRBUsageDL": ("prb_util_dl", 0.01),
    "meanThr_DL": ("thr_dl_mbps", 1.0), "meanThr_UL": ("thr_ul_mbps", 1.0),
    "maxThr_DL": ("thr_dl_max_mbps", 1.0), "maxThr_UL": ("thr_ul_max_mbps", 1.0),
    "meanUE_DL": ("users_dl", 1.0), "meanUE_UL": ("users_ul", 1.0),
    "maxUE_DL": ("users_max_dl", 1.0), "maxUE_UL": ("users_max_ul", 1.0),
    "maxUE_UL+DL": ("users_max", 1.0), "Unusual": ("unusual", 1.0),
}


def path(split: str = "train", data_dir: str | Path | None = None) -> Path:
    """Path of the ``train`` or ``test`` export."""
    if split not in FILES:
        raise InputError("split", split, f"one of {sorted(FILES)}")
    return data_file("kpi/ml_matt_lte_cell_kpi", FILES[split], data_dir, "ML-MATT cell KPIs")


def load(split: str = "train", data_dir: str | Path | None = None) -> pd.DataFrame:
    """The export as read, every value as text (the bad cells kept verbatim for validation)."""
    return pd.read_csv(path(split, data_dir), dtype=str, keep_default_na=False)
