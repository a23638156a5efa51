"""SUTD private 5G campus walk test (Singapore University of Technology and Design, 4 Oct 2022).

Measured with Keysight Nemo Handy on a Samsung Galaxy S22 Ultra at ~2 Hz over four scenarios
(building levels 4, 5 and 6 with both RRUs on, level 6 with one RRU on): SS-RSRP / RSRQ / SINR
of the serving beam, PDSCH/PUSCH MCS and PRBs, DL throughput, and labels for anomalies
(``lab_anom``), black spots (``lab_bs``), interference (``lab_inf``) and the one-RRU state
(``lab_1rr``). No licence is stated: internal use only.

>>> sorted(SCENARIOS)
['lvl4', 'lvl5', 'lvl6', 'lvl6_1rru']
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from twinnet.datasets import data_file
from twinnet.errors import InputError

__all__ = ["LABELS", "SCENARIOS", "load"]

SCENARIOS = {"lvl4": "Lvl4_AllRRUOn_Anomaly_label.csv",
             "lvl5": "Lvl5_AllRRUOn_Anomaly_label.csv",
             "lvl6": "Lvl6_AllRRUOn_Anomaly_label.csv",
             "lvl6_1rru": "Lvl6_1RRUOn_Anomaly_label.csv"}
LABELS = ("lab_anom", "lab_bs", "lab_inf", "lab_1rr", "Label")


def load(scenario: str = "lvl4", data_dir: str | Path | None = None) -> pd.DataFrame:
    """One scenario's walk test: rows in time order (``Time`` parsed), a ``scenario`` column."""
    if scenario not in SCENARIOS:
        raise InputError("scenario", scenario, f"one of {sorted(SCENARIOS)}")
    df = pd.read_csv(data_file("kpi/sutd_5g_walktest_2022", SCENARIOS[scenario], data_dir,
                               "SUTD 5G walk test"))
    df["Time"] = pd.to_datetime(df["Time"])
    df.insert(0, "scenario", scenario)
    return df.sort_values("Time", kind="stable", ignore_index=True)
