"""Fault / anomaly detectors on real cell KPIs: the twin's residual idea against simple baselines.

The living twin flags a KPI when it is far from what the twin *expects* in the same context.
:class:`ResidualDetector` carries that idea to measured KPI tables: for every KPI a regression
(boosted trees by default) predicts it from the row's context and the *other* KPIs of the row,
fitted on rows labelled normal only; the residual (measured − expected) is standardised by the
residual spread on those normal rows, and the anomaly score combines the standardised residuals
of all KPIs (mean of squares, or the largest absolute one). Two baselines use the same rows:

* :class:`TimeOfDayZScore` — a z-score per KPI against the mean/std of normal training rows of
  the same 15-minute slot (``slot=None``: one global mean/std per KPI);
* :class:`IsolationForestDetector` — scikit-learn's isolation forest on the same features as the
  residual detector (KPIs and context), fitted on normal training rows.

Every detector has the same small API: ``fit(frame) -> self``, ``score(frame)`` (higher = more
anomalous), ``predict(frame)`` (``score >= threshold_``). The decision threshold ``threshold_`` is
chosen at ``fit`` from the training frame only: ``threshold="f1"`` maximises F1 over the training
rows' *out-of-fold* scores (the detector is refitted ``cv`` times on the other training groups, so
normal training rows are not scored by a model that saw them — in-sample residuals are too small
and would set the threshold too low); a float ``q`` in (0, 1) takes the ``q`` quantile of the
normal training rows' out-of-fold scores (no labels needed).

Data sets (:func:`evaluate_mlmatt`, :func:`evaluate_sutd`):

* **ML-MATT** (:mod:`twinnet.datasets.mlmatt`, train file; the test file has no labels): 11 KPIs
  (PRB usage, mean/max throughput, mean/max users; ``log1p``), context = time of day (sin/cos of
  the 15-min slot). Rows whose KPI cells are not numbers (the Excel error ``#¡VALOR!``, blank in
  the shared copy: 89 rows, all in the three ``maxUE`` columns) are **dropped** and counted
  (``n_dropped``). Folds are by cell (``CellName``, cells dealt to folds at random with ``seed``):
  a test fold's cells are never seen in training, so no detector knows a test cell's own level.
* **SUTD 5G walk test** (:mod:`twinnet.datasets.sutd`): leave one of the 4 walk files out;
  label ``lab_anom``. KPIs: RSRP, RSRQ, SINR, PDSCH/PUSCH MCS, PDSCH/PUSCH PRBs and
  ``log1p(throughput in Mbit/s)``; rows with a missing KPI (109 rows, 1.2 %, 102 of them
  labelled anomalous: mostly black spots) are dropped and counted. Context = the serving PCI
  (indicators of PCI 16 and 17) and, per KPI, the *trailing* median of the same walk's
  previous :data:`SUTD_TRAIL` samples (~10 s at 2 Hz; causal,
  an online detector has it) — the "recent level" the twin would expect. The corridor tag is
  **not** used by any detector: ``lab_anom`` is almost the corridor tag itself (91 % of
  outer-corridor rows are anomalous, 7 % of inner ones), so a detector given it becomes a
  corridor classifier; the evaluation reports the tag as a reference rule instead. There is no
  time of day shared by the files, so the z-score baseline is global per KPI (from normal
  training rows), not per corridor (normal outer-corridor rows are rare and would make the
  outer corridor look normal).

The evaluations also report the trivial *all-positive* detector (flags every row: recall 1,
precision = anomaly rate) as the floor any useful detector must beat on F1.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingRegressor, IsolationForest
from sklearn.linear_model import Ridge
from sklearn.metrics import precision_recall_curve, roc_auc_score
from threadpoolctl import threadpool_limits

from twinnet.datasets import mlmatt, sutd
from twinnet.errors import InputError

__all__ = [
    "MLMATT_CONTEXT", "MLMATT_KPIS", "SUTD_CONTEXT", "SUTD_KPIS", "SUTD_TRAIL",
    "AnomalyDetector", "IsolationForestDetector", "ResidualDetector", "TimeOfDayZScore",
    "classification_metrics", "evaluate_mlmatt", "evaluate_split", "evaluate_sutd",
    "mlmatt_detectors", "prepare_mlmatt", "prepare_sutd", "sutd_detectors",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
Combine = Literal["meansq", "max"]

#: the ML-MATT KPI columns (all non-negative; the detectors take their ``log1p``)
MLMATT_KPIS = ("PRBUsageUL", "PRBUsageDL", "meanThr_DL", "meanThr_UL", "maxThr_DL",
               "maxThr_UL", "meanUE_DL", "meanUE_UL", "maxUE_DL", "maxUE_UL", "maxUE_UL+DL")
#: ML-MATT context columns added by :func:`prepare_mlmatt` (time of day on the unit circle)
MLMATT_CONTEXT = ("tod_sin", "tod_cos")
#: the SUTD KPI columns after :func:`prepare_sutd` (throughput as ``log1p`` of Mbit/s)
SUTD_KPIS = ("RSRP", "RSRQ", "SINR", "PDSCH_MCS", "PUSCH_MCS", "PDSCH PRBs", "PUSCH PRBs",
             "log_thr_DL")
#: samples in the trailing median of the same walk (the SUTD "recent level", ~10 s at 2 Hz)
SUTD_TRAIL = 20
#: SUTD context columns added by :func:`prepare_sutd`
SUTD_CONTEXT = ("pci_16", "pci_17", *(f"{k}_trail" for k in SUTD_KPIS))

_SLOTS_PER_DAY = 96


# --------------------------------------------------------------------------- input checks


def _check_frame(frame: Any, columns: Sequence[str], what: str) -> pd.DataFrame:
    """``frame`` as a DataFrame with ``columns`` present, finite and numeric (``InputError``
    naming the first offending column otherwise)."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError("frame", type(frame).__name__, f"a pandas DataFrame ({what})")
    if len(frame) == 0:
        raise InputError("frame", 0, f"at least one row ({what})")
    for col in columns:
        if col not in frame.columns:
            raise InputError(col, None, f"column required by {what} "
                                        f"(frame has {list(frame.columns)[:20]})")
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            first = frame[col].iloc[int(np.argmax(bad))]
            raise InputError(col, first, f"finite numbers in every row ({int(bad.sum())} rows "
                                         f"are not; {what}: drop or fill them first, e.g. with "
                                         "prepare_mlmatt / prepare_sutd)")
    return frame


