"""Forecasting models of the L2 traffic-load predictor (API in :mod:`twinnet.engines.forecast`).

Every model is a :class:`Forecaster`: scikit-learn style, parameters in ``__init__`` and learned
state in attributes with a trailing underscore.  Series are columns of a ``[T, S]`` matrix on a
regular time grid (a ``[T]`` vector is one series); ``period`` is the number of steps in a day
(144 for 10-minute data) and a week is ``7 * period`` steps.

Protocol (what the rolling-origin evaluation relies on)
-------------------------------------------------------
``fit(y, phase0=None, steps=None)``
    Learn parameters from ``y`` only (an array, or a Series / DataFrame with a regular
    ``DatetimeIndex`` whose steps per day must equal ``period``).  ``phase0`` is the position
    of ``y[0]`` in the week, in steps since Monday 00:00 (only models with calendar features
    use it; default: read from the index of a time-indexed ``y``, else 0); ``steps`` is an
    optional hint of the forecast steps that will be asked for (direct multi-step models train
    one regressor per step in it).  A model whose estimator fails, or cannot run on this
    history, for some series keeps documented default parameters for them and says so in
    ``fit_warnings_`` (and, per series, ``fit_status_`` for Holt–Winters and ARIMA).
``forecast_at(y, origins, steps)`` → ``[O, K, S]``
    For each *origin* ``o`` (an index into ``y``, ``1 <= o <= len(y)``) and each step ``h >= 1``,
    the forecast of ``y[o + h - 1]`` computed from ``y[:o]`` only, with the parameters learned by
    ``fit``.  ``y`` lies on the same grid as the fitted data and starts at ``phase0`` (by default
    the fitted one); typically it is the fitted data extended by the newer observations.  Rows
    ``o, o+1, …`` are never read for origin ``o`` (tests perturb them to check this).
``forecast(history, horizon)`` / ``predict(horizon)``
    The next ``horizon`` steps after the end of ``history`` (of the fitted data), ``[horizon]``
    for a 1-D input and ``[horizon, S]`` otherwise.

So an expensive model is fitted once per refit interval on data before the refit point and then
*conditions* on the newest observations at every origin through ``forecast_at`` (Holt–Winters and
ARIMA run their filters forward with fixed parameters; the boosted trees rebuild their lag
features).  Missing values are forward-filled causally (a leading gap becomes 0) before use.

References
----------
* S. Jiang, B. Lin, Y. Wu and Y. Gao, "LINKs: Large Language Model Integrated Management for
  6G Empowered Digital Twin NetworKs" (LINKs).
"""

from __future__ import annotations

import copy
import importlib.util
import os
import re
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from twinnet.errors import InputError, TwinNetError

