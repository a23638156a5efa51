"""L2 engine of the twin: traffic forecasting from the network's cell counters.

:class:`TrafficForecast` forecasts each cell's (or reference area's) traffic for the next
interval from the stored KPI series with a :mod:`twinnet.engines.forecast` model; the sync sets
the twin's demand from it. :class:`DemandAreas` keeps demand with users rather than cells, so a
forecast stays valid when a directive moves users between cells.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from twinnet.engines.forecast import DEFAULT_MODEL, make_forecaster
from twinnet.errors import InputError
from twinnet.twin.sync import group_demand_multiplier

if TYPE_CHECKING:
    from twinnet.twin.twin import DigitalTwin

__all__ = ["DemandAreas", "TrafficForecast"]


class DemandAreas:
    """Demand lives with users, not cells: the L2 series are the traffic of fixed *reference
    areas* — the serving areas of the cells under the configuration the areas were drawn with —
    so a forecast stays valid when a directive moves users between cells.

    Each interval's per-cell traffic is spread over the users the twin associates with each
    cell *in the configuration of that interval* (keeping their relative demand), then summed
    per reference area; a forecast per area becomes per-user demand again for whatever
    configuration the twin evaluates next.
    """

    def __init__(self, twin: DigitalTwin):
        self.ref_cell_ = twin.serving_cells().astype(np.int64)
        names = twin.network.cell_names
        self.areas_ = [names[c] for c in np.unique(self.ref_cell_[self.ref_cell_ >= 0])]

    def area_demand(self, twin: DigitalTwin, cell_traffic_mbps: pd.Series) -> pd.Series:
        """Traffic [Mbps] of each reference area implied by one interval's per-cell traffic."""
        srv = twin.serving_cells().astype(np.int64)
        d = twin.users.demand_mbps
        has = srv >= 0
        base = np.bincount(np.where(has, srv, 0), weights=np.where(has, d, 0.0),
                           minlength=twin.network.n_cells)
        tgt = cell_traffic_mbps.reindex(twin.network.cell_names).to_numpy(dtype=float)
        share = np.where(has, d / np.maximum(base[np.where(has, srv, 0)], 1e-12), 0.0)
        user_mbps = np.where(has, share * np.nan_to_num(tgt)[np.where(has, srv, 0)], 0.0)
        ref = self.ref_cell_
        ok = ref >= 0
        area = np.bincount(ref[ok], weights=user_mbps[ok], minlength=twin.network.n_cells)
        return pd.Series(area[[twin.network.cell_names.index(a) for a in self.areas_]],
                         index=self.areas_)

    def multiplier(self, twin: DigitalTwin, area_mbps: pd.Series,
                   hour: int | None = None) -> NDArray[np.float64]:
        """Per-user demand multipliers (for :attr:`DigitalTwin.demand_multiplier`) that give
        each reference area ``area_mbps`` when the twin is evaluated at ``hour``."""
        return group_demand_multiplier(twin, self.ref_cell_, area_mbps, hour)


class TrafficForecast:
    """L2 engine: per-cell traffic of the next interval(s) from the KPI history.

    Parameters
    ----------
    model: a :data:`twinnet.traffic.forecast.MODELS` name (trained for the next interval).
    period: steps per day of the KPI series (derived from the index when ``None``).
    """

    def __init__(self, model: str | None = None, period: int | None = None):
        self.model = model or DEFAULT_MODEL
        self.period = period

    def _period(self, traffic: pd.DataFrame) -> int:
        if self.period is not None:
            return int(self.period)
        if len(traffic.index) < 2:
            raise InputError("traffic", len(traffic.index), "at least 2 intervals")
        step = pd.Timedelta(traffic.index[1] - traffic.index[0])
        return max(1, round(pd.Timedelta(days=1) / step))

    def fit(self, traffic: pd.DataFrame) -> TrafficForecast:
        """``traffic``: time × cell frame of served traffic [Mbps] on a regular grid."""
        per = self._period(traffic)
        est = make_forecaster(self.model, period=per)
        est.check_available()
        est.fit(traffic.to_numpy(dtype=float), phase0=self._phase(traffic, per), steps=[1])
        self.estimator_ = est
        self.cells_ = list(traffic.columns)
        self.period_ = per
        self.t0_ = pd.Timestamp(traffic.index[0])
        return self

    @staticmethod
    def _phase(traffic: pd.DataFrame, per: int) -> int:
        t0 = pd.Timestamp(traffic.index[0])
        monday = (t0 - pd.Timedelta(days=t0.day_of_week)).normalize()
        return round((t0 - monday) / (pd.Timedelta(days=1) / per))

    def forecast(self, traffic: pd.DataFrame, horizon: int = 1) -> pd.DataFrame:
        """Forecast ``horizon`` intervals after the end of ``traffic`` (same cells as fitted);
        rows indexed by the future times."""
        if not hasattr(self, "estimator_"):
            raise InputError("TrafficForecast", "not fitted", "call fit() first")
        hist = traffic.reindex(columns=self.cells_)
        vals = np.asarray(self.estimator_.forecast(hist.to_numpy(dtype=float), horizon,
                                                   phase0=self._phase(hist, self.period_)))
        vals = vals.reshape(horizon, -1)
        step = pd.Timedelta(days=1) / self.period_
        idx = pd.DatetimeIndex([hist.index[-1] + step * (k + 1) for k in range(horizon)])
        return pd.DataFrame(np.maximum(vals, 0.0), index=idx, columns=self.cells_)
