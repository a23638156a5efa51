"""L2 engine of the twin: traffic forecasting from the network's cell counters.

:class:`TrafficForecast` forecasts each cell's (or reference area's) traffic for the next
interval from the stored KPI series with a :mod:`twinnet.engines.forecast` model; the sync sets
the twin's demand from it. :class:`DemandAreas` keeps demand with users rather than cells, so a
forecast stays valid when a directive moves users between cells.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from twinnet.engines.base import LayerEngine, Prediction, reject_context
from twinnet.engines.forecast import DEFAULT_MODEL, make_forecaster
from twinnet.engines.forecasters import FloatArray, causal_fill, name_series
from twinnet.errors import InputError
from twinnet.twin.sync import group_demand_multiplier

if TYPE_CHECKING:
    from twinnet.store.context import ContextStore
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


class TrafficForecast(LayerEngine):
    """L2 engine: per-cell (or per-area) traffic of the next interval(s) from the KPI history.

    A :class:`~twinnet.engines.base.LayerEngine`: ``fit(traffic)`` on a time × series frame
    on a regular grid, or ``fit_store(store, source=…)`` on the store's cell KPIs (``kpi``
    pivoted to time × cell); ``predict(traffic, horizon=h)`` → the ``h`` intervals after the
    end of ``traffic`` (frames indexed by the future times) with a std and the central
    ``coverage`` band.

    The point forecast is the :mod:`twinnet.engines.forecasters` model fitted on the whole
    history. The uncertainty comes from out-of-sample errors: the same model is fitted once
    more on the history minus its last ``backtest`` intervals (default: two days, at most a third
    of the history) and forecasts each of them from every origin before them; the errors,
    relative to each series' mean level over the preceding week and pooled over the series,
    give per step ahead an RMS (the std) and the empirical quantiles of the band (as
    :func:`twinnet.engines.forecast.forecast_band`). Steps with fewer than
    :attr:`MIN_ERRORS` held-out errors (the far steps of a short backtest) reuse the last step
    that has them. A history too short to hold one out (under 4 intervals) gives NaN std and
    band, said in ``fit_warnings_``, as are the forecaster's own fit warnings.

    Parameters
    ----------
    model: a :data:`twinnet.engines.forecast.MODELS` name (trained for the next interval).
    period: steps per day of the KPI series (derived from the index when ``None``).
    coverage: the central band stored with each prediction.
    backtest: intervals held out for the uncertainty (``None``: two days, at most a third).
    kpi: the cell-KPI column forecast when fitted from a store.
    """

    layer = "L2"
    #: fewest held-out errors a step ahead needs for its own estimate (later steps reuse the
    #: last step that has them)
    MIN_ERRORS: ClassVar[int] = 30

    def __init__(self, model: str | None = None, period: int | None = None,
                 coverage: float = 0.8, backtest: int | None = None,
                 kpi: str = "thr_dl_mbps"):
        self.model = model or DEFAULT_MODEL
        self.period = period
        self.coverage = coverage
        self.backtest = backtest
        self.kpi = kpi
        self.name = f"traffic_{self.model}"

    def is_fitted(self) -> bool:
        return hasattr(self, "estimator_")

    def _period(self, traffic: pd.DataFrame) -> int:
        if self.period is not None:
            return int(self.period)
        if len(traffic.index) < 2:
            raise InputError("traffic", len(traffic.index), "at least 2 intervals")
        step = pd.Timedelta(traffic.index[1] - traffic.index[0])
        return max(1, round(pd.Timedelta(days=1) / step))

    @staticmethod
    def _frame(traffic: Any) -> pd.DataFrame:
        if not isinstance(traffic, pd.DataFrame) or not isinstance(traffic.index,
                                                                   pd.DatetimeIndex):
            raise InputError("traffic", type(traffic).__name__,
                             "a time × series DataFrame with a DatetimeIndex")
        return traffic

    def fit(self, data: pd.DataFrame, **context: Any) -> Self:
        """``data``: time × cell frame of served traffic [Mbps] on a regular grid."""
        reject_context(self, context)
        if not 0.0 < self.coverage < 1.0:
            raise InputError("coverage", self.coverage, "a fraction in (0, 1)")
        traffic = self._frame(data)
        per = self._period(traffic)
        est = make_forecaster(self.model, period=per)
        est.check_available()
        phase0 = self._phase(traffic, per)
        est.fit(traffic.to_numpy(dtype=float), phase0=phase0, steps=[1],
                start=pd.Timestamp(traffic.index[0]))
        self.estimator_ = est
        self.cells_ = list(traffic.columns)
        self.period_ = per
        self.t0_ = pd.Timestamp(traffic.index[0])
        self.n_history_ = len(traffic)
        self.fit_warnings_: list[str] = []
        self._fit_errors(traffic.to_numpy(dtype=float), per, phase0, self.t0_)
        self.fit_warnings_[:0] = est.fit_warnings_
        self.fit_warnings_ = [name_series(w, [str(c) for c in self.cells_])
                              for w in self.fit_warnings_]
        return self

    def _fit_errors(self, raw: FloatArray, per: int, phase0: int, t0: pd.Timestamp) -> None:
        """Relative out-of-sample errors of the held-out tail: ``rel_rms_``, ``rel_lo_``,
        ``rel_hi_`` per step ahead."""
        y = causal_fill(raw)
        n = y.shape[0]
        hold = self.backtest if self.backtest is not None else min(2 * per, n // 3)
        if not 1 <= hold <= n - 2 or n < 4:
            self.fit_warnings_.append(f"{n} intervals: too few to hold {hold} out for the "
                                      "uncertainty; std and band are NaN")
            self.rel_rms_ = self.rel_lo_ = self.rel_hi_ = np.full(1, np.nan)
            self.backtest_rel_rmse_ = float("nan")
            return
        start = n - hold
        back = make_forecaster(self.model, period=per)
        back.fit(y[:start], phase0=phase0, steps=[1], start=t0)
        self.fit_warnings_ += [f"backtest fit: {w}" for w in back.fit_warnings_]
        origins = np.arange(start, n, dtype=np.int64)
        steps = np.arange(1, hold + 1, dtype=np.int64)
        # forecast_at reads y[:o] only for origin o (the held-out rows are the targets)
        pred = np.maximum(back.forecast_at(y, origins, steps, phase0=phase0, start=t0), 0.0)
        target = origins[:, None] + steps[None, :] - 1  # [O, K]
        seen = target < n
        truth = y[np.minimum(target, n - 1)]
        level = np.maximum(np.array([y[max(0, o - 7 * per): o].mean(axis=0) for o in origins]),
                           1e-9)[:, None, :]
        rel = np.where(seen[..., None], (truth - pred) / level, np.nan)  # [O, K, S]
        q = (1.0 - self.coverage) / 2.0
        flat = rel.transpose(1, 0, 2).reshape(hold, -1)  # per step, pooled over the series
        enough = np.isfinite(flat).sum(axis=1) >= self.MIN_ERRORS
        flat = flat[: max(1, int(np.argmin(enough)) if not enough.all() else hold)]
        self.rel_rms_ = np.sqrt(np.nanmean(flat ** 2, axis=1))
        self.rel_lo_ = np.nanquantile(flat, q, axis=1)
        self.rel_hi_ = np.nanquantile(flat, 1.0 - q, axis=1)
        self.backtest_rel_rmse_ = float(self.rel_rms_[0])  # one step ahead, as used

    def training_data(self, store: ContextStore, *, source: str | None = None,
                      start: Any = None, end: Any = None) -> pd.DataFrame:
        """The store's cell KPI ``kpi`` as a time × cell frame on the regular grid of its
        median step (missing intervals as NaN rows)."""
        k = store.cell_kpis(start, end, source=source)
        if self.kpi not in k.columns:
            raise InputError("kpi", self.kpi, "a column of the cell_kpis table")
        k = k[k["ts"].notna() & k[self.kpi].notna()]
        if not len(k):
            raise InputError("cell_kpis", 0, f"stored cell KPI rows with {self.kpi} and a time")
        frame = k.pivot_table(index="ts", columns="cell_id", values=self.kpi,
                              aggfunc="mean").sort_index()
        if len(frame) >= 2:
            step = pd.Timedelta(np.median(np.diff(frame.index.asi8)), unit=frame.index.unit)
            frame = frame.reindex(pd.date_range(frame.index[0], frame.index[-1], freq=step))
        frame.columns.name = None
        return frame

    @staticmethod
    def _phase(traffic: pd.DataFrame, per: int) -> int:
        t0 = pd.Timestamp(traffic.index[0])
        monday = (t0 - pd.Timedelta(days=t0.day_of_week)).normalize()
        return round((t0 - monday) / (pd.Timedelta(days=1) / per))

    def predict(self, data: pd.DataFrame, horizon: int = 1,
                **context: Any) -> Prediction[pd.DataFrame]:
        """Forecast ``horizon`` intervals after the end of ``data`` (the fitted cells; rows
        indexed by the future times): mean, std and the ``coverage`` band as quantiles."""
        reject_context(self, context)
        self.check_fitted()
        if not isinstance(horizon, int | np.integer) or horizon < 1:
            raise InputError("horizon", horizon, "an integer >= 1")
        hist = self._frame(data).reindex(columns=self.cells_)
        vals = np.asarray(self.estimator_.forecast(hist.to_numpy(dtype=float), horizon,
                                                   phase0=self._phase(hist, self.period_),
                                                   start=pd.Timestamp(hist.index[0])))
        vals = vals.reshape(horizon, -1)
        step = pd.Timedelta(days=1) / self.period_
        idx = pd.DatetimeIndex([hist.index[-1] + step * (k + 1) for k in range(horizon)])
        mean = np.maximum(vals, 0.0)
        y = causal_fill(hist.to_numpy(dtype=float))
        level = np.maximum(y[-7 * self.period_:].mean(axis=0), 1e-9)[None, :]
        k = np.minimum(np.arange(horizon), self.rel_rms_.size - 1)
        std = self.rel_rms_[k][:, None] * level
        lo = np.maximum(mean + self.rel_lo_[k][:, None] * level, 0.0)
        hi = mean + self.rel_hi_[k][:, None] * level
        q = (1.0 - self.coverage) / 2.0

        def frame(v: FloatArray) -> pd.DataFrame:
            return pd.DataFrame(v, index=idx, columns=self.cells_)

        return Prediction(frame(mean), frame(std), {q: frame(lo), 1.0 - q: frame(hi)})

    def _metrics(self) -> dict[str, Any]:
        return {"history": self.n_history_, "series": len(self.cells_),
                "backtest_rel_rmse": None if np.isnan(self.backtest_rel_rmse_)
                else self.backtest_rel_rmse_,
                "fit_warnings": self.fit_warnings_}
