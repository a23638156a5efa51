"""Twin fidelity: how far the twin's predictions are from what the network then reported.

Per layer — L1 RSRP error of the measurement reports, L2 PRB-utilisation error of the cell
counters and forecast error of the traffic engine — the monitor stores one value per
interval in the store's ``fidelity`` table and flags **drift** when the error passes an
absolute threshold or grows past ``drift_ratio`` × its reference level (the median error
after the layer's engine was last (re)trained). A drift flag records a
``retrain_recommended`` event naming the layer and its engine; the LLM engine acts on it.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

if TYPE_CHECKING:
    from twinnet.store.context import ContextStore
    from twinnet.twin.twin import DigitalTwin

__all__ = [
    "DEFAULT_THRESHOLDS",
    "FidelityMonitor",
    "FidelityPoint",
    "prb_error",
    "predict_reports",
    "rsrp_error",
]

#: (layer, metric) → absolute threshold; above it the twin is not trusted for that layer.
DEFAULT_THRESHOLDS: dict[tuple[str, str], float] = {
    ("L1", "rsrp_rmse_db"): 6.0,
    ("L2", "prb_util_mae"): 0.06,
    ("L2", "forecast_nrmse"): 0.5,
}
#: engine to retrain when a layer drifts
LAYER_ENGINES = {"L1": "radio_calibration", "L2": "traffic_forecast"}


def predict_reports(twin: DigitalTwin, reports: pd.DataFrame) -> NDArray[np.float64]:
    """The twin's RSRP [dBm] for each report row's ``(ue_id, cell_id)`` link (NaN when the
    twin has no such user or link). UE ids are ``ue<index>`` of the twin's user set; when a
    report gives the user's position (``x_m``, ``y_m``) away from where the twin has the user
    (a user who moved), the link is computed at the reported position."""
    ue = reports["ue_id"].astype(str).str.slice(2)
    u = pd.to_numeric(ue, errors="coerce").to_numpy()
    names = {n: i for i, n in enumerate(twin.network.cell_names)}
    c = reports["cell_id"].map(names).to_numpy(dtype=float)
    ok = np.isfinite(u) & np.isfinite(c) & (u >= 0) & (u < twin.users.n)
    out = np.full(len(reports), np.nan)
    if not ok.any():
        return out
    ui = u[ok].astype(np.int64)
    ci = c[ok].astype(np.int64)
    rsrp = twin.link_rsrp_dbm()
    cells = twin.slot_cells()
    match = cells[ui] == ci[:, None]
    has = match.any(axis=1)
    k = match.argmax(axis=1)
    vals = np.where(has, rsrp[ui, k], np.nan)
    moved = _moved(twin, reports, ok, ui)
    if moved.any():
        net = twin.network
        rx = reports["x_m"].to_numpy(dtype=float)[ok][moved]
        ry = reports["y_m"].to_numpy(dtype=float)[ok][moved]
        g = twin.link_gains_of(ui[moved], rx, ry).astype(np.float64)
        p_re = net.cell_re_power_dbm
        km = k[moved]
        with np.errstate(divide="ignore"):
            here = p_re[ci[moved]] + 10.0 * np.log10(g[np.arange(km.size), km])
        vals[moved] = np.where(has[moved] & net.cell_active[ci[moved]], here, vals[moved])
    out[np.flatnonzero(ok)] = vals
    return out


def _moved(twin: DigitalTwin, reports: pd.DataFrame, ok: NDArray[np.bool_],
           ui: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Report rows (of the ``ok`` ones) whose position is more than a metre from the twin's
    position of that user."""
    if "x_m" not in reports or "y_m" not in reports:
        return np.zeros(ui.size, dtype=bool)
    rx = reports["x_m"].to_numpy(dtype=float)[ok]
    ry = reports["y_m"].to_numpy(dtype=float)[ok]
    d = np.hypot(rx - twin.users.x_m[ui], ry - twin.users.y_m[ui])
    return np.asarray(np.isfinite(d) & (d > 1.0), dtype=bool)


def rsrp_error(twin: DigitalTwin, reports: pd.DataFrame) -> dict[str, float]:
    """RMSE, bias (twin − measured) and count of the twin's RSRP over measurement reports."""
    pred = predict_reports(twin, reports)
    err = pred - reports["rsrp_dbm"].to_numpy(dtype=float)
    err = err[np.isfinite(err)]
    if not err.size:
        return {"rmse_db": float("nan"), "bias_db": float("nan"), "n": 0}
    return {"rmse_db": float(np.sqrt(np.mean(err ** 2))), "bias_db": float(err.mean()),
            "n": int(err.size)}


def prb_error(predicted: pd.Series, kpis: pd.DataFrame) -> dict[str, float]:
    """MAE and peak-cell error of predicted PRB utilisation (indexed by cell id) against the
    reported counters of one interval."""
    rep = kpis.set_index("cell_id")["prb_util_dl"]
    both = pd.concat([predicted.rename("p"), rep.rename("m")], axis=1, join="inner").dropna()
    if not len(both):
        return {"mae": float("nan"), "peak_error": float("nan"), "n": 0}
    e = both.p - both.m
    return {"mae": float(e.abs().mean()), "peak_error": float(both.p.max() - both.m.max()),
            "n": len(both)}


@dataclass
class FidelityPoint:
    ts: pd.Timestamp
    layer: str
    metric: str
    value: float
    n: int
    threshold: float | None
    reference: float | None
    drift: bool