def _labels(frame: pd.DataFrame, label: str, what: str) -> NDArray[np.int64]:
    """The 0/1 label column (``InputError`` naming it when missing or not 0/1)."""
    if label not in frame.columns:
        raise InputError(label, None, f"label column required by {what}")
    y = pd.to_numeric(frame[label], errors="coerce").to_numpy(dtype=float)
    ok = np.isin(y, (0.0, 1.0))
    if not ok.all():
        raise InputError(label, frame[label].iloc[int(np.argmin(ok))], "0 or 1 in every row")
    return y.astype(np.int64)


def _combine(z: FloatArray, how: str) -> FloatArray:
    """Combine standardised deviations (rows × KPIs) into one score per row."""
    if how == "meansq":
        return np.asarray(np.mean(z * z, axis=1), dtype=float)
    return np.asarray(np.max(np.abs(z), axis=1), dtype=float)


def _rows(frame: pd.DataFrame, mask: BoolArray) -> pd.DataFrame:
    """The rows of ``frame`` where ``mask`` is true (positional)."""
    return frame.iloc[np.flatnonzero(mask)]


def _f1_threshold(scores: FloatArray, y: NDArray[np.int64]) -> float:
    """The score threshold (``score >= t`` flags) maximising F1 on ``(scores, y)``."""
    precision, recall, thresholds = precision_recall_curve(y, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))])


# --------------------------------------------------------------------------- detectors


