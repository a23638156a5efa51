"""The twin's layer AI engines: they correct the twin's models from the network's telemetry.

* :class:`RadioCalibration` (L1) learns the gap between measured RSRP and the twin's 38.901
  link budget — LLM-DTNet's "adjustment factor" — as a function of link geometry (position,
  distance, angles off boresight and off the tilt) and the cell, then plugs into the twin as a
  :class:`~twinnet.twin.twin.LinkAdjustment` so every link of every user is corrected.
* :class:`TrafficForecast` (L2) forecasts each cell's traffic for the next interval from the
  stored KPI series with a :mod:`twinnet.traffic.forecast` model; the sync sets the twin's demand
  from it.

Both are plain estimators (``fit`` → learned state with a trailing underscore) so they can be
pickled into the store's model registry.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from twinnet.errors import InputError
from twinnet.radio.engine import ResidualCorrector
from twinnet.twin.fidelity import predict_reports
from twinnet.twin.sync import group_demand_multiplier

if TYPE_CHECKING:
    from twinnet.twin.twin import DigitalTwin

__all__ = ["DemandAreas", "RadioCalibration", "TrafficForecast", "link_features"]

#: link features the L1 engine learns from
LINK_FEATURES = ("x_m", "y_m", "log10_distance_m", "azimuth_off_deg", "elevation_off_deg",
                 "cell")


def link_features(twin: DigitalTwin, users: NDArray[np.int64] | None,
                  cells: NDArray[np.int32]) -> pd.DataFrame:
    """Feature table of user–cell links (one row per element of ``cells``, flattened)."""
    g = twin.link_geometry(cells, users)
    return pd.DataFrame({
        "x_m": g["x_m"].ravel(), "y_m": g["y_m"].ravel(),
        "log10_distance_m": np.log10(g["distance_m"]).ravel(),
        "azimuth_off_deg": g["azimuth_off_deg"].ravel(),
        "elevation_off_deg": g["elevation_off_deg"].ravel(),
        "cell": np.asarray(cells).ravel().astype(np.int64),
    })


class RadioCalibration:
    """L1 engine: learned correction ``measured − modelled`` RSRP [dB] per link.

    Parameters
    ----------
    max_reports: most recent reports used for training (older ones are dropped).
    min_reports: fewer reports than this is an error (nothing to learn from).
    corrector_params: passed to :class:`~twinnet.radio.engine.ResidualCorrector` (defaults
        suit dense measurement reports: small leaves, two folds for the uncertainty model).
    """

    def __init__(self, max_reports: int = 40_000, min_reports: int = 200,
                 **corrector_params: Any):
        self.max_reports = max_reports
        self.min_reports = min_reports
        self.corrector_params = {"min_samples_leaf": 40, "max_leaf_nodes": 31,
                                 "learning_rate": 0.1, "max_iter": 300, "n_std_folds": 2,
                                 **corrector_params}
        self.token = "l1:unfitted"

    def fit(self, twin: DigitalTwin, reports: pd.DataFrame) -> RadioCalibration:
        """Learn from measurement reports (``ue_id, cell_id, rsrp_dbm`` rows) against the
        *uncorrected* twin."""
        rep = reports.tail(self.max_reports)
        saved = twin.link_adjustment
        twin.link_adjustment = None
        try:
            pred = predict_reports(twin, rep)
        finally:
            twin.link_adjustment = saved
        ok = np.isfinite(pred) & np.isfinite(rep["rsrp_dbm"].to_numpy(dtype=float))
        if ok.sum() < self.min_reports:
            raise InputError("reports", int(ok.sum()),
                             f"at least {self.min_reports} reports matching twin links")
        rep = rep[ok]
        resid = rep["rsrp_dbm"].to_numpy(dtype=float) - pred[ok]
        users = rep["ue_id"].astype(str).str.slice(2).astype(np.int64).to_numpy()
        names = {n: i for i, n in enumerate(twin.network.cell_names)}
        cells = rep["cell_id"].map(names).to_numpy(dtype=np.int32)
        x = link_features(twin, users, cells)
        self.model_ = ResidualCorrector(features=list(LINK_FEATURES),
                                        categorical=["cell"], **self.corrector_params)
        self.model_.fit(x, resid)
        self.n_reports_ = len(rep)
        self.bias_before_db_ = float(-resid.mean())
        self.rmse_before_db_ = float(np.sqrt(np.mean(resid ** 2)))
        self.token = "l1:" + uuid.uuid4().hex
        return self

    def extra_loss_db(self, twin: DigitalTwin, slot_cell: NDArray[np.int32]
                      ) -> NDArray[np.float64]:
        """The :class:`LinkAdjustment` hook: minus the predicted RSRP correction."""
        if not hasattr(self, "model_"):
            raise InputError("RadioCalibration", "not fitted", "call fit() first")
        cells = np.broadcast_to(slot_cell, (twin.users.n, slot_cell.shape[1]))
        valid = cells >= 0
        out = np.zeros(cells.shape)
        u, k = np.nonzero(valid)  # predict only real links (a partial update has few)
        if u.size:
            x = link_features(twin, u.astype(np.int64), cells[u, k].astype(np.int32))
            out[u, k] = -self.model_.predict(x)
        return out

    def attach(self, twin: DigitalTwin) -> None:
        twin.link_adjustment = self

    def metrics(self) -> dict[str, Any]:
        return {"n_reports": getattr(self, "n_reports_", 0),
                "rmse_before_db": getattr(self, "rmse_before_db_", None),
                "bias_before_db": getattr(self, "bias_before_db_", None)}


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
        from twinnet.traffic.forecast import DEFAULT_MODEL

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
        from twinnet.traffic.forecast import make_forecaster

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
