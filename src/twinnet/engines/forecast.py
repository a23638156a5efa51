"""L2 AI engine: traffic-load forecasting and its rolling-origin evaluation (LINKs §III-B).

Conventions
-----------
* A data set is a table with one time column on a regular grid and one numeric column per
  series (cell / square).  ``period`` = steps per day (144 for 10-minute data).
* **Origin** ``o``: the index of the first *unseen* time step.  The forecast at origin ``o`` is
  made from ``y[:o]`` only.  **Horizon h** is the *h-th step ahead*: the forecast of the single
  point ``y[o + h - 1]`` (h = 1 is the time stamp of the origin itself, i.e. the next 10 minutes).
* **NRMSE** is LINKs eq. (9): ``sqrt(mean((ŷ − y)²)) / mean(y)`` over all points in space and
  time scored for that horizon (all series × all origins whose target lies in the data and is
  not missing).
* **Rolling-origin evaluation**: origins are every ``origin_stride``-th time step in
  ``[test_start, test_end]``.  Every model is (re)fitted every ``refit_every`` steps (default: a
  day) on the data strictly before the refit point, which is at or before each origin it
  serves, and then conditions on all observations before each origin through
  :meth:`Forecaster.forecast_at`.  The data handed to the model for a block of origins ends at the
  last origin of the block, so nothing at or after it can be read.  Inputs are forward-filled
  causally; missing targets are skipped in the score.

Models (``MODELS``): ``persistence``, ``seasonal_naive`` (a day earlier),
``seasonal_naive_weekly``, ``level_adjusted_seasonal``, ``calendar_naive`` (the same time on
the last day of the same type: workday, Saturday, Sunday or public holiday, holiday-season
workday — :mod:`twinnet.engines.calendar`), ``holt_winters``, ``sarima``, ``gbm``, ``mlp``,
``selected`` (the default), ``ensemble`` (gbm + level_adjusted_seasonal), the deep baselines
``lstm`` and ``convlstm`` (:mod:`twinnet.engines.deep`, extra ``deep``: JAX), and the
foundation-model adapters ``timesfm`` /
``chronos``, which run only with local weights (``TWINNET_TIMESFM_PATH`` /
``TWINNET_CHRONOS_PATH``) and their package; otherwise they raise :class:`ForecasterUnavailable`
and the evaluation lists them under ``"unavailable"`` with the reason (never a silent
substitute).

References
----------
* S. Jiang, B. Lin, Y. Wu and Y. Gao, "LINKs: Large Language Model Integrated Management for
  6G Empowered Digital Twin NetworKs" (LINKs).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from twinnet.engines.deep import ConvLSTMForecaster, LSTMForecaster
from twinnet.engines.forecasters import (
    ArimaDeseasonal,
    CalendarNaive,
    ChronosAdapter,
    Ensemble,
    FloatArray,
    Forecaster,
    ForecasterUnavailable,
    GradientBoosting,
    HoltWinters,
    HorizonSelected,
    LevelAdjustedSeasonal,
    MLPForecaster,
    Persistence,
    SeasonalNaive,
    SeasonalNaiveWeekly,
    TimesFMAdapter,
    as_matrix,
    causal_fill,
    name_series,
    time_grid,
)
from twinnet.errors import InputError

__all__ = [
    "BASELINES",
    "DEFAULT_EVALUATION",
    "DEFAULT_MODEL",
    "HORIZONS",
    "MODELS",
    "Forecaster",
    "ForecasterUnavailable",
    "evaluate_csv",
    "evaluate_frame",
    "forecast_band",
    "forecast_series",
    "make_forecaster",
    "nrmse",
    "rolling_forecasts",
]

#: The model the twin uses: chosen by the Milan evaluation (see benchmarks/forecast_milan.py).
DEFAULT_MODEL = "selected"

#: Horizons of LINKs Table III (steps of 10 minutes: 10 min, 100 min, 5 h, 10 h).
HORIZONS: tuple[int, ...] = (1, 10, 30, 60)

#: Registry: name → class (every class takes ``period`` as its first parameter).
MODELS: dict[str, type[Forecaster]] = {
    cls.name: cls
    for cls in (
        Persistence,
        SeasonalNaive,
        SeasonalNaiveWeekly,
        LevelAdjustedSeasonal,
        CalendarNaive,
        HoltWinters,
        ArimaDeseasonal,
        GradientBoosting,
        MLPForecaster,
        Ensemble,
        HorizonSelected,
        TimesFMAdapter,
        ChronosAdapter,
        LSTMForecaster,
        ConvLSTMForecaster,
    )
}

#: Models an evaluation runs when none are named: all but the deep baselines, which train
#: recurrent networks at every refit (minutes each on a CPU; name them to run them).
DEFAULT_EVALUATION: tuple[str, ...] = tuple(n for n in MODELS if n not in ("lstm", "convlstm"))

#: The naive baselines the default must beat: persistence, seasonal naive (day and week) and
#: the level-adjusted seasonal forecast.
BASELINES: tuple[str, ...] = ("persistence", "seasonal_naive", "seasonal_naive_weekly",
                              "level_adjusted_seasonal")


def make_forecaster(name: str, **params: Any) -> Forecaster:
    """A new forecaster from its registry ``name`` with constructor ``params``."""
    if name not in MODELS:
        raise InputError("model", name, f"one of {sorted(MODELS)}")
    return MODELS[name](**params)


def nrmse(y_pred: ArrayLike, y_true: ArrayLike) -> float:
    """LINKs eq. (9): ``sqrt(mean((ŷ − y)²)) / mean(y)`` over all points (NaN targets skipped)."""
    pred = np.asarray(y_pred, dtype=np.float64)
    true = np.asarray(y_true, dtype=np.float64)
    if pred.shape != true.shape:
        raise InputError("y_pred", pred.shape, f"the shape of y_true {true.shape}")
    ok = np.isfinite(true)
    if not ok.any():
        raise InputError("y_true", "all missing", "at least one finite target")
    if not np.all(np.isfinite(pred[ok])):
        raise InputError("y_pred", "non-finite values", "finite forecasts")
    mean = float(true[ok].mean())
    if mean == 0.0:
        raise InputError("y_true", mean, "a non-zero mean (NRMSE divides by it)")
    return float(np.sqrt(np.mean((pred[ok] - true[ok]) ** 2)) / mean)


def rolling_forecasts(
    model: Forecaster,
    y: ArrayLike,
    origins: ArrayLike,
    steps: ArrayLike,
    *,
    phase0: int = 0,
    refit_every: int = 144,
    fit_warnings: list[str] | None = None,
    start: pd.Timestamp | None = None,
) -> FloatArray:
    """Rolling-origin forecasts ``[O, K, S]`` of ``y[o + h − 1]`` for each origin and step.

    Origins (sorted ascending) are grouped in blocks of ``refit_every`` steps starting at the
    first origin; for each block the model is fitted on ``y[:r]`` (``r`` = block start, at or
    before all its origins) and :meth:`Forecaster.forecast_at` gets ``y[:last origin of the
    block]``; ``start`` (the time of ``y[0]``) reaches models with a holiday calendar.
    Training therefore only ever uses data before each origin.  ``fit_warnings``, if given,
    receives each fit's ``fit_warnings_`` (prefixed by the fit's data length).
    """
    mat, _ = as_matrix(y, "y")
    o = np.asarray(origins, dtype=np.int64)
    h = np.asarray(steps, dtype=np.int64)
    if o.ndim != 1 or o.size == 0 or np.any(np.diff(o) <= 0) or o[0] < 2:
        raise InputError("origins", origins, "increasing indices >= 2")
    if refit_every < 1:
        raise InputError("refit_every", refit_every, "a positive number of steps")
    out = np.empty((o.size, h.size, mat.shape[1]))
    block = (o - o[0]) // refit_every
    for b in np.unique(block):
        sel = np.flatnonzero(block == b)
        r = int(o[0] + b * refit_every)
        model.fit(mat[:r], phase0=phase0, steps=h.tolist(), start=start)
        if fit_warnings is not None:
            fit_warnings += [f"fit on {r} steps: {w}" for w in model.fit_warnings_]
        last = int(o[sel[-1]])
        out[sel] = model.forecast_at(mat[:last], o[sel], h, phase0=phase0, start=start)
    return out


# --------------------------------------------------------------------------------------------
# data preparation
# --------------------------------------------------------------------------------------------


def _parse_times(col: pd.Series, field: str) -> pd.Series:
    try:
        times = pd.to_datetime(col, format="ISO8601")
    except ValueError as exc:
        if "Mixed timezones" in str(exc) or "tz-aware" in str(exc):
            times = pd.to_datetime(col, format="ISO8601", utc=True)
        else:
            bad = col[pd.to_datetime(col, format="ISO8601", errors="coerce").isna()]
            value = bad.iloc[0] if len(bad) else str(exc)
            raise InputError(field, value, "ISO-8601 timestamps") from exc
    if times.isna().any():
        raise InputError(field, col[times.isna()].iloc[0], "ISO-8601 timestamps (no gaps)")
    return times


def _prepare(
    df: pd.DataFrame, time_col: str
) -> tuple[pd.DatetimeIndex, FloatArray, list[str], int, int]:
    """Times on a regular grid, the raw ``[T, S]`` values (NaN where missing), names, period
    and phase of the first row."""
    if not isinstance(df, pd.DataFrame):
        raise InputError("df", type(df).__name__, "a pandas DataFrame")
    if time_col not in df.columns:
        raise InputError("time_col", time_col, f"one of the columns {list(map(str, df.columns))}")
    names = [str(c) for c in df.columns if c != time_col and pd.api.types.is_numeric_dtype(df[c])]
    if not names:
        raise InputError("df", list(map(str, df.columns)), "at least one numeric series column")
    times = _parse_times(df[time_col], "time_col")
    frame = df[names].astype(np.float64).set_axis(pd.DatetimeIndex(times), axis=0).sort_index()
    if frame.index.has_duplicates:
        dup = frame.index[frame.index.duplicated()][0]
        raise InputError("time_col", str(dup), "unique time stamps")
    step, period, phase0 = time_grid(frame.index, "time_col")
    full = pd.date_range(frame.index[0], frame.index[-1], freq=step)
    if not frame.index.isin(full).all():
        off = frame.index[~frame.index.isin(full)][0]
        raise InputError("time_col", str(off), f"time stamps on a regular {step} grid")
    frame = frame.reindex(full)
    return pd.DatetimeIndex(frame.index), frame.to_numpy(), names, period, phase0


def _bound(value: str | pd.Timestamp, field: str, index: pd.DatetimeIndex) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InputError(field, value, "an ISO-8601 time stamp") from exc
    if ts is pd.NaT or not isinstance(ts, pd.Timestamp):
        raise InputError(field, value, "an ISO-8601 time stamp")
    if index.tz is not None and ts.tz is None:
        ts = ts.tz_localize(index.tz)
    elif index.tz is None and ts.tz is not None:
        ts = ts.tz_localize(None)
    return ts


def _horizons(horizons: Sequence[int] | str) -> list[int]:
    items: list[Any] = (
        [s for s in horizons.split(",") if s.strip()]
        if isinstance(horizons, str)
        else list(np.atleast_1d(np.asarray(horizons, dtype=object)))
    )
    out: list[int] = []
    for h in items:
        try:
            value = int(h)
        except (TypeError, ValueError) as exc:
            raise InputError("horizons", horizons, "positive integers (steps ahead)") from exc
        if value < 1 or (not isinstance(h, str) and value != h):
            raise InputError("horizons", h, "positive integers (steps ahead)")
        out.append(value)
    if not out:
        raise InputError("horizons", horizons, "at least one positive integer")
    return sorted(set(out))


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------


def evaluate_frame(
    df: pd.DataFrame,
    time_col: str,
    test_start: str | pd.Timestamp,
    test_end: str | pd.Timestamp,
    horizons: Sequence[int] | str = HORIZONS,
    models: Sequence[str | Forecaster] | None = None,
    origin_stride: int = 1,
    refit_every: int | None = None,
) -> dict[str, Any]:
    """Rolling-origin NRMSE of forecasters on every numeric column of ``df``.

    ``test_start`` / ``test_end`` (inclusive, ISO-8601; a naive stamp is read in the data's time
    zone) bound the forecast origins; at least two days of data must precede ``test_start``.
    ``horizons`` are steps ahead (``"1,10,30,60"`` is accepted).  ``models`` are registry names
    or forecaster instances (default: ``DEFAULT_EVALUATION``, every model but the deep
    baselines).  ``refit_every`` defaults to a day.
    Calendar features use the wall-clock time of the first stamp (UTC if the offsets are mixed).

    Returns ``{"models": {name: {"1": nrmse, ...}}, "default": DEFAULT_MODEL,
    "unavailable": {name: reason}, "best": {"1": name, ...}, "runtime_s": {name: s},
    "window": {...}, "definition": "..."}``; unavailable models appear only under
    ``"unavailable"``.  When a refit kept default parameters for some series (a failed
    Holt-Winters or ARIMA fit, too short a history), ``"fit_warnings": {name: [message, ...]}``
    lists them, naming the series by their columns.
    """
    index, raw, names, period, phase0 = _prepare(df, time_col)
    hs = _horizons(horizons)
    if not isinstance(origin_stride, int | np.integer) or origin_stride < 1:
        raise InputError("origin_stride", origin_stride, "a positive integer")
    refit = period if refit_every is None else refit_every
    if not isinstance(refit, int | np.integer) or refit < 1:
        raise InputError("refit_every", refit_every, "a positive number of steps")
    start = _bound(test_start, "test_start", index)
    end = _bound(test_end, "test_end", index)
    earliest = index[min(2 * period, len(index) - 1)]
    if start < earliest:
        raise InputError(
            "test_start",
            str(test_start),
            f"at or after {earliest.isoformat()} (two days of history before the test window)",
        )
    if start > index[-1]:
        raise InputError("test_start", str(test_start), f"at or before {index[-1].isoformat()}")
    if end > index[-1]:
        raise InputError("test_end", str(test_end), f"at or before {index[-1].isoformat()}")
    if end < start:
        raise InputError("test_end", str(test_end), f"at or after test_start {start.isoformat()}")
    origins = np.flatnonzero((index >= start) & (index <= end))[::origin_stride].astype(np.int64)
    if origins.size == 0:
        raise InputError("test_start", str(test_start), "a window containing a time stamp")
    y = causal_fill(raw)
    steps = np.asarray(hs, dtype=np.int64)
    targets = origins[:, None] + steps[None, :] - 1  # [O, K]
    in_data = targets < raw.shape[0]
    truth = np.where(in_data[..., None], raw[np.minimum(targets, raw.shape[0] - 1)], np.nan)

    scores: dict[str, dict[str, float]] = {}
    unavailable: dict[str, str] = {}
    runtime: dict[str, float] = {}
    warned: dict[str, list[str]] = {}
    for spec in list(DEFAULT_EVALUATION) if models is None else models:
        model = make_forecaster(spec, period=period) if isinstance(spec, str) else spec
        name = model.name or type(model).__name__
        t0 = time.perf_counter()
        fit_warnings: list[str] = []
        try:
            model.check_available()
            pred = rolling_forecasts(
                model,
                y,
                origins,
                steps,
                phase0=phase0,
                refit_every=int(refit),
                fit_warnings=fit_warnings,
                start=pd.Timestamp(index[0]),
            )
        except ForecasterUnavailable as exc:
            unavailable[name] = exc.reason
            continue
        runtime[name] = round(time.perf_counter() - t0, 3)
        if fit_warnings:
            warned[name] = [name_series(w, names) for w in fit_warnings]
        scores[name] = {str(h): round(nrmse(pred[:, k], truth[:, k]), 6) for k, h in enumerate(hs)}
    best: dict[str, str] = {}
    for h in hs:
        if scores:
            best[str(h)] = min(scores, key=lambda m: scores[m][str(h)])
    result: dict[str, Any] = {
        "models": scores,
        "default": DEFAULT_MODEL,
        "unavailable": unavailable,
        "best": best,
        "runtime_s": runtime,
        "window": {
            "test_start": start.isoformat(),
            "test_end": end.isoformat(),
            "first_origin": index[origins[0]].isoformat(),
            "last_origin": index[origins[-1]].isoformat(),
            "n_origins": int(origins.size),
            "origin_stride": int(origin_stride),
            "refit_every": int(refit),
            "n_series": len(names),
            "period": period,
            "scored_points": {
                str(h): int(np.isfinite(truth[:, k]).sum()) for k, h in enumerate(hs)
            },
        },
        "definition": "NRMSE (LINKs eq. 9) of the h-step-ahead point y[o+h-1] forecast from "
        "y[:o], over all series and origins o in [test_start, test_end]",
    }
    if warned:
        result["fit_warnings"] = warned
    if DEFAULT_MODEL in scores and all(b in scores for b in BASELINES):
        result["default_beats_baselines"] = {
            str(h): scores[DEFAULT_MODEL][str(h)] < min(scores[b][str(h)] for b in BASELINES)
            for h in hs
        }
    return result


def evaluate_csv(
    path: str | Path,
    time_col: str,
    test_start: str,
    test_end: str,
    horizons: Sequence[int] | str = HORIZONS,
    models: Sequence[str | Forecaster] | None = None,
    origin_stride: int = 1,
    refit_every: int | None = None,
) -> dict[str, Any]:
    """:func:`evaluate_frame` on a CSV file (the ``twinnet forecast evaluate`` command)."""
    p = Path(path)
    if not p.is_file():
        raise InputError("csv", str(path), "an existing CSV file")
    try:
        df = pd.read_csv(p)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError("csv", str(path), f"a readable CSV file ({exc})") from exc
    result = evaluate_frame(
        df, time_col, test_start, test_end, horizons, models, origin_stride, refit_every
    )
    result["csv"] = str(p)
    return result


# --------------------------------------------------------------------------------------------
# helpers for the twin
# --------------------------------------------------------------------------------------------


def _series_input(
    history: pd.Series | pd.DataFrame | ArrayLike, period: int | None, phase0: int | None
) -> tuple[FloatArray, bool, int, int, pd.DatetimeIndex | None]:
    index: pd.DatetimeIndex | None = None
    if isinstance(history, pd.Series | pd.DataFrame) and isinstance(
        history.index, pd.DatetimeIndex
    ):
        index = history.index
        _, p_auto, ph_auto = time_grid(index, "history.index")
        period = p_auto if period is None else period
        phase0 = ph_auto if phase0 is None else phase0
    mat, one_d = as_matrix(np.asarray(history, dtype=np.float64), "history")
    return mat, one_d, 144 if period is None else period, 0 if phase0 is None else phase0, index


def _anchor_steps(horizon: int) -> list[int]:
    return sorted({1, horizon} | {h for h in GradientBoosting.DEFAULT_STEPS if h < horizon})


def _wrap(
    values: FloatArray, one_d: bool, history: Any, index: pd.DatetimeIndex | None
) -> FloatArray | pd.Series | pd.DataFrame:
    out = values[:, 0] if one_d else values
    if index is None:
        return out
    step = index[-1] - index[-2]
    future = pd.date_range(index[-1] + step, periods=values.shape[0], freq=step)
    if isinstance(history, pd.DataFrame):
        return pd.DataFrame(out, index=future, columns=history.columns)
    return pd.Series(out, index=future, name=getattr(history, "name", None))


def forecast_series(
    history: pd.Series | pd.DataFrame | ArrayLike,
    horizon: int,
    model: str | Forecaster = DEFAULT_MODEL,
    *,
    period: int | None = None,
    phase0: int | None = None,
) -> FloatArray | pd.Series | pd.DataFrame:
    """Point forecasts of the ``horizon`` steps after the end of ``history``.

    ``history``: a series (or ``[T, S]`` table) of load on a regular grid.  With a
    ``DatetimeIndex`` the period and the weekly phase are read from the index and the result is
    a Series/DataFrame indexed by the future time stamps; otherwise ``period`` (default 144 steps
    per day) and ``phase0`` (steps since Monday 00:00 of the first sample, default 0) apply and
    an array ``[horizon]`` / ``[horizon, S]`` is returned.  The model is fitted on the whole
    history.
    """
    if not isinstance(horizon, int | np.integer) or horizon < 1:
        raise InputError("horizon", horizon, "an integer >= 1")
    mat, one_d, per, ph, index = _series_input(history, period, phase0)
    est = make_forecaster(model, period=per) if isinstance(model, str) else model
    est.check_available()
    st = pd.Timestamp(index[0]) if index is not None else None
    est.fit(mat, phase0=ph, steps=_anchor_steps(int(horizon)), start=st)
    values = np.asarray(est.forecast(mat, int(horizon), start=st)).reshape(int(horizon), -1)
    return _wrap(values, one_d, history, index)


def forecast_band(
    history: pd.Series | pd.DataFrame | ArrayLike,
    horizon: int,
    model: str | Forecaster = DEFAULT_MODEL,
    *,
    coverage: float = 0.8,
    backtest_days: int = 2,
    period: int | None = None,
    phase0: int | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Point forecast and an empirical ``coverage`` band, each ``[horizon]`` or ``[horizon, S]``.

    The band comes from the relative errors (error / mean level of the series over the last
    week) of rolling forecasts over the last ``backtest_days`` days of ``history`` by the model
    fitted on the data before them (one extra fit), per step and pooled over the series.
    """
    if not 0.0 < coverage < 1.0:
        raise InputError("coverage", coverage, "a fraction in (0, 1)")
    if not isinstance(horizon, int | np.integer) or horizon < 1:
        raise InputError("horizon", horizon, "an integer >= 1")
    mat, one_d, per, ph, index = _series_input(history, period, phase0)
    st = pd.Timestamp(index[0]) if index is not None else None
    n = mat.shape[0]
    if n < (backtest_days + 2) * per + horizon:
        raise InputError("history", n, f"at least {(backtest_days + 2) * per + horizon} steps")
    est = make_forecaster(model, period=per) if isinstance(model, str) else model
    est.check_available()
    steps = np.arange(1, horizon + 1)
    start = n - backtest_days * per - horizon + 1
    origins = np.arange(start, n - horizon + 1, max(1, per // 24), dtype=np.int64)
    y = causal_fill(mat)
    est.fit(y[:start], phase0=ph, steps=_anchor_steps(int(horizon)), start=st)
    back = est.forecast_at(y[: origins[-1]], origins, steps, phase0=ph, start=st)
    truth = y[origins[:, None] + steps[None, :] - 1]
    scale = np.maximum(np.array([y[max(0, o - 7 * per) : o].mean(axis=0) for o in origins]), 1e-9)[
        :, None, :
    ]
    rel = (truth - back) / scale  # [O, K, S]
    q_lo, q_hi = np.quantile(rel, [(1 - coverage) / 2, (1 + coverage) / 2], axis=(0, 2))
    est.fit(y, phase0=ph, steps=_anchor_steps(int(horizon)), start=st)
    point = np.asarray(est.forecast(y, int(horizon), start=st)).reshape(horizon, -1)
    level = np.maximum(y[-7 * per :].mean(axis=0), 1e-9)[None, :]
    lower = np.maximum(point + q_lo[:, None] * level, 0.0)
    upper = point + q_hi[:, None] * level
    if one_d:
        return point[:, 0], lower[:, 0], upper[:, 0]
    return point, lower, upper