class AnomalyDetector:
    """Common part of the detectors: input checks, normal rows, out-of-fold threshold.

    Parameters
    ----------
    kpis
        KPI columns the detector watches.
    context
        Further numeric columns the model may use as inputs (not scored themselves).
    label
        0/1 column of the training frame (1 = anomalous). Models are fitted on rows with
        label 0 only; ``None``: every training row is taken as normal.
    groups
        Column whose values group training rows for the out-of-fold scores (e.g. the cell or
        the walk file); ``None``: rows are dealt to folds at random.
    log_columns
        Columns (KPIs or context) replaced by ``log1p`` before use (they must be >= 0).
    threshold
        ``"f1"`` (needs ``label``): maximise F1 over the training rows' out-of-fold scores;
        a float in (0, 1): that quantile of the normal training rows' out-of-fold scores.
    cv
        Folds for the out-of-fold training scores (>= 2), or 0: in-sample scores.
    combine
        ``"meansq"``: mean of squared standardised deviations across KPIs; ``"max"``: the
        largest absolute one (z-score and residual detectors).
    seed
        Seed of every random choice (fold dealing, model randomness).
    """

    name = "detector"

    def __init__(self, kpis: Sequence[str], *, context: Sequence[str] = (),
                 label: str | None = None, groups: str | None = None,
                 log_columns: Sequence[str] = (), threshold: str | float = "f1", cv: int = 3,
                 combine: Combine = "meansq", seed: int = 0):
        if isinstance(kpis, str) or len(kpis) == 0:
            raise InputError("kpis", kpis, "a non-empty sequence of column names")
        if isinstance(threshold, str):
            if threshold != "f1":
                raise InputError("threshold", threshold, "'f1' or a quantile in (0, 1)")
            if label is None:
                raise InputError("threshold", threshold,
                                 "a quantile in (0, 1) when there is no label column")
        elif not 0.0 < float(threshold) < 1.0:
            raise InputError("threshold", threshold, "'f1' or a quantile in (0, 1)")
        if cv != 0 and cv < 2:
            raise InputError("cv", cv, "0 (in-sample) or at least 2 folds")
        if combine not in ("meansq", "max"):
            raise InputError("combine", combine, "'meansq' or 'max'")
        self.kpis = tuple(kpis)
        self.context = tuple(context)
        self.label = label
        self.groups = groups
        self.log_columns = tuple(log_columns)
        self.threshold = threshold
        self.cv = cv
        self.combine: Combine = combine
        self.seed = seed
        self.threshold_: float | None = None
        self.n_normal_: int = 0
        self._state: Any = None

    # -- to be provided by each detector
    def _fit_state(self, X: FloatArray, frame: pd.DataFrame) -> Any:
        """Model state fitted on the normal rows' features ``X`` (kpis then context) and the
        same rows of the frame."""
        raise NotImplementedError

    def _score_state(self, state: Any, X: FloatArray, frame: pd.DataFrame) -> FloatArray:
        """Scores of rows ``X`` (the same rows of ``frame``) under ``state``."""
        raise NotImplementedError

    # -- shared machinery
    def _columns(self) -> tuple[str, ...]:
        return (*self.kpis, *self.context)

    def _features(self, frame: pd.DataFrame) -> FloatArray:
        _check_frame(frame, self._columns(), type(self).__name__)
        X = np.array(frame.loc[:, list(self._columns())].apply(pd.to_numeric), dtype=float)
        for col in self.log_columns:
            if col not in self._columns():
                raise InputError("log_columns", col, f"one of the columns {self._columns()}")
            j = self._columns().index(col)
            if (X[:, j] < 0).any():
                raise InputError(col, float(X[X[:, j] < 0, j][0]),
                                 "values >= 0 (it is in log_columns)")
            X[:, j] = np.log1p(X[:, j])
        return X

    def fit(self, frame: pd.DataFrame) -> Self:
        """Fit the model on ``frame``'s normal rows and choose ``threshold_`` on ``frame``.

        Parameters
        ----------
        frame
            Training rows: the KPI and context columns, the label column if ``label`` is set,
            the group column if ``groups`` is set.

        Returns
        -------
        Self
            The fitted detector.
        """
        X = self._features(frame)
        y = (_labels(frame, self.label, type(self).__name__) if self.label is not None
             else np.zeros(len(frame), dtype=np.int64))
        normal = y == 0
        if normal.sum() < 10:
            raise InputError("frame", int(normal.sum()), "at least 10 normal training rows")
        if self.threshold == "f1" and (y == 1).sum() == 0:
            raise InputError(self.label or "label", 0,
                             "at least one anomalous training row for threshold='f1'")
        oof = self._out_of_fold_scores(frame, X, y)
        if self.threshold == "f1":
            self.threshold_ = _f1_threshold(oof, y)
        else:
            self.threshold_ = float(np.quantile(oof[normal], float(self.threshold)))
        self._state = self._fit_state(X[normal], _rows(frame, normal))
        self.n_normal_ = int(normal.sum())
        return self

    def _out_of_fold_scores(self, frame: pd.DataFrame, X: FloatArray,
                            y: NDArray[np.int64]) -> FloatArray:
        """Every training row's score from a model fitted without its fold (``cv=0``: with)."""
        normal = y == 0
        if self.cv == 0:
            return self._score_state(self._fit_state(X[normal], _rows(frame, normal)), X, frame)
        rng = np.random.default_rng(self.seed)
        if self.groups is not None:
            if self.groups not in frame.columns:
                raise InputError(self.groups, None, "group column required (groups=...)")
            keys = frame[self.groups].astype(str).to_numpy()
            uniq = rng.permutation(np.unique(keys))
            k = min(self.cv, len(uniq))
            if k < 2:
                raise InputError(self.groups, len(uniq), "at least 2 groups for cv folds")
            fold_of = {g: i % k for i, g in enumerate(uniq)}
            fold = np.array([fold_of[g] for g in keys])
        else:
            k = self.cv
            fold = rng.permutation(np.arange(len(frame)) % k)
        oof = np.empty(len(frame))
        for f in range(k):
            held = fold == f
            fit_rows = ~held & normal
            if fit_rows.sum() < 10:
                raise InputError("frame", int(fit_rows.sum()),
                                 f"at least 10 normal rows outside cv fold {f}")
            state = self._fit_state(X[fit_rows], _rows(frame, fit_rows))
            oof[held] = self._score_state(state, X[held], _rows(frame, held))
        return oof

    def score(self, frame: pd.DataFrame) -> FloatArray:
        """Anomaly score of every row of ``frame`` (higher = more anomalous).

        Parameters
        ----------
        frame
            Rows with the KPI and context columns (labels, if any, are ignored).

        Returns
        -------
        numpy.ndarray
            One float per row.
        """
        if self._state is None:
            raise InputError("detector", type(self).__name__, "fitted first (call fit)")
        return self._score_state(self._state, self._features(frame), frame)

    def predict(self, frame: pd.DataFrame) -> BoolArray:
        """``True`` where the row is flagged (``score >= threshold_``)."""
        s = self.score(frame)
        assert self.threshold_ is not None
        return np.asarray(s >= self.threshold_, dtype=bool)