class FidelityMonitor:
    """Tracks per-layer prediction errors, stores them and flags drift.

    Parameters
    ----------
    store: where the series and retraining recommendations are written (optional).
    thresholds: ``(layer, metric) → absolute limit``; defaults :data:`DEFAULT_THRESHOLDS`.
    drift_ratio: drift when the mean of the last ``window`` values exceeds this × reference.
    window: number of recent intervals averaged for the drift test (no verdict before
        ``min(window, 3)`` values).
    reference_points: intervals after a (re)training that set the reference level.
    """

    def __init__(self, store: ContextStore | None = None,
                 thresholds: dict[tuple[str, str], float] | None = None,
                 drift_ratio: float = 2.0, window: int = 6, reference_points: int = 6):
        self.store = store
        self.thresholds = dict(DEFAULT_THRESHOLDS if thresholds is None else thresholds)
        self.drift_ratio = drift_ratio
        self.window = window
        self.reference_points = reference_points
        self._recent: dict[tuple[str, str], deque[float]] = defaultdict(
            lambda: deque(maxlen=window))
        self._ref_values: dict[tuple[str, str], list[float]] = defaultdict(list)
        self._flagged: set[str] = set()
        self.points: list[FidelityPoint] = []
        self.recommendations: list[dict[str, Any]] = []

    def reference(self, layer: str, metric: str) -> float | None:
        vals = self._ref_values[(layer, metric)]
        return float(np.median(vals)) if len(vals) >= self.reference_points else None

    def record(self, ts: Any, layer: str, metric: str, value: float, n: int) -> FidelityPoint:
        key = (layer, metric)
        ts = pd.Timestamp(ts)
        thr = self.thresholds.get(key)
        ref = self.reference(layer, metric)
        if ref is None and np.isfinite(value):
            self._ref_values[key].append(float(value))
        recent = self._recent[key]
        if np.isfinite(value):
            recent.append(float(value))
        level = float(np.mean(recent)) if recent else float("nan")
        settled = len(recent) >= min(self.window, 3)  # no verdict on one or two intervals
        drift = bool(np.isfinite(level) and settled and (
            (thr is not None and level > thr)
            or (ref is not None and len(recent) == self.window
                and level > self.drift_ratio * max(ref, 1e-9))))
        point = FidelityPoint(ts, layer, metric, float(value), int(n), thr, ref, drift)
        self.points.append(point)
        if self.store is not None:
            self.store.record_fidelity(ts, layer, metric, value, n, thr, drift)
        if drift and layer not in self._flagged:
            self._flagged.add(layer)
            rec = {"layer": layer, "engine": LAYER_ENGINES.get(layer, layer), "metric": metric,
                   "level": level, "threshold": thr, "reference": ref,
                   "reason": (f"{metric} {level:.3g} over the last {len(recent)} intervals "
                              + (f"> threshold {thr:g}" if thr is not None and level > thr
                                 else f"> {self.drift_ratio:g} × reference {ref:.3g}"))}
            self.recommendations.append(rec)
            if self.store is not None:
                self.store.log_event("retrain_recommended", str(rec["reason"]), layer=layer,
                                     severity="warning", payload=rec, ts=ts)
        return point

    def retrained(self, layer: str) -> None:
        """A layer's engine was (re)trained: clear its flag and re-learn its reference."""
        self._flagged.discard(layer)
        for key in list(self._ref_values):
            if key[0] == layer:
                self._ref_values[key] = []
                self._recent[key].clear()

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([p.__dict__ for p in self.points])

    def latest(self) -> dict[str, dict[str, Any]]:
        """Each layer's last value of each metric with its threshold and drift flag —
        ``{"L2": {"forecast_nrmse": 0.12, "threshold": 0.5, "drift": False}}`` — the form
        the context report's drift insights read."""
        last: dict[tuple[str, str], FidelityPoint] = {}
        for p in self.points:
            last[(p.layer, p.metric)] = p
        out: dict[str, dict[str, Any]] = {}
        for (layer, metric), p in last.items():
            entry = out.setdefault(layer, {})
            entry[metric] = round(p.value, 4)
            entry["threshold"] = p.threshold
            entry["drift"] = bool(entry.get("drift", False) or p.drift)
        return out


def fidelity_summary(store: ContextStore) -> dict[str, Any]:
    """Per-layer summary of the stored fidelity series, recommendations and models."""
    f = store.fidelity()
    metrics = []
    for (layer, metric), g in f.groupby(["layer", "metric"], sort=True):
        v = g["value"].astype(float)
        thr = g["threshold"].dropna()
        metrics.append({"layer": layer, "metric": metric, "intervals": len(g),
                        "first": float(v.iloc[0]), "last": float(v.iloc[-1]),
                        "mean": float(v.mean()), "min": float(v.min()), "max": float(v.max()),
                        "threshold": float(thr.iloc[-1]) if len(thr) else None,
                        "drift_intervals": int(g["drift"].sum())})
    ev = store.events("retrain_recommended")
    recs = [{"ts": str(r.ts), "layer": r.layer, "message": r.message} for r in ev.itertuples()]
    models = [{"model_id": r.model_id, "active": bool(r.active), "metrics": r.metrics}
              for r in store.models().itertuples()]
    return {"store": store.path, "metrics": metrics, "recommendations": recs, "models": models}