__all__ = [
    "ArimaDeseasonal",
    "CalendarNaive",
    "ChronosAdapter",
    "Ensemble",
    "Forecaster",
    "ForecasterUnavailable",
    "GradientBoosting",
    "HoltWinters",
    "HorizonSelected",
    "LevelAdjustedSeasonal",
    "MLPForecaster",
    "Persistence",
    "SeasonalNaive",
    "SeasonalNaiveWeekly",
    "TimesFMAdapter",
    "name_series",
    "time_grid",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class ForecasterUnavailable(TwinNetError, RuntimeError):
    """A forecaster cannot run here (missing weights or package); ``reason`` says why."""

    def __init__(self, name: str, reason: str):
        self.name = name
        self.reason = reason
        super().__init__(f"forecaster {name!r} unavailable: {reason}")


# --------------------------------------------------------------------------------------------
# array helpers
# --------------------------------------------------------------------------------------------


def as_matrix(y: ArrayLike, field: str = "y") -> tuple[FloatArray, bool]:
    """``y`` as a float ``[T, S]`` matrix and whether it was 1-D."""
    try:
        arr = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(field, type(y).__name__, "a numeric array [T] or [T, S]") from exc
    if arr.ndim == 1:
        return arr[:, None], True
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise InputError(field, arr.shape, "a numeric array of shape [T] or [T, S]")
    return arr, False


def causal_fill(y: FloatArray) -> FloatArray:
    """Forward-fill NaN/inf along time (each value depends only on the past); leading gaps → 0."""
    out = np.array(y, dtype=np.float64, copy=True)
    bad = ~np.isfinite(out)
    if not bad.any():
        return out
    n = out.shape[0]
    idx = np.where(~bad, np.arange(n)[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    filled = np.take_along_axis(out, idx, axis=0)
    filled[~np.isfinite(filled)] = 0.0
    return filled


def season_index(t: IntArray, o: IntArray, lag: int, k: int) -> IntArray:
    """Index of the ``k``-th most recent *observed* (``< o``) sample in phase with ``t``.

    ``t - lag * (m + k)`` with ``m = max(1, ceil((t - o + 1) / lag))``, so that ``k = 0`` is the
    seasonal-naive source of target ``t`` from origin ``o``.
    """
    m = np.maximum(1, -((o - t - 1) // lag))
    return t - lag * (m + k)


def gather(y: FloatArray, idx: IntArray, o: IntArray) -> FloatArray:
    """``y[idx]`` (shape ``idx.shape + [S]``) with NaN wherever ``idx < 0`` or ``idx >= o``.

    ``o`` must broadcast against ``idx``; this mask makes look-ahead structurally impossible.
    """
    valid = (idx >= 0) & (idx < o)
    vals = y[np.where(valid, idx, 0)]
    return np.where(valid[..., None], vals, np.nan)


def _nanmean(stack: list[FloatArray]) -> FloatArray:
    """Element-wise mean over a list of arrays ignoring NaN (NaN where all are NaN)."""
    arr = np.stack(stack)
    ok = np.isfinite(arr)
    cnt = ok.sum(axis=0)
    tot = np.where(ok, arr, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)


def cumulative(y: FloatArray) -> FloatArray:
    """``cumsum`` of ``y`` along time with a leading zero row (for :func:`window_mean`)."""
    return np.vstack([np.zeros((1, y.shape[1])), np.cumsum(y, axis=0)])


def level_ratio(recent: FloatArray, ref: FloatArray) -> FloatArray:
    """``[O, 1, S]``: Σ recent / Σ ref over axis 1 (``[O, R, S]``), over the rows where the
    reference is finite, 1 where it sums to zero, clipped to [0.2, 5]."""
    ok = np.isfinite(ref)
    num = np.where(ok, recent, 0.0).sum(axis=1)
    den = np.where(ok, ref, 0.0).sum(axis=1)
    ratio = np.where(den > 1e-12, num / np.where(den > 1e-12, den, 1.0), 1.0)
    return np.clip(ratio, 0.2, 5.0)[:, None, :]


def window_mean(cum: FloatArray, o: IntArray, width: int) -> FloatArray:
    """Mean of ``y[max(0, o - width):o]`` for each origin from ``cum`` = cumsum with a 0 row."""
    lo = np.maximum(o - width, 0)
    return (cum[o] - cum[lo]) / np.maximum(o - lo, 1)[:, None]


def _check_steps(steps: ArrayLike, field: str = "steps") -> IntArray:
    arr = np.atleast_1d(np.asarray(steps))
    if arr.size == 0 or arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer) or arr.min() < 1:
        raise InputError(field, steps, "a non-empty list of integers >= 1")
    return arr.astype(np.int64)


def time_grid(times: pd.Series | pd.DatetimeIndex, field: str) -> tuple[pd.Timedelta, int, int]:
    """Step, steps per day and phase of the first stamp (steps since Monday 00:00 wall clock)
    of a regular time grid; the step must divide a day."""
    t = pd.DatetimeIndex(times)
    if len(t) < 2:
        raise InputError(field, len(t), "at least 2 time stamps")
    step = pd.Timedelta(np.median(np.diff(t.asi8)), unit=t.unit)
    day = pd.Timedelta(days=1)
    if step <= pd.Timedelta(0) or day % step != pd.Timedelta(0):
        raise InputError(field, str(step), "a regular sampling step that divides a day")
    period = int(day // step)
    first = t[0].tz_localize(None) if t.tz is not None else t[0]
    since_midnight = first - first.normalize()
    phase0 = int(first.day_of_week * period + since_midnight // step)
    return step, period, phase0


def _index_phase(y: Any, field: str, period: int) -> int | None:
    """Phase of the first row of a time-indexed Series / DataFrame (``None`` for arrays);
    its steps per day must be ``period``."""
    if not isinstance(y, pd.Series | pd.DataFrame) or not isinstance(y.index, pd.DatetimeIndex):
        return None
    _, per, phase0 = time_grid(y.index, f"{field}.index")
    if per != period:
        raise InputError("period", period, f"{per} steps per day, as the index of {field}")
    return phase0


def _start_of(y: Any, start: pd.Timestamp | str | None) -> pd.Timestamp | None:
    """``start`` as a time stamp, else the first stamp of a time-indexed ``y``, else None."""
    if start is not None:
        try:
            ts = pd.Timestamp(start)
        except (TypeError, ValueError) as exc:
            raise InputError("start", start, "a time stamp") from exc
        if ts is pd.NaT:
            raise InputError("start", start, "a time stamp")
        return ts
    if isinstance(y, pd.Series | pd.DataFrame) and isinstance(y.index, pd.DatetimeIndex) \
            and len(y.index):
        return pd.Timestamp(y.index[0])
    return None


_SERIES = re.compile(r"for series (\d+(?:, \d+)*): ")


def _grouped(what: str, status: Sequence[str]) -> list[str]:
    """One message per distinct reason of a per-series status list (``"fitted"`` is fine):
    ``"<what> for series 0, 3: <reason>"``."""
    by: dict[str, list[int]] = {}
    for s, st in enumerate(status):
        if st != "fitted":
            by.setdefault(st, []).append(s)
    return [f"{what} for series {', '.join(map(str, idx))}: {reason}"
            for reason, idx in by.items()]


def name_series(message: str, names: Sequence[str]) -> str:
    """A fit warning with its series indices (columns of the fitted matrix) replaced by
    ``names``."""
    def repl(m: re.Match[str]) -> str:
        idx = [int(i) for i in m.group(1).split(", ")]
        if max(idx) >= len(names):
            return m.group(0)
        return f"for series {', '.join(str(names[i]) for i in idx)}: "

    return _SERIES.sub(repl, message)


def holt_winters_states(
    y: FloatArray, period: int, alpha: float | FloatArray, gamma: float | FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Level ``l_j`` and seasonal state ``s_j`` after observing ``y[: j + 1]`` (additive HW).

    Recursion of statsmodels' additive no-trend Holt–Winters from a heuristic start on the
    first day (level = its mean, season = deviations); ``[T, S]`` each, NaN during the first
    day.  The forecast of ``y[t]`` from origin ``o`` is ``l_{o−1} + s_j`` with ``j`` the newest
    index ``< o`` in phase with ``t`` (``season_index(t, o, period, 0)``).
    """
    n, p = y.shape[0], period
    level = np.full_like(y, np.nan)
    season = np.full_like(y, np.nan)
    if n < p:
        return level, season
    lvl = y[:p].mean(axis=0)
    level[p - 1] = lvl
    season[:p] = y[:p] - lvl
    a = np.asarray(alpha, dtype=np.float64)
    g = np.asarray(gamma, dtype=np.float64)
    for j in range(p, n):
        s_old = season[j - p]
        new = a * (y[j] - s_old) + (1.0 - a) * lvl
        season[j] = g * (y[j] - lvl) + (1.0 - g) * s_old
        level[j] = lvl = new
    return level, season


# --------------------------------------------------------------------------------------------
# protocol
# --------------------------------------------------------------------------------------------


class Forecaster(ABC):
    """Base class: see the module docstring for the fit / forecast_at / forecast protocol."""

    #: Short snake_case name used by the registry, the evaluation and the CLI.
    name: ClassVar[str] = ""

    def __init__(self, period: int = 144):
        self.period = period

    # -- public API --------------------------------------------------------------------------
    def fit(
        self,
        y_history: ArrayLike | pd.Series | pd.DataFrame,
        *,
        phase0: int | None = None,
        steps: Sequence[int] | None = None,
        start: pd.Timestamp | str | None = None,
    ) -> Self:
        """Learn the parameters from ``y_history`` ``[T]`` or ``[T, S]`` (and nothing else):
        an array, or a Series / DataFrame on a regular ``DatetimeIndex`` (``phase0`` then
        defaults to the index's position in the week, ``start`` to its first stamp).
        ``start`` is the time of ``y_history[0]``; models with a holiday calendar use it
        (without it they know the weekdays from ``phase0`` only).  ``fit_warnings_`` lists
        the series for which the model kept default parameters, and why."""
        if not isinstance(self.period, int | np.integer) or self.period < 1:
            raise InputError("period", self.period, "a positive number of steps per day")
        from_index = _index_phase(y_history, "y_history", int(self.period))
        y, one_d = as_matrix(y_history, "y_history")
        if y.shape[0] < 2:
            raise InputError("y_history", y.shape, "at least 2 time steps")
        y = causal_fill(y)
        hint = tuple(int(h) for h in _check_steps(steps)) if steps is not None else None
        self.history_ = y
        self.one_d_ = one_d
        self.n_series_ = y.shape[1]
        self.phase0_ = int(phase0 if phase0 is not None else from_index or 0)
        self.start_ = _start_of(y_history, start)
        self.call_start_ = self.start_
        self.fit_warnings_: list[str] = []
        self._fit(y, self.phase0_, hint)
        return self

    def forecast_at(
        self,
        y: ArrayLike,
        origins: ArrayLike,
        steps: ArrayLike,
        *,
        phase0: int | None = None,
        start: pd.Timestamp | str | None = None,
    ) -> FloatArray:
        """Forecasts ``[O, K, S]`` of ``y[o + h - 1]`` from ``y[:o]`` for each origin and step
        (``y`` starts at ``phase0`` / ``start``, by default the fitted ones)."""
        self._check_fitted()
        mat, _ = as_matrix(y, "y")
        o = np.atleast_1d(np.asarray(origins))
        if o.ndim != 1 or o.size == 0 or not np.issubdtype(o.dtype, np.integer):
            raise InputError("origins", origins, "a non-empty list of integer indices")
        if o.min() < 1 or o.max() > mat.shape[0]:
            raise InputError("origins", (int(o.min()), int(o.max())), f"in [1, {mat.shape[0]}]")
        h = _check_steps(steps)
        mat = causal_fill(mat[: int(o.max())])
        p0 = self.phase0_ if phase0 is None else int(phase0)
        self.call_start_ = self.start_ if start is None else _start_of(None, start)
        out = self._forecast_at(mat, o.astype(np.int64), h, p0)
        return np.asarray(out, dtype=np.float64)

    def forecast(
        self, history: ArrayLike, horizon: int, *, phase0: int | None = None,
        start: pd.Timestamp | str | None = None,
    ) -> FloatArray:
        """The ``horizon`` steps after the end of ``history``: ``[horizon]`` or ``[horizon, S]``
        (``phase0`` / ``start``: default the fitted ones, or the index's for a time-indexed
        ``history``)."""
        if not isinstance(horizon, int | np.integer) or horizon < 1:
            raise InputError("horizon", horizon, "an integer >= 1")
        if phase0 is None:
            phase0 = _index_phase(history, "history", int(self.period))
        start = _start_of(history, start)
        mat, one_d = as_matrix(history, "history")
        out = self.forecast_at(mat, [mat.shape[0]], np.arange(1, horizon + 1), phase0=phase0,
                               start=start)[0]
        return out[:, 0] if one_d else out

    def predict(self, horizon: int) -> FloatArray:
        """The ``horizon`` steps after the end of the fitted history."""
        self._check_fitted()
        out = self.forecast(self.history_, horizon)
        return out[:, 0] if self.one_d_ else out

    def check_available(self) -> None:
        """Raise :class:`ForecasterUnavailable` if the model cannot run here (default: it can)."""
        return None

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters (attributes without a trailing underscore)."""
        return {k: v for k, v in vars(self).items() if not k.endswith("_")}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- to implement ------------------------------------------------------------------------
    def _fit(self, y: FloatArray, phase0: int, steps: tuple[int, ...] | None) -> None:
        """Learn parameters (default: nothing to learn)."""
        del y, phase0, steps

    @abstractmethod
    def _forecast_at(
        self, y: FloatArray, origins: IntArray, steps: IntArray, phase0: int
    ) -> FloatArray:
        """``[O, K, S]``; ``y`` is finite and has exactly ``max(origins)`` rows."""

    def _check_fitted(self) -> None:
        if not hasattr(self, "history_"):
            raise InputError(self.name or type(self).__name__, "not fitted", "call fit() first")

    @staticmethod
    def _targets(origins: IntArray, steps: IntArray) -> tuple[IntArray, IntArray]:
        """Target indices ``[O, K]`` and origins shaped ``[O, 1]``."""
        o = origins[:, None]
        return o + steps[None, :] - 1, o


# --------------------------------------------------------------------------------------------
# baselines
# --------------------------------------------------------------------------------------------


class Persistence(Forecaster):
    """Last observed value: ``ŷ[o + h - 1] = y[o - 1]`` for every step."""

    name = "persistence"

    def _forecast_at(
        self, y: FloatArray, origins: IntArray, steps: IntArray, phase0: int
    ) -> FloatArray:
        last = y[origins - 1]
        return np.repeat(last[:, None, :], steps.size, axis=1)


class SeasonalNaive(Forecaster):
    """Value one season earlier: ``ŷ[t] = y[t - L·m]`` with ``m = ceil(h / L)``.

    ``L`` is a day (``period``) or, with ``weekly=True``, a week.  Where that sample does not
    exist (less than one season of history) the last value is used.
    """

    name = "seasonal_naive"

    def __init__(self, period: int = 144, weekly: bool = False):
        super().__init__(period)
        self.weekly = weekly

    def _forecast_at(
        self, y: FloatArray, origins: IntArray, steps: IntArray, phase0: int
    ) -> FloatArray:
        lag = self.period * (7 if self.weekly else 1)
        t, o = self._targets(origins, steps)
        val = gather(y, season_index(t, o, lag, 0), o)
        last = y[origins - 1][:, None, :]
        return np.where(np.isfinite(val), val, last)


def _calendar(spec: Any) -> Any:
    """A :class:`~twinnet.engines.calendar.Calendar` from ``"italy"``, ``"none"`` (None) or a
    calendar object."""
    from twinnet.engines.calendar import Calendar

    if spec is None or spec == "none":
        return None
    if spec == "italy":
        return Calendar.italy()
    if isinstance(spec, Calendar):
        return spec
    raise InputError("calendar", spec, "'italy', 'none' or a Calendar")


def _day_types(cal: Any, start: pd.Timestamp | None, phase0: int, period: int,
               n_days: int) -> IntArray:
    """Day types of days 0 … n_days − 1 of a series (day 0: the day of its first sample): from
    the calendar and ``start`` where both are known, else weekdays from ``phase0``."""
    from twinnet.engines.calendar import HOLIDAY, SATURDAY, WORKDAY

    if cal is not None and start is not None:
        return np.asarray(cal.day_types(start.normalize(), n_days), dtype=np.int64)
    wd = (phase0 // period + np.arange(n_days)) % 7
    return np.where(wd == 6, HOLIDAY, np.where(wd == 5, SATURDAY, WORKDAY)).astype(np.int64)


class CalendarNaive(Forecaster):
    """The same time of day on the most recent observed day of the same *day type* (workday,
    Saturday, Sunday or public holiday, workday of a holiday season: see
    :mod:`twinnet.engines.calendar`), rescaled by the current level.

    A workday takes the same weekday of an earlier week if one of the last ``weeks`` weeks
    has that type (a Friday after a holiday Friday takes the Friday before it), else the most
    recent workday; a public holiday takes the last Sunday or holiday; a season workday the
    last season workday, else the last Saturday. The level ratio over the last ``recent``
    observations (default half a day: shorter windows follow the noise of quiet night hours)
    against their own day-type references fades with the step as ``decay^h``.
    Without ``start`` (plain arrays) or with ``calendar="none"`` the weekdays come from
    ``phase0`` and it is a level-adjusted weekly naive with Sundays and Saturdays matched.
    """

    name = "calendar_naive"
    #: where no day of the type exists: the types tried next (season → Saturday → holiday)
    FALLBACK: ClassVar[dict[int, tuple[int, ...]]] = {3: (1, 2), 2: (1,), 1: (2,), 0: (3, 1)}

    def __init__(self, period: int = 144, calendar: Any = "italy", weeks: int = 3,
                 recent: int | None = None, decay: float = 0.98):
        super().__init__(period)
        self.calendar = calendar
        self.weeks = weeks
        self.recent = recent
        self.decay = decay

    def _fit(self, y: FloatArray, phase0: int, steps: tuple[int, ...] | None) -> None:
        self.calendar_ = _calendar(self.calendar)

    def reference(self, t: IntArray, o: IntArray, types: IntArray, phase0: int) -> IntArray:
        """Index of the reference sample of each target ``t`` among the samples before its
        origin ``o`` (``-1`` where there is none)."""
        p = self.period
        day = (t + phase0 % p) // p
        want = types[day]
        ref = np.full(t.shape, -1, dtype=np.int64)
        back = np.arange(1, 7 * max(self.weeks, 5) + 1)
        first = np.array([self.FALLBACK[w][0] for w in range(4)])
        second = np.array([self.FALLBACK[w][1] if len(self.FALLBACK[w]) > 1 else -1
                           for w in range(4)])
        # passes, best first: the same weekday of a recent week (workdays), the same type,
        # the first and second fallback types, the same time a week earlier, any earlier day
        for rule in ("weekday", "type", "fallback1", "fallback2", "week", "any"):
            for j in back:
                cand = t - j * p
                free = (ref < 0) & (cand >= 0) & (cand < o)
                if not free.any():
                    continue
                kind = types[np.maximum(day - j, 0)]
                if rule == "weekday":
                    ok = (kind == want) & ((want != 0) | ((j % 7 == 0) & (j <= 7 * self.weeks)))
                elif rule == "type":
                    ok = kind == want
                elif rule == "fallback1":
                    ok = kind == first[want]
                elif rule == "fallback2":
                    ok = kind == second[want]
                else:
                    ok = np.full(t.shape, rule == "any" or j % 7 == 0)
                ref = np.where(free & ok, cand, ref)
        return ref

    def _forecast_at(
        self, y: FloatArray, origins: IntArray, steps: IntArray, phase0: int
    ) -> FloatArray:
        p = self.period
        t, o = self._targets(origins, steps)
        n_days = int((max(int(t.max()), int(o.max())) + phase0 % p) // p) + 2
        types = _day_types(getattr(self, "calendar_", None), self.call_start_, phase0, p,
                           n_days)
        base = gather(y, self.reference(t, o, types, phase0), o)  # [O, K, S]
        last = y[origins - 1][:, None, :]
        base = np.where(np.isfinite(base), base, last)
        r = max(1, int(self.recent if self.recent is not None else p // 2))
        tr = np.maximum(o - r + np.arange(r)[None, :], 0)  # [O, R]
        ratio = level_ratio(y[tr], gather(y, self.reference(tr, o, types, phase0), o))
        fade = (self.decay ** steps.astype(np.float64))[None, :, None]
        return np.asarray(base * (1.0 + fade * (ratio - 1.0)), dtype=np.float64)


class SeasonalNaiveWeekly(SeasonalNaive):
    """Seasonal naive with a weekly season (same time last week)."""

    name = "seasonal_naive_weekly"

    def __init__(self, period: int = 144, weekly: bool = True):
        super().__init__(period, weekly)


class LevelAdjustedSeasonal(Forecaster):
    """Seasonal profile of recent days/weeks, rescaled by the current level.

    Profile ``B(t)`` = ``day_weight`` × mean of the same time of day over the last ``n_days``
    days + (1 − ``day_weight``) × mean of the same time of week over the last ``n_weeks`` weeks
    (days only where no week exists).  The level ratio ``r`` = Σ y / Σ B over the last ``recent``
    observations; the forecast is ``B(t) · (1 + decay^h · (r − 1))`` (``mode="multiplicative"``)
    or ``B(t) + decay^h · mean(y − B)`` (``"additive"``).  ``day_weight`` and ``decay`` left at
    ``None`` are chosen by ``fit`` on a grid, by squared error of rolling forecasts over the last
    week of the fitted data (the data given to ``fit`` only).
    """

    name = "level_adjusted_seasonal"
    DAY_WEIGHTS: ClassVar[tuple[float, ...]] = (0.0, 0.25, 0.5, 0.75, 1.0)
    DECAYS: ClassVar[tuple[float, ...]] = (0.9, 0.95, 0.98, 0.99, 0.995, 1.0)

    def __init__(
        self,
        period: int = 144,
        n_days: int = 7,
        n_weeks: int = 2,
        recent: int = 6,
        day_weight: float | None = None,
        decay: float | None = None,
        mode: str = "multiplicative",
    ):
        super().__init__(period)
        self.n_days = n_days
        self.n_weeks = n_weeks
        self.recent = recent
        self.day_weight = day_weight
        self.decay = decay
        self.mode = mode

    def _components(
        self, y: FloatArray, t: IntArray, o: IntArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Daily profile, weekly profile and last value, each ``t.shape + [S]``."""
        p = self.period
        daily = _nanmean([gather(y, season_index(t, o, p, d), o) for d in range(self.n_days)])
        weekly = _nanmean([gather(y, season_index(t, o, 7 * p, w), o) for w in range(self.n_weeks)])
        last = y[np.broadcast_to(o, t.shape) - 1]
        return daily, weekly, last

    @staticmethod
    def _blend(daily: FloatArray, weekly: FloatArray, last: FloatArray, w: float) -> FloatArray:
        b = np.where(np.isfinite(weekly), w * daily + (1.0 - w) * weekly, daily)
        return np.where(np.isfinite(b), b, last)

    def _predict(
        self,
        parts_t: tuple[FloatArray, FloatArray, FloatArray],
        parts_r: tuple[FloatArray, FloatArray, FloatArray],
        y_recent: FloatArray,
        steps: IntArray,
        w: float,
        decay: float,
    ) -> FloatArray:
        base = self._blend(*parts_t, w)  # [O, K, S]
        base_r = self._blend(*parts_r, w)  # [O, R, S]
        fade = (decay ** steps.astype(np.float64))[None, :, None]
        if self.mode == "additive":
            shift = np.mean(y_recent - base_r, axis=1)[:, None, :]
            return base + fade * shift
        return base * (1.0 + fade * (level_ratio(y_recent, base_r) - 1.0))

    def _parts(
        self, y: FloatArray, origins: IntArray, steps: IntArray
    ) -> tuple[
        tuple[FloatArray, FloatArray, FloatArray],
        tuple[FloatArray, FloatArray, FloatArray],
        FloatArray,
    ]:
        t, o = self._targets(origins, steps)
        r = max(1, int(self.recent))
        j = o - np.arange(r, 0, -1)[None, :]  # [O, R], all < o
        y_recent = gather(y, j, o)
        y_recent = np.where(np.isfinite(y_recent), y_recent, y[origins - 1][:, None, :])
        return self._components(y, t, o), self._components(y, j, o), y_recent

    def _fit(self, y: FloatArray, phase0: int, steps: tuple[int, ...] | None) -> None:
        if self.mode not in ("multiplicative", "additive"):
            raise InputError("mode", self.mode, "'multiplicative' or 'additive'")
        weights = self.DAY_WEIGHTS if self.day_weight is None else (float(self.day_weight),)
        decays = self.DECAYS if self.decay is None else (float(self.decay),)
        self.day_weight_, self.decay_ = weights[len(weights) // 2], decays[len(decays) // 2]
        n, p = y.shape[0], self.period
        if len(weights) * len(decays) == 1 or n < 3 * p:
            return
        hs = np.asarray(steps if steps else (1, 10, 30, 60), dtype=np.int64)
        lo = max(2 * p, n - 7 * p)
        origins = np.arange(lo, n - int(hs.min()) + 1, 3, dtype=np.int64)
        if origins.size < 10:
            return
        pt, pr, y_recent = self._parts(y, origins, hs)
        t = origins[:, None] + hs[None, :] - 1
        ok = t < n
        truth = y[np.where(ok, t, 0)]
        best = np.inf
        for w in weights:
            for dcy in decays:
                pred = self._predict(pt, pr, y_recent, hs, w, dcy)
                err = np.where(ok[..., None], pred - truth, 0.0)
                # each step weighted by its own scale so that long horizons do not dominate
                sse = np.sum(np.sum(err**2, axis=(0, 2)) / np.maximum(ok.sum(axis=0), 1))
                if sse < best:
                    best, self.day_weight_, self.decay_ = float(sse), w, dcy

    def _forecast_at(
        self, y: FloatArray, origins: IntArray, steps: IntArray, phase0: int
    ) -> FloatArray:
        pt, pr, y_recent = self._parts(y, origins, steps)
        return self._predict(pt, pr, y_recent, steps, self.day_weight_, self.decay_)


# --------------------------------------------------------------------------------------------
# statistical models (statsmodels estimates the parameters; the filters run here, vectorised)
# --------------------------------------------------------------------------------------------


class HoltWinters(Forecaster):
    """Additive Holt–Winters (no trend, daily season), one parameter set per series.

    ``fit`` estimates the smoothing constants α, γ of each series with statsmodels'
    ``ExponentialSmoothing`` on its last ``fit_days`` days (heuristic initialisation).
    ``forecast_at`` runs the recursion (statsmodels' form: ``l_t = α(y_t − s_{t−m}) +
    (1−α) l_{t−1}``, ``s_t = γ(y_t − l_{t−1}) + (1−γ) s_{t−m}``) over ``y[:o]`` with those
    constants from a heuristic start on the first day, and forecasts ``l_o + s_{t−m·k}``.
    A series with fewer than two days to fit on, or whose fit fails, keeps α = 0.3, γ = 0.1;
    ``fit_status_`` says per series ``"fitted"`` or why not (also in ``fit_warnings_``).
    """

    name = "holt_winters"
    #: smoothing constants kept for a series whose fit fails (or has under two days)
    DEFAULT_ALPHA: ClassVar[float] = 0.3
    DEFAULT_GAMMA: ClassVar[float] = 0.1

    def __init__(self, period: int = 144, fit_days: int = 14):
        super().__init__(period)
        self.fit_days = fit_days

    def _fit(self, y: FloatArray, phase0: int, steps: tuple[int, ...] | None) -> None:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        p = self.period
        seg = y[-self.fit_days * p :] if self.fit_days else y
        alpha = np.full(y.shape[1], self.DEFAULT_ALPHA)
        gamma = np.full(y.shape[1], self.DEFAULT_GAMMA)
        short = f"{seg.shape[0]} steps to fit on, fewer than two days ({2 * p})"
        status = [short] * y.shape[1] if seg.shape[0] < 2 * p else ["fitted"] * y.shape[1]
        if seg.shape[0] >= 2 * p:
            for s in range(y.shape[1]):
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        res = ExponentialSmoothing(
                            seg[:, s],
                            trend=None,
                            seasonal="add",
                            seasonal_periods=p,
                            initialization_method="heuristic",
                        ).fit()
                    a = float(res.params["smoothing_level"])
                    g = float(res.params["smoothing_seasonal"])
                except Exception as exc:  # the estimator refused the series: defaults, recorded
                    status[s] = f"statsmodels fit failed ({type(exc).__name__}: {exc})"
                    continue
                if not (np.isfinite(a) and np.isfinite(g)):
                    status[s] = f"non-finite smoothing constants (alpha={a}, gamma={g})"
                    continue
                alpha[s], gamma[s] = a, g
        self.alpha_ = np.clip(alpha, 0.0, 1.0)
        self.gamma_ = np.clip(gamma, 0.0, 1.0)
        self.fit_status_ = status
        self.fit_warnings_ += _grouped(
            f"{self.name}: default alpha={self.DEFAULT_ALPHA}, gamma={self.DEFAULT_GAMMA} kept",
            status,
        )

    def _forecast_at(
        self, y: FloatArray, origins: IntArray, steps: IntArray, phase0: int
    ) -> FloatArray:
        p = self.period
        n = y.shape[0]
        if y.shape[1] != self.alpha_.size:
            raise InputError("y", y.shape, f"{self.alpha_.size} series as fitted")
        out = np.repeat(y[origins - 1][:, None, :], steps.size, axis=1)  # fallback: < 1 day
        if n <= p:
            return out
        a, g = self.alpha_, self.gamma_
        level = y[:p].mean(axis=0)
        season = y[:p] - level
        order = np.argsort(origins, kind="stable")
        k = int(np.searchsorted(origins[order], p + 1))  # origins with >= 1 day before them
        for i in range(p, n + 1):
            while k < order.size and origins[order[k]] == i:
                tgt = (i + steps - 1) % p
                out[order[k]] = level[None, :] + season[tgt]
                k += 1
            if i == n or k >= order.size:
                break
            slot = i % p
            prev = level
            level = a * (y[i] - season[slot]) + (1.0 - a) * prev
            season[slot] = g * (y[i] - prev) + (1.0 - g) * season[slot]
        return out


class ArimaDeseasonal(Forecaster):
    """ARIMA(p, 0, q) on the series minus its profile of the previous ``n_days`` days.

    A tractable seasonal ARIMA: ``x_t = y_t − mean_d y_{t−d·period}`` (d = 1 … ``n_days``) is
    modelled as ARMA around its mean, fitted per series by statsmodels' Hannan–Rissanen
    estimator on the last
    ``fit_days`` days.  ``forecast_at`` filters the innovations over ``y[:o]`` with the fixed
    coefficients and adds the profile of the target time back.  A series whose history is too
    short, whose fit fails or whose estimate is not stationary / invertible is forecast by the
    profile alone; ``fit_status_`` says per series ``"fitted"`` or why not (also in
    ``fit_warnings_``).
    """

    name = "sarima"

    def __init__(
        self,
        period: int = 144,
        n_days: int = 7,
        order: tuple[int, int, int] = (2, 0, 1),
        fit_days: int = 14,
    ):
        super().__init__(period)
        self.n_days = n_days
        self.order = order
        self.fit_days = fit_days

    def _deseason(self, y: FloatArray) -> FloatArray:
        """``x_j = y_j − mean_{d=1..n_days} y_{j−d·period}`` (NaN for the first day)."""
        p = self.period
        stack = []
        for d in range(1, self.n_days + 1):
            sh = np.full_like(y, np.nan)
            if d * p < y.shape[0]:
                sh[d * p :] = y[: -d * p]
            stack.append(sh)
        return y - _nanmean(stack)

    def _fit(self, y: FloatArray, phase0: int, steps: tuple[int, ...] | None) -> None:
        from statsmodels.tsa.arima.estimators.hannan_rissanen import hannan_rissanen

        p_ar, _, q_ma = self.order
        s_n = y.shape[1]
        self.mu_ = np.zeros(s_n)
        self.ar_ = np.zeros((s_n, p_ar))
        self.ma_ = np.zeros((s_n, q_ma))
        x = self._deseason(y)[self.period :]
        x = x[-self.fit_days * self.period :] if self.fit_days else x
        need = 4 * (p_ar + q_ma + 2)
        what = f"{self.name}: profile only (no ARMA term)"
        if x.shape[0] < need:
            self.fit_status_ = [
                f"{x.shape[0]} deseasonalised steps to fit on, fewer than {need}"
            ] * s_n
            self.fit_warnings_ += _grouped(what, self.fit_status_)
            return
        status = ["fitted"] * s_n
        for s in range(s_n):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    est, _ = hannan_rissanen(x[:, s], ar_order=p_ar, ma_order=q_ma, demean=True)
            except Exception as exc:  # the estimator refused the series: profile only, recorded
                status[s] = f"statsmodels fit failed ({type(exc).__name__}: {exc})"
                continue
            ar = np.asarray(est.ar_params, dtype=np.float64).reshape(p_ar)
            ma = np.asarray(est.ma_params, dtype=np.float64).reshape(q_ma)
            finite = bool(np.all(np.isfinite(np.r_[ar, ma])))
            stationary = np.all(np.abs(np.roots(np.r_[1.0, -ar])) < 1.0) if p_ar else True
            invertible = np.all(np.abs(np.roots(np.r_[1.0, ma])) < 1.0) if q_ma else True
            if not finite:
                status[s] = "non-finite ARMA coefficients"
            elif not stationary:
                status[s] = "estimated AR part not stationary"
            elif not invertible:
                status[s] = "estimated MA part not invertible"
            else:
                self.mu_[s], self.ar_[s], self.ma_[s] = float(np.mean(x[:, s])), ar, ma
        self.fit_status_ = status
        self.fit_warnings_ += _grouped(what, status)

    def _forecast_at(
        self, y: FloatArray, origins: IntArray, steps: IntArray, phase0: int
    ) -> FloatArray:
        if y.shape[1] != self.mu_.size:
            raise InputError("y", y.shape, f"{self.mu_.size} series as fitted")
        p_ar, q_ma = self.ar_.shape[1], self.ma_.shape[1]
        n, p = y.shape[0], self.period
        z = self._deseason(y) - self.mu_  # z_j depends on y[: j + 1] only
        z[: min(p, n)] = 0.0
        e = np.zeros_like(z)
        for j in range(p, n):  # innovations
            pred = np.zeros(z.shape[1])
            for i in range(1, p_ar + 1):
                pred += self.ar_[:, i - 1] * z[j - i]
            for i in range(1, q_ma + 1):
                pred += self.ma_[:, i - 1] * e[j - i]
            e[j] = z[j] - pred
        hmax = int(steps.max())
        n_o = origins.size
        # path[:, : lags] = observed z / e before the origin, then the recursive forecasts
        lags = max(p_ar, q_ma, 1)
        zi = origins[:, None] - np.arange(lags, 0, -1)[None, :]
        zpath = np.concatenate([z[np.maximum(zi, 0)], np.zeros((n_o, hmax, z.shape[1]))], axis=1)
        epath = np.concatenate([e[np.maximum(zi, 0)], np.zeros((n_o, hmax, z.shape[1]))], axis=1)
        zpath[:, :lags][zi < p] = 0.0
        epath[:, :lags][zi < p] = 0.0
        for h in range(hmax):
            c = lags + h
            acc = np.zeros((n_o, z.shape[1]))
            for i in range(1, p_ar + 1):
                acc += self.ar_[:, i - 1] * zpath[:, c - i]
            for i in range(1, q_ma + 1):
                acc += self.ma_[:, i - 1] * epath[:, c - i]
            zpath[:, c] = acc
        zf = zpath[:, lags + steps - 1]  # [O, K, S]
        t, o = self._targets(origins, steps)
        prof = _nanmean([gather(y, season_index(t, o, p, d), o) for d in range(self.n_days)])
        last = y[origins - 1][:, None, :]
        return np.where(np.isfinite(prof), prof + self.mu_ + zf, last)


# --------------------------------------------------------------------------------------------
# machine learning: pooled gradient boosting on lag features, direct multi-step
# --------------------------------------------------------------------------------------------


class GradientBoosting(Forecaster):
    """Gradient-boosted trees on lag features, one model per step, pooled over all series.

    Features at origin ``o`` for target ``t = o + h − 1`` of one series, scaled by the series'
    mean ``c`` over the last week: the last values and short means, the same time of day on
    each of the last 7 days and of the last 2 weeks, the level-adjusted seasonal forecast,
    the recent-to-yesterday ratio, ``log c`` and the time of day / day of week of the target.
    The trees predict the residual ``(y_t − LAS_t) / c`` of the level-adjusted seasonal forecast
    (a :class:`LevelAdjustedSeasonal` fitted on the same data).  Steps without their own model
    blend the two nearest trained steps (features always built for the requested step).
    """

    name = "gbm"
    DEFAULT_STEPS: ClassVar[tuple[int, ...]] = (1, 3, 10, 30, 60, 144)

    def __init__(
        self,
        period: int = 144,
        max_iter: int = 300,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 100,
        l2_regularization: float = 1.0,
        train_days: int | None = 21,
        train_stride: int = 3,
        random_state: int = 0,
        n_threads: int | None = 1,
        linear_base: bool = True,
        max_features: float = 0.5,
    ):
        super().__init__(period)
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.train_days = train_days
        self.train_stride = train_stride
        self.random_state = random_state
        self.n_threads = n_threads
        self.linear_base = linear_base
        self.max_features = max_features

    EWM_ALPHAS: ClassVar[tuple[float, ...]] = (0.5, 0.2, 0.05)

    def _stats(self, y: FloatArray) -> dict[str, FloatArray]:
        """Causal running statistics of ``y`` (row ``j`` depends on ``y[: j + 1]`` only)."""
        from scipy.signal import lfilter

        p = self.period
        cum = cumulative(y)
        prof = np.full_like(y, np.nan)
        if y.shape[0] > p:
            shifted = []
            for d in range(1, 8):
                sh = np.full_like(y, np.nan)
                if d * p < y.shape[0]:
                    sh[d * p :] = y[: -d * p]
                shifted.append(sh)
            prof = _nanmean(shifted)
        resid = np.where(np.isfinite(prof), y - prof, 0.0)  # deviation from the daily profile
        stats = {"cum": cum, "resid": resid}
        for a in self.EWM_ALPHAS:
            stats[f"ewm{a}"] = lfilter([a], [1.0, a - 1.0], resid, axis=0)
        stats["level"] = lfilter([0.3], [1.0, -0.7], y - y[:1], axis=0) + y[:1]
        stats["hw_level"], stats["hw_season"] = holt_winters_states(y, p, 0.35, 0.15)
        return stats

    def _features(
        self,
        y: FloatArray,
        stats: dict[str, FloatArray],
        origins: IntArray,
        h: int,
        phase0: int,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Feature matrix ``[O·S, F]``, LAS forecast ``[O, S]`` and scale ``[O, S]``."""
        p = self.period
        o = origins[:, None]
        t = o + h - 1
        cum = stats["cum"]
        c = np.maximum(window_mean(cum, origins, 7 * p), 1e-9)
        base = self.las_._forecast_at(y, origins, np.array([h], dtype=np.int64), phase0)[:, 0]
        lastk = gather(y, o - np.arange(1, 4)[None, :], o)  # [O, 3, S]
        daily = gather(y, season_index(t, o, p, 0) - p * np.arange(7)[None, :], o)
        weekly = gather(y, season_index(t, o, 7 * p, 0) - 7 * p * np.arange(2)[None, :], o)
        m6 = window_mean(cum, origins, 6)
        ago = np.maximum(origins - p, 0)
        m6_ago = (cum[ago] - cum[np.maximum(ago - 6, 0)]) / 6.0
        yest = gather(y, np.maximum(o - 1 - p, -1), o)[:, 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(origins[:, None] > p + 6, m6 / np.maximum(m6_ago, 1e-9), np.nan)
        prev = origins - 1  # the newest observation: every running statistic is read there
        hw_season = gather(stats["hw_season"], season_index(t, o, p, 0), o)[:, 0]
        phase = (phase0 + origins + h - 1) % (7 * p)
        tod = (phase % p) / p
        cal = np.stack(
            [np.sin(2 * np.pi * tod), np.cos(2 * np.pi * tod), (phase // p).astype(float)], axis=1
        )
        cols = [
            np.log(c),
            *(lastk[:, i] / c for i in range(3)),
            m6 / c,
            window_mean(cum, origins, 36) / c,
            window_mean(cum, origins, p) / c,
            *(daily[:, i] / c for i in range(7)),
            *(weekly[:, i] / c for i in range(2)),
            base / c,
            yest / c,
            ratio,
            stats["resid"][prev] / c,
            *(stats[f"ewm{a}"][prev] / c for a in self.EWM_ALPHAS),
            stats["level"][prev] / c,
            (stats["hw_level"][prev] + hw_season) / c,
        ]
        feats = np.stack(cols, axis=-1)  # [O, S, F1]
        calb = np.broadcast_to(cal[:, None, :], (*feats.shape[:2], cal.shape[1]))
        x = np.concatenate([feats, calb], axis=-1)
        return x.reshape(-1, x.shape[-1]), base, c

    def _fit(self, y: FloatArray, phase0: int, steps: tuple[int, ...] | None) -> None:
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from threadpoolctl import threadpool_limits

        p = self.period
        hs = sorted(set(steps)) if steps else list(self.DEFAULT_STEPS)
        self.las_ = LevelAdjustedSeasonal(period=p).fit(y, phase0=phase0, steps=hs)
        n = y.shape[0]
        lo = p + 1
        if self.train_days:
            lo = max(lo, n - self.train_days * p)
        self.models_: dict[int, Any] = {}
        stats = self._stats(y)
        for h in hs:
            origins = np.arange(lo, n - h + 1, max(1, self.train_stride), dtype=np.int64)
            if origins.size < 20:
                self.fit_warnings_.append(
                    f"{self.name}: step {h}: {origins.size} training origins (< 20), no trees; "
                    "the nearest trained step or the level-adjusted seasonal forecast is used"
                )
                continue
            x, base, c = self._features(y, stats, origins, h, phase0)
            # a feature never observed in training (e.g. two weeks back) is constant zero
            observed = np.isfinite(x).any(axis=0)
            x[:, ~observed] = 0.0
            target = ((y[origins + h - 1] - base) / c).reshape(-1)
            linear = None
            if self.linear_base:
                linear = make_pipeline(SimpleImputer(), Ridge(alpha=1.0)).fit(x, target)
                target = target - linear.predict(x)
            reg = self._regressor()
            with threadpool_limits(limits=self.n_threads, user_api="openmp"):
                self.models_[h] = (observed, linear, reg.fit(x, target))

    def _regressor(self) -> Any:
        """The model of the residual for one step (here: gradient-boosted trees)."""
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            max_features=self.max_features,
            early_stopping=False,
            random_state=self.random_state,
        )

    def _forecast_at(
        self, y: FloatArray, origins: IntArray, steps: IntArray, phase0: int
    ) -> FloatArray:
        from threadpoolctl import threadpool_limits

        out = np.empty((origins.size, steps.size, y.shape[1]))
        trained = np.array(sorted(self.models_), dtype=np.int64)
        stats = self._stats(y)
        for k, h in enumerate(steps.tolist()):
            x, base, c = self._features(y, stats, origins, h, phase0)
            if trained.size == 0:
                out[:, k] = base
                continue
            i = int(np.searchsorted(trained, h))
            if i < trained.size and trained[i] == h:
                mix = [(int(h), 1.0)]
            elif i == 0:
                mix = [(int(trained[0]), 1.0)]
            elif i == trained.size:
                mix = [(int(trained[-1]), 1.0)]
            else:
                lo, hi = int(trained[i - 1]), int(trained[i])
                w = (h - lo) / (hi - lo)
                mix = [(lo, 1.0 - w), (hi, w)]
            with threadpool_limits(limits=self.n_threads, user_api="openmp"):
                resid = sum(wt * self._residual(a, x) for a, wt in mix)
            pred = base + c * np.asarray(resid).reshape(base.shape)
            out[:, k] = np.maximum(pred, 0.0)
        return out

    def _residual(self, h: int, x: FloatArray) -> FloatArray:
        observed, linear, trees = self.models_[h]
        x = np.where(observed, x, 0.0)
        out = np.asarray(trees.predict(x), dtype=np.float64)
        return out if linear is None else out + linear.predict(x)


class MLPForecaster(GradientBoosting):
    """The multilayer-perceptron baseline LINKs compares against: a feed-forward network
    (scikit-learn's ``MLPRegressor``, ReLU, Adam, early stopping on a tenth of the training
    rows) on the same scaled lag features as :class:`GradientBoosting`, one network per step,
    pooled over all series (their scale normalised by each series' weekly mean), predicting the
    residual of the level-adjusted seasonal forecast. The L2 penalty (``alpha = 1``) keeps a
    network trained on a few weeks from adding more noise than it removes."""

    name = "mlp"

    def __init__(
        self,
        period: int = 144,
        hidden: tuple[int, ...] = (64, 32),
        alpha: float = 1.0,
        learning_rate_init: float = 1e-3,
        max_iter: int = 200,
        train_days: int | None = 21,
        train_stride: int = 3,
        random_state: int = 0,
        n_threads: int | None = 1,
    ):
        super().__init__(period, max_iter=max_iter, train_days=train_days,
                         train_stride=train_stride, random_state=random_state,
                         n_threads=n_threads, linear_base=False)
        self.hidden = tuple(hidden)
        self.alpha = alpha
        self.learning_rate_init = learning_rate_init

    def _fit(self, y: FloatArray, phase0: int, steps: tuple[int, ...] | None) -> None:
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            super()._fit(y, phase0, steps)
        for w in caught:  # anything else is passed on as it came
            if not issubclass(w.category, ConvergenceWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            self.fit_warnings_.append(f"{self.name}: training stopped at max_iter="
                                      f"{self.max_iter} before early stopping")

    def _regressor(self) -> Any:
        from sklearn.impute import SimpleImputer
        from sklearn.neural_network import MLPRegressor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(SimpleImputer(), StandardScaler(), MLPRegressor(
            hidden_layer_sizes=self.hidden, alpha=self.alpha,
            learning_rate_init=self.learning_rate_init, max_iter=self.max_iter,
            early_stopping=True, validation_fraction=0.1, n_iter_no_change=10,
            random_state=self.random_state))


class Ensemble(Forecaster):
    """Weighted mean of member forecasters (default: ``gbm`` and ``level_adjusted_seasonal``,
    equal weights); the members are copied before fitting."""

    name = "ensemble"

    def __init__(
        self,
        period: int = 144,
        members: Sequence[Forecaster] | None = None,
        weights: Sequence[float] | None = None,
    ):
        super().__init__(period)
        self.members = members
        self.weights = weights

    def _fit(self, y: FloatArray, phase0: int, steps: tuple[int, ...] | None) -> None:
        members = (
            list(self.members)
            if self.members
            else [
                GradientBoosting(period=self.period),
                LevelAdjustedSeasonal(period=self.period),
            ]
        )
        self.members_ = [copy.deepcopy(m).fit(y, phase0=phase0, steps=steps) for m in members]
        self.fit_warnings_ += [w for m in self.members_ for w in m.fit_warnings_]
        w = np.ones(len(members)) if self.weights is None else np.asarray(self.weights, float)
        if w.shape != (len(members),) or np.any(w < 0) or w.sum() <= 0:
            raise InputError("weights", self.weights, "one non-negative weight per member")
        self.weights_ = w / w.sum()

    def _forecast_at(
        self, y: FloatArray, origins: IntArray, steps: IntArray, phase0: int
    ) -> FloatArray:
        parts = [m._forecast_at(y, origins, steps, phase0) for m in self.members_]
        return np.asarray(sum(w * f for w, f in zip(self.weights_, parts, strict=True)))


class HorizonSelected(Forecaster):
    """Per forecast step, the members that forecast best on the most recent data.

    ``fit`` holds out the last ``validation_days`` of the history, fits every member on what
    comes before, forecasts the held-out days from rolling origins (every ``origin_stride``
    steps) and scores each member per step by its error relative to each series' mean (the
    NRMSE of LINKs eq. 9, pooled over series); per step it weights the members within
    ``within`` × the best one's mean squared error by their inverse error (often the best
    alone), and refits those members on the whole history. A step that was not validated uses
    the weights of the nearest validated step below it. With too short a history for a
    held-out window it keeps ``fallback`` and says so in ``fit_warnings_``. ``choice_`` maps
    each validated step to its members' weights; ``validation_nrmse_`` holds the scores.

    The choice is made strictly before the data it is then used on: in a rolling-origin
    evaluation every refit validates on the days just before its own origins.

    Days the ``calendar`` marks as breaking the week (a public holiday on a weekday, a workday
    of the Christmas season — see :meth:`~twinnet.engines.calendar.Calendar.special`) are too
    rare for the validation to learn; there, from step ``calendar_from`` on (default: an
    hour) the forecast is the level-adjusted :class:`CalendarNaive` (the same time on the last
    day of the same type), because every member leans on the same time a day or a week
    earlier, which was an ordinary day. (The days a week after such a day are left to the
    members: most lean on the day before as much as on the week before, and on the one such
    day of the shared Milan data, 8 November 2013, replacing them was worse.) It needs the
    series' start time (``fit(start=…)`` or a time index); ``calendar="none"`` turns it off.
    """

    name = "selected"
    MEMBERS: ClassVar[tuple[str, ...]] = (
        "gbm", "mlp", "level_adjusted_seasonal", "seasonal_naive", "seasonal_naive_weekly",
        "persistence")

    def __init__(
        self,
        period: int = 144,
        members: Sequence[str] | None = None,
        validation_days: float = 3.0,
        origin_stride: int = 6,
        fallback: str = "gbm",
        within: float = 1.5,
        calendar: Any = "italy",
        calendar_from: int | None = None,
    ):
        super().__init__(period)
        self.members = members
        self.validation_days = validation_days
        self.origin_stride = origin_stride
        self.fallback = fallback
        self.within = within
        self.calendar = calendar
        self.calendar_from = calendar_from

    @staticmethod
    def _classes() -> dict[str, type[Forecaster]]:
        return {c.name: c for c in (Persistence, SeasonalNaive, SeasonalNaiveWeekly,
                                    LevelAdjustedSeasonal, HoltWinters, ArimaDeseasonal,
                                    GradientBoosting, MLPForecaster, CalendarNaive)}

    def _make(self, name: str) -> Forecaster:
        classes = self._classes()
        if name not in classes:
            raise InputError("members", name, f"one of {sorted(classes)}")
        return classes[name](period=self.period)

    def _fit(self, y: FloatArray, phase0: int, steps: tuple[int, ...] | None) -> None:
        names = list(self.members or self.MEMBERS)
        for n in [*names, self.fallback]:
            self._make(n)  # an unknown name fails before any fitting
        hs = sorted(set(steps)) if steps else list(GradientBoosting.DEFAULT_STEPS)
        self.steps_ = np.asarray(hs, dtype=np.int64)
        t = y.shape[0]
        v = round(self.validation_days * self.period)
        self.validation_nrmse_: dict[str, list[float]] = {}
        if v < max(hs) + 1 or t - v < 2 * self.period:
            self.choice_ = {h: {self.fallback: 1.0} for h in hs}
            self.fit_warnings_.append(
                f"{self.name}: {t} steps of history are too few to hold out "
                f"{self.validation_days:g} days; {self.fallback} for every step")
        else:
            origins = np.arange(t - v, t, max(1, int(self.origin_stride)), dtype=np.int64)
            targets = origins[:, None] + self.steps_[None, :] - 1  # [O, K]
            ok = targets < t
            truth = y[np.minimum(targets, t - 1)]  # [O, K, S]
            scale = np.maximum(np.abs(y[: t - v]).mean(axis=0), 1e-12)  # [S]
            for n in names:
                m = self._make(n).fit(y[: t - v], phase0=phase0, steps=hs, start=self.start_)
                pred = m._forecast_at(y, origins, self.steps_, phase0)
                err = ((pred - truth) / scale) ** 2  # [O, K, S]
                mse = [float(err[ok[:, k], k].mean()) if ok[:, k].any() else np.inf
                       for k in range(len(hs))]
                self.validation_nrmse_[n] = [float(np.sqrt(e)) for e in mse]
            self.choice_ = {h: self._weights(k, names) for k, h in enumerate(hs)}
        self.members_: dict[str, Forecaster] = {}
        for n in sorted({n for w in self.choice_.values() for n in w}):
            m = self._make(n).fit(y, phase0=phase0, steps=hs, start=self.start_)
            self.fit_warnings_ += m.fit_warnings_
            self.members_[n] = m
        self.calendar_ = _calendar(self.calendar)
        self.calendar_member_ = (CalendarNaive(self.period, self.calendar_).fit(
            y, phase0=phase0, start=self.start_) if self.calendar_ is not None else None)

    def _weights(self, k: int, names: list[str]) -> dict[str, float]:
        """Weights of step ``k``: inverse validation MSE over the members within
        ``within`` × the best member's MSE (the best alone when no other is that close)."""
        mse = {n: self.validation_nrmse_[n][k] ** 2 for n in names}
        best = min(mse.values())
        keep = {n: 1.0 / max(e, 1e-12) for n, e in mse.items() if e <= self.within * best}
        total = sum(keep.values())
        return {n: w / total for n, w in keep.items()}

    def weights_for(self, h: int) -> dict[str, float]:
        """The members' weights at step ``h``."""
        below = self.steps_[self.steps_ <= h]
        key = int(below.max()) if below.size else int(self.steps_.min())
        return self.choice_[key]

    def _forecast_at(
        self, y: FloatArray, origins: IntArray, steps: IntArray, phase0: int
    ) -> FloatArray:
        out = np.zeros((origins.size, steps.size, y.shape[1]))
        w = np.array([[self.weights_for(int(h)).get(n, 0.0) for h in steps]
                      for n in self.members_])  # [M, K]
        for i, (_, m) in enumerate(self.members_.items()):
            k = np.flatnonzero(w[i] > 0)
            if k.size:
                m.call_start_ = self.call_start_
                out[:, k] += w[i, k][None, :, None] * m._forecast_at(y, origins, steps[k],
                                                                      phase0)
        cal = getattr(self, "calendar_member_", None)
        first = self.period // 24 if self.calendar_from is None else int(self.calendar_from)
        k = np.flatnonzero(steps >= first)
        if cal is not None and self.call_start_ is not None and k.size:
            t = origins[:, None] + steps[None, k] - 1
            day = (t + phase0 % self.period) // self.period
            special = self.calendar_.special(self.call_start_.normalize(), int(day.max()) + 1)
            hit = special[day]  # [O, K']
            if hit.any():
                cal.call_start_ = self.call_start_
                alt = cal._forecast_at(y, origins, steps[k], phase0)
                sub = out[:, k]
                out[:, k] = np.where(hit[..., None], alt, sub)
        return out


# --------------------------------------------------------------------------------------------
# foundation models: adapters that run only with local weights and the python package
# --------------------------------------------------------------------------------------------


class _FoundationAdapter(Forecaster):
    """Zero-shot foundation model on the last ``context_length`` values of each series.

    Needs local weights (``weights_path`` or the environment variable ``env_var``) and the
    python package; otherwise ``fit`` raises :class:`ForecasterUnavailable` with the reason —
    there is never a silent fallback to another model.  Nothing is downloaded.
    """

    env_var: ClassVar[str] = ""
    package: ClassVar[str] = ""

    def __init__(
        self, period: int = 144, weights_path: str | None = None, context_length: int = 512
    ):
        super().__init__(period)
        self.weights_path = weights_path
        self.context_length = context_length

    def unavailable_reason(self) -> str | None:
        """Why the model cannot run here, or ``None`` if weights and package are present."""
        path = self.weights_path or os.environ.get(self.env_var)
        if not path:
            return f"no local weights: set {self.env_var} or pass weights_path"
        if not Path(path).exists():
            return f"weights path {path!r} (from {self.env_var} or weights_path) does not exist"
        if importlib.util.find_spec(self.package) is None:
            return f"python package {self.package!r} is not installed"
        return None

    def check_available(self) -> None:
        reason = self.unavailable_reason()
        if reason:
            raise ForecasterUnavailable(self.name, reason)

    def _fit(self, y: FloatArray, phase0: int, steps: tuple[int, ...] | None) -> None:
        self.check_available()
        path = str(self.weights_path or os.environ[self.env_var])
        try:
            self.model_ = self._load(path)
        except ForecasterUnavailable:
            raise
        except Exception as exc:  # any loader failure is reported, never papered over
            raise ForecasterUnavailable(self.name, f"loading {path!r} failed: {exc}") from exc

    def _load(self, path: str) -> Any:
        raise NotImplementedError

    def _run(self, contexts: list[FloatArray], horizon: int) -> FloatArray:
        raise NotImplementedError

    def _forecast_at(
        self, y: FloatArray, origins: IntArray, steps: IntArray, phase0: int
    ) -> FloatArray:
        hmax = int(steps.max())
        ctx = [
            y[max(0, int(o) - self.context_length) : int(o), s]
            for o in origins
            for s in range(y.shape[1])
        ]
        out = np.empty((len(ctx), hmax))
        for lo in range(0, len(ctx), 256):
            out[lo : lo + 256] = self._run(ctx[lo : lo + 256], hmax)[:, :hmax]
        out = out.reshape(origins.size, y.shape[1], hmax)[:, :, steps - 1]
        return np.transpose(out, (0, 2, 1))


class TimesFMAdapter(_FoundationAdapter):
    """Google TimesFM (the LINKs §III-B predictor), zero-shot, from local weights.

    ``TWINNET_TIMESFM_PATH`` is a local checkpoint folder: TimesFM 2.5
    (``timesfm.TimesFM_2p5_200M_torch``) or, with the 1.x package, a 1.0/2.0 checkpoint.
    """

    name = "timesfm"
    env_var = "TWINNET_TIMESFM_PATH"
    package = "timesfm"

    def _load(self, path: str) -> Any:
        import timesfm

        ctx = int(np.ceil(self.context_length / 32) * 32)
        if hasattr(timesfm, "TimesFM_2p5_200M_torch"):
            model = timesfm.TimesFM_2p5_200M_torch.from_pretrained(path, local_files_only=True)
            model.compile(
                timesfm.ForecastConfig(max_context=ctx, max_horizon=256, normalize_inputs=True)
            )
            return ("v2", model)
        if hasattr(timesfm, "TimesFm"):
            model = timesfm.TimesFm(
                hparams=timesfm.TimesFmHparams(backend="cpu", horizon_len=128, context_len=ctx),
                checkpoint=timesfm.TimesFmCheckpoint(path=path),
            )
            return ("v1", model)
        raise ForecasterUnavailable(self.name, "unrecognised timesfm package API")

    def _run(self, contexts: list[FloatArray], horizon: int) -> FloatArray:
        kind, model = self.model_
        if kind == "v2":
            point, _ = model.forecast(horizon=horizon, inputs=contexts)
        else:
            point, _ = model.forecast(contexts, freq=[0] * len(contexts))
        out = np.asarray(point, dtype=np.float64)
        if out.shape[1] < horizon:
            raise ForecasterUnavailable(self.name, f"model horizon {out.shape[1]} < {horizon}")
        return out


class ChronosAdapter(_FoundationAdapter):
    """Amazon Chronos / Chronos-Bolt (``chronos-forecasting``), zero-shot median forecast.

    ``TWINNET_CHRONOS_PATH`` is a local model folder loaded by ``BaseChronosPipeline``.
    """

    name = "chronos"
    env_var = "TWINNET_CHRONOS_PATH"
    package = "chronos"

    def _load(self, path: str) -> Any:
        from chronos import BaseChronosPipeline

        return BaseChronosPipeline.from_pretrained(path, device_map="cpu")

    def _run(self, contexts: list[FloatArray], horizon: int) -> FloatArray:
        import torch

        tensors = [torch.tensor(c, dtype=torch.float32) for c in contexts]
        quantiles, _ = self.model_.predict_quantiles(
            tensors, prediction_length=horizon, quantile_levels=[0.5]
        )
        return np.asarray(quantiles[..., 0].cpu().numpy(), dtype=np.float64)
