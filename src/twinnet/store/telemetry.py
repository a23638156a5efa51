"""Telemetry as a network reports it (P2V): one interval's cell counters and UE measurement
reports, the batches the context store's ``cell_kpis`` and ``ue_reports`` tables take."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["Telemetry"]


@dataclass
class Telemetry:
    """One reporting interval: cell KPI counters and UE measurement reports; a living network
    also reports the alarms it raised (``ts, kind, cell_id, severity, message``) and, for
    scoring only, the truth of what happened (``ts, kind, cell_id, message, payload``)."""

    ts: pd.Timestamp
    kpis: pd.DataFrame
    reports: pd.DataFrame
    alarms: pd.DataFrame | None = None
    truth: pd.DataFrame | None = None
    #: interference bursts the cells sensed (a radar's beam sweeping them): ``cell_id``,
    #: ``t_s`` (seconds on the network's clock), ``rx_dbm``
    bursts: pd.DataFrame | None = None
