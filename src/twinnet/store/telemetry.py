"""Telemetry as a network reports it (P2V): one interval's cell counters and UE measurement
reports, the batches the context store's ``cell_kpis`` and ``ue_reports`` tables take."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["Telemetry"]


@dataclass
class Telemetry:
    """One reporting interval: cell KPI counters and UE measurement reports."""

    ts: pd.Timestamp
    kpis: pd.DataFrame
    reports: pd.DataFrame