class ResidualDetector(AnomalyDetector):
    """The twin's idea: each KPI's residual against its expected value, standardised.

    For every KPI a regressor predicts it from the context columns and the other KPIs of the
    same row, fitted on normal training rows; the residual is divided by the residual standard
    deviation on those rows and the per-KPI standardised residuals are combined (``combine``).

    Parameters
    ----------
    kpis, context, label, groups, log_columns, threshold, cv, combine, seed
        See :class:`AnomalyDetector`.
    model
        ``"hgb"``: histogram gradient-boosted trees (default); ``"linear"``: ridge regression.
    max_iter
        Boosting iterations of ``"hgb"`` (early stopping applies above 10,000 rows).
    n_threads
        OpenMP threads of the boosted trees (``None``: scikit-learn's default, all cores). One
        thread is the default: the per-KPI models are small, and on a busy 2-core machine
        OpenMP's default made a fit ~7× slower.
    """

    name = "residual (twin)"

    def __init__(self, kpis: Sequence[str], *, model: Literal["hgb", "linear"] = "hgb",
                 max_iter: int = 100, n_threads: int | None = 1, **kwargs: Any):
        if model not in ("hgb", "linear"):
            raise InputError("model", model, "'hgb' or 'linear'")
        if max_iter < 1:
            raise InputError("max_iter", max_iter, "at least 1")
        super().__init__(kpis, **kwargs)
        self.model = model
        self.max_iter = max_iter
        self.n_threads = n_threads

    def _threads(self) -> Any:
        return (nullcontext() if self.n_threads is None
                else threadpool_limits(limits=self.n_threads, user_api="openmp"))

    def _regressor(self) -> Any:
        if self.model == "linear":
            return Ridge(alpha=1.0)
        return HistGradientBoostingRegressor(max_iter=self.max_iter, random_state=self.seed)

    def _inputs(self, X: FloatArray, j: int) -> FloatArray:
        return np.delete(X, j, axis=1)

    def _fit_state(self, X: FloatArray, frame: pd.DataFrame) -> Any:
        models, spread = [], []
        with self._threads():
            for j in range(len(self.kpis)):
                reg = self._regressor().fit(self._inputs(X, j), X[:, j])
                res = X[:, j] - reg.predict(self._inputs(X, j))
                models.append(reg)
                spread.append(max(float(np.std(res)), 1e-9))
        return models, np.asarray(spread)

    def _residuals(self, state: Any, X: FloatArray) -> FloatArray:
        models, spread = state
        R = np.empty((len(X), len(self.kpis)))
        with self._threads():
            for j, reg in enumerate(models):
                R[:, j] = (X[:, j] - reg.predict(self._inputs(X, j))) / spread[j]
        return R

    def _score_state(self, state: Any, X: FloatArray, frame: pd.DataFrame) -> FloatArray:
        return _combine(self._residuals(state, X), self.combine)

    def residuals(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Standardised residual of every KPI (rows × KPIs): which KPI is off, and which way."""
        if self._state is None:
            raise InputError("detector", type(self).__name__, "fitted first (call fit)")
        return pd.DataFrame(self._residuals(self._state, self._features(frame)),
                            columns=list(self.kpis), index=frame.index)


class TimeOfDayZScore(AnomalyDetector):
    """Per-KPI z-score against normal training rows of the same time-of-day slot.

    Parameters
    ----------
    kpis, label, groups, log_columns, threshold, cv, combine, seed
        See :class:`AnomalyDetector` (``context`` is not used).
    slot
        Integer column of the time-of-day slot (e.g. 0…95 for 15 minutes); ``None``: one global
        mean and standard deviation per KPI.
    min_rows
        Slots with fewer normal training rows use the global mean/std.
    """

    name = "time-of-day z-score"

    def __init__(self, kpis: Sequence[str], *, slot: str | None = "slot", min_rows: int = 5,
                 **kwargs: Any):
        if kwargs.get("context"):
            raise InputError("context", kwargs["context"], "empty: the z-score uses KPIs only")
        super().__init__(kpis, **kwargs)
        self.slot = slot
        self.min_rows = min_rows

    def _features(self, frame: pd.DataFrame) -> FloatArray:
        if self.slot is not None:
            _check_frame(frame, (self.slot,), type(self).__name__)
        return super()._features(frame)

    def _slots(self, frame: pd.DataFrame) -> NDArray[np.int64]:
        if self.slot is None:
            return np.zeros(len(frame), dtype=np.int64)
        return np.asarray(pd.to_numeric(frame[self.slot]).to_numpy(dtype=float), dtype=np.int64)

    def _fit_state(self, X: FloatArray, frame: pd.DataFrame) -> Any:
        slots = self._slots(frame)
        mu0, sd0 = X.mean(axis=0), np.maximum(X.std(axis=0), 1e-9)
        table: dict[int, tuple[FloatArray, FloatArray]] = {}
        for s in np.unique(slots):
            rows = X[slots == s]
            if len(rows) >= self.min_rows:
                table[int(s)] = (rows.mean(axis=0), np.maximum(rows.std(axis=0), 1e-9))
        return mu0, sd0, table

    def _z(self, state: Any, X: FloatArray, slots: NDArray[np.int64]) -> FloatArray:
        mu0, sd0, table = state
        mu = np.tile(mu0, (len(X), 1))
        sd = np.tile(sd0, (len(X), 1))
        for s, (m, d) in table.items():
            rows = slots == s
            mu[rows], sd[rows] = m, d
        return (X - mu) / sd

    def _score_state(self, state: Any, X: FloatArray, frame: pd.DataFrame) -> FloatArray:
        return _combine(self._z(state, X, self._slots(frame)), self.combine)


class IsolationForestDetector(AnomalyDetector):
    """scikit-learn's isolation forest on the KPIs and context, fitted on normal rows.

    Parameters
    ----------
    kpis, context, label, groups, log_columns, threshold, cv, seed
        See :class:`AnomalyDetector` (``combine`` is not used).
    n_estimators
        Trees of the forest.
    """

    name = "isolation forest"

    def __init__(self, kpis: Sequence[str], *, n_estimators: int = 200, **kwargs: Any):
        if n_estimators < 1:
            raise InputError("n_estimators", n_estimators, "at least 1")
        super().__init__(kpis, **kwargs)
        self.n_estimators = n_estimators

    def _fit_state(self, X: FloatArray, frame: pd.DataFrame) -> Any:
        return IsolationForest(n_estimators=self.n_estimators, random_state=self.seed).fit(X)

    def _score_state(self, state: Any, X: FloatArray, frame: pd.DataFrame) -> FloatArray:
        return np.asarray(-state.score_samples(X), dtype=float)


# --------------------------------------------------------------------------- data preparation


def prepare_mlmatt(raw: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """ML-MATT rows ready for the detectors, and how many rows were dropped.

    The KPI columns are coerced to numbers; a row with any cell that is not a number (the Excel
    error string ``#¡VALOR!``, or the blank it became in some copies) is dropped. ``Time``
    (``H:MM``) becomes ``slot`` (0…95, 15-minute slots) and ``tod_sin`` / ``tod_cos``;
    ``Unusual`` (if present) becomes an integer 0/1 column.

    Parameters
    ----------
    raw
        The export as :func:`twinnet.datasets.mlmatt.load` reads it (text or numbers).

    Returns
    -------
    (pandas.DataFrame, int)
        The clean rows (index reset) and the number of rows dropped.
    """
    for col in ("Time", "CellName", *MLMATT_KPIS):
        if not isinstance(raw, pd.DataFrame):
            raise InputError("raw", type(raw).__name__, "a pandas DataFrame")
        if col not in raw.columns:
            raise InputError(col, None, "column required in the ML-MATT format")
    out = pd.DataFrame({"CellName": raw["CellName"].astype(str)})
    for col in MLMATT_KPIS:
        out[col] = pd.to_numeric(raw[col], errors="coerce")
    parts = raw["Time"].astype(str).str.strip().str.extract(r"^(\d{1,2}):(\d{2})$")
    hh = pd.to_numeric(parts[0], errors="coerce")
    mm = pd.to_numeric(parts[1], errors="coerce")
    bad_time = hh.isna() | mm.isna() | (hh > 23) | (mm > 59)
    if bad_time.any():
        raise InputError("Time", raw["Time"][bad_time].iloc[0], "a time of day 'H:MM'")
    out["slot"] = (hh * 4 + mm // 15).astype(np.int64)
    angle = 2 * np.pi * out["slot"].to_numpy(dtype=float) / _SLOTS_PER_DAY
    out["tod_sin"], out["tod_cos"] = np.sin(angle), np.cos(angle)
    if "Unusual" in raw.columns:
        out["Unusual"] = pd.to_numeric(raw["Unusual"], errors="coerce")
    keep = out.notna().all(axis=1)
    out = out[keep].reset_index(drop=True)
    if "Unusual" in out.columns:
        out["Unusual"] = _labels(out, "Unusual", "prepare_mlmatt")
    if out.empty:
        raise InputError("raw", len(raw), "at least one row with numeric KPIs")
    return out, int((~keep).sum())


def prepare_sutd(raw: pd.DataFrame, trail: int = SUTD_TRAIL) -> tuple[pd.DataFrame, int]:
    """SUTD walk-test rows ready for the detectors, and how many rows were dropped.

    Rows with a missing KPI are dropped; ``log_thr_DL`` = ``log1p(throughput_DL / 1e6)``;
    ``pci_16`` / ``pci_17`` indicate the serving PCI; ``<kpi>_trail`` is the median of the
    previous ``trail`` kept samples of the same walk (``scenario``) in time order (the first
    row of a walk takes its own value).

    Parameters
    ----------
    raw
        One or more walks as :func:`twinnet.datasets.sutd.load` reads them.
    trail
        Samples in the trailing median (>= 1).

    Returns
    -------
    (pandas.DataFrame, int)
        The clean rows (index reset) and the number of rows dropped.
    """
    if not isinstance(raw, pd.DataFrame):
        raise InputError("raw", type(raw).__name__, "a pandas DataFrame")
    if trail < 1:
        raise InputError("trail", trail, "at least 1 sample")
    need = ("scenario", "Time", "PCI", "throughput_DL", *(k for k in SUTD_KPIS
                                                           if k != "log_thr_DL"))
    for col in need:
        if col not in raw.columns:
            raise InputError(col, None, "column required in the SUTD walk-test format")
    out = raw.copy()
    out["log_thr_DL"] = np.log1p(pd.to_numeric(out["throughput_DL"], errors="coerce")
                                 .clip(lower=0) / 1e6)
    for col in SUTD_KPIS:
        out[col] = pd.to_numeric(out[col], errors="coerce")
    keep = out[list(SUTD_KPIS)].notna().all(axis=1)
    out = out[keep].sort_values(["scenario", "Time"], kind="stable", ignore_index=True)
    if out.empty:
        raise InputError("raw", len(raw), "at least one row without missing KPIs")
    pci = pd.to_numeric(out["PCI"], errors="coerce")
    out["pci_16"], out["pci_17"] = (pci == 16).astype(float), (pci == 17).astype(float)
    walk = out.groupby("scenario", sort=False)
    for col in SUTD_KPIS:
        prev = walk[col].transform(lambda c: c.shift(1).rolling(trail, min_periods=1).median())
        out[f"{col}_trail"] = prev.fillna(out[col])
    if "lab_anom" in out.columns:
        out["lab_anom"] = _labels(out, "lab_anom", "prepare_sutd")
    return out, int((~keep).sum())


# --------------------------------------------------------------------------- evaluation


def _data_folder(data_dir: str | Path | None, subdir: str) -> Path | None:
    """``data_dir`` as the data set's own folder: the shared data folder (holding
    ``kpi/<set>``) is accepted too."""
    if data_dir is None:
        return None
    nested = Path(data_dir) / subdir
    return nested if nested.is_dir() else Path(data_dir)


def classification_metrics(y: NDArray[np.int64], flagged: BoolArray,
                           scores: FloatArray | None = None) -> dict[str, float]:
    """Precision, recall, F1, ``flag_rate`` (fraction flagged), ``positive_rate``, ``n`` and
    (with ``scores``) ROC-AUC of flags ``flagged`` against 0/1 labels ``y``."""
    y = np.asarray(y).astype(bool)
    flagged = np.asarray(flagged, dtype=bool)
    tp = float(np.sum(y & flagged))
    precision = float(tp / flagged.sum()) if flagged.any() else 0.0
    recall = float(tp / y.sum()) if y.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    out = {"precision": precision, "recall": recall, "f1": f1,
           "flag_rate": float(flagged.mean()), "positive_rate": float(y.mean()), "n": len(y)}
    if scores is not None:
        out["roc_auc"] = (float(roc_auc_score(y, scores)) if 0 < y.sum() < len(y)
                          else float("nan"))
    return out


def evaluate_split(detectors: Mapping[str, AnomalyDetector], train: pd.DataFrame,
                   test: pd.DataFrame, label: str) -> dict[str, dict[str, Any]]:
    """Fit each detector on ``train`` (threshold included) and score ``test``.

    ``test``'s label column is read only to compute the metrics, after every detector has been
    fitted and has scored the fold.

    Returns
    -------
    dict
        Per detector: the metrics of :func:`classification_metrics` plus ``threshold`` and the
        raw ``scores`` / ``flagged`` arrays of the test rows.
    """
    out: dict[str, dict[str, Any]] = {}
    for name, det in detectors.items():
        det.fit(train)
        scores = det.score(test)
        assert det.threshold_ is not None
        out[name] = {"threshold": det.threshold_, "scores": scores,
                     "flagged": scores >= det.threshold_}
    y = _labels(test, label, "evaluate_split")
    for row in out.values():
        row.update(classification_metrics(y, row["flagged"], row["scores"]))
    return out


_METRICS = ("precision", "recall", "f1", "roc_auc", "flag_rate")


def _summarise(folds: list[dict[str, dict[str, Any]]], ys: list[NDArray[np.int64]],
               names: Sequence[str]) -> dict[str, Any]:
    """Per detector: per-fold metrics, their mean, and the metrics of all folds pooled."""
    y_all = np.concatenate(ys)
    out: dict[str, Any] = {}
    for name in names:
        rows = [f[name] for f in folds]
        per_fold = [{k: (float(r[k]) if k in r else None)
                     for k in (*_METRICS, "threshold", "n")} for r in rows]
        mean = {k: float(np.nanmean([float(r[k]) for r in rows])) for k in _METRICS if k in rows[0]}
        pooled = classification_metrics(
            y_all, np.concatenate([r["flagged"] for r in rows]),
            np.concatenate([r["scores"] for r in rows]) if "scores" in rows[0] else None)
        out[name] = {"folds": per_fold, "mean": mean,
                     "pooled": {k: v for k, v in pooled.items() if k != "n"}}
    return out


def _reference(y: NDArray[np.int64], flagged: BoolArray) -> dict[str, Any]:
    return {"flagged": np.asarray(flagged, dtype=bool), **classification_metrics(y, flagged)}


def mlmatt_detectors(seed: int = 0, cv: int = 3) -> dict[str, AnomalyDetector]:
    """The three detectors as configured for ML-MATT (label ``Unusual``, groups ``CellName``)."""
    common: dict[str, Any] = {"label": "Unusual", "groups": "CellName", "cv": cv, "seed": seed,
                              "log_columns": MLMATT_KPIS}
    return {
        ResidualDetector.name: ResidualDetector(MLMATT_KPIS, context=MLMATT_CONTEXT, **common),
        TimeOfDayZScore.name: TimeOfDayZScore(MLMATT_KPIS, slot="slot", **common),
        IsolationForestDetector.name: IsolationForestDetector(MLMATT_KPIS,
                                                              context=MLMATT_CONTEXT, **common),
    }


def sutd_detectors(seed: int = 0, cv: int = 3) -> dict[str, AnomalyDetector]:
    """The three detectors as configured for SUTD (label ``lab_anom``, groups ``scenario``;
    the z-score is global per KPI: the walks share no time of day)."""
    common: dict[str, Any] = {"label": "lab_anom", "groups": "scenario", "cv": cv, "seed": seed}
    return {
        ResidualDetector.name: ResidualDetector(SUTD_KPIS, context=SUTD_CONTEXT, **common),
        "global z-score": TimeOfDayZScore(SUTD_KPIS, slot=None, **common),
        IsolationForestDetector.name: IsolationForestDetector(SUTD_KPIS, context=SUTD_CONTEXT,
                                                              **common),
    }


def _run_folds(frame: pd.DataFrame, fold: NDArray[np.int64], label: str,
               make: Callable[[], dict[str, AnomalyDetector]],
               references: Mapping[str, Callable[[pd.DataFrame], BoolArray]],
               ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    folds: list[dict[str, dict[str, Any]]] = []
    ys: list[NDArray[np.int64]] = []
    info: list[dict[str, Any]] = []
    names: list[str] = []
    for f in np.unique(fold):
        train = frame[fold != f].reset_index(drop=True)
        test = frame[fold == f].reset_index(drop=True)
        dets = make()
        res = evaluate_split(dets, train, test, label)
        y = _labels(test, label, "evaluation")
        for ref, rule in references.items():
            res[ref] = _reference(y, rule(test))
        names = list(res)
        folds.append(res)
        ys.append(y)
        info.append({"fold": int(f), "n_train": len(train), "n_test": len(test),
                     "positive_rate": float(y.mean())})
    return _summarise(folds, ys, names), info


def evaluate_mlmatt(data_dir: str | Path | None = None, folds: int = 5, seed: int = 0,
                    cv: int = 3) -> dict[str, Any]:
    """Detectors on ML-MATT's labelled file, folds by cell (test cells never seen in training).

    Parameters
    ----------
    data_dir
        Folder of the two CSV files, or the shared data folder holding
        ``kpi/ml_matt_lte_cell_kpi`` (default: :func:`twinnet.datasets.shared_data_dir`).
    folds
        Cell folds (2…33); cells are dealt to folds at random with ``seed``.
    seed
        Seed of the fold dealing and of the detectors.
    cv
        Inner folds (by cell, training cells only) for the out-of-fold threshold.

    Returns
    -------
    dict
        ``detectors``: per detector (and the ``all positive`` reference) ``folds``, ``mean``
        and ``pooled`` precision / recall / F1 / ROC-AUC / ``flag_rate``; ``folds_info``,
        ``n_rows``, ``n_dropped``, ``positive_rate``, ``wall_s``.
    """
    t0 = time.perf_counter()
    frame, dropped = prepare_mlmatt(
        mlmatt.load("train", _data_folder(data_dir, "kpi/ml_matt_lte_cell_kpi")))
    cells = np.unique(frame["CellName"])
    if not 2 <= folds <= len(cells):
        raise InputError("folds", folds, f"between 2 and {len(cells)} (the cells)")
    order = np.random.default_rng(seed).permutation(cells)
    fold_of = {c: i % folds for i, c in enumerate(order)}
    fold = frame["CellName"].map(fold_of).to_numpy(dtype=np.int64)
    summary, info = _run_folds(
        frame, fold, "Unusual", lambda: mlmatt_detectors(seed, cv),
        {"all positive": lambda t: np.ones(len(t), dtype=bool)})
    for row, f in zip(info, np.unique(fold), strict=True):
        row["cells"] = sorted(str(c) for c in cells if fold_of[c] == f)
    return {"dataset": "ML-MATT LTE cell KPIs (train file)", "split": f"{folds} folds by cell",
            "label": "Unusual", "n_rows": len(frame), "n_dropped": dropped,
            "positive_rate": float(frame["Unusual"].mean()), "folds": info,
            "detectors": summary, "wall_s": round(time.perf_counter() - t0, 1)}


def evaluate_sutd(data_dir: str | Path | None = None, seed: int = 0,
                  cv: int = 3) -> dict[str, Any]:
    """Detectors on the SUTD walk test, leaving one of the 4 walk files out in turn.

    Parameters
    ----------
    data_dir
        Folder of the four CSV files, or the shared data folder holding
        ``kpi/sutd_5g_walktest_2022`` (default: :func:`twinnet.datasets.shared_data_dir`).
    seed
        Seed of the detectors.
    cv
        Inner folds (by walk file, training files only) for the out-of-fold threshold.

    Returns
    -------
    dict
        As :func:`evaluate_mlmatt`; the references are ``all positive`` and the ``corridor tag``
        rule (flag the outer corridor: how close ``lab_anom`` is to the tag).
    """
    t0 = time.perf_counter()
    folder = _data_folder(data_dir, "kpi/sutd_5g_walktest_2022")
    raw = pd.concat([sutd.load(s, folder) for s in sutd.SCENARIOS], ignore_index=True)
    frame, dropped = prepare_sutd(raw)
    dropped_anomalous = int(raw["lab_anom"].sum() - frame["lab_anom"].sum())
    names = list(sutd.SCENARIOS)
    fold = frame["scenario"].map({s: i for i, s in enumerate(names)}).to_numpy(dtype=np.int64)
    summary, info = _run_folds(
        frame, fold, "lab_anom", lambda: sutd_detectors(seed, cv),
        {"all positive": lambda t: np.ones(len(t), dtype=bool),
         "corridor tag (reference)": lambda t: t["Corridor_tag"].to_numpy() == 1})
    for row in info:
        row["scenario"] = names[row["fold"]]
    return {"dataset": "SUTD 5G walk test (4 files)", "split": "leave one file out",
            "label": "lab_anom", "n_rows": len(frame), "n_dropped": dropped,
            "n_dropped_anomalous": dropped_anomalous,
            "positive_rate": float(frame["lab_anom"].mean()), "folds": info,
            "detectors": summary, "wall_s": round(time.perf_counter() - t0, 1)}
