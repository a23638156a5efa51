"""L1 engine of the twin: radio calibration from the network's measurement reports.

:class:`RadioCalibration` learns the gap between measured RSRP and the twin's 38.901 link budget
— the "adjustment factor" of LLM-DTNet's L1 twin — as a function of link geometry (position,
distance, angles off boresight and off the tilt) and the cell, then plugs into the twin as a
:class:`~twinnet.twin.twin.LinkAdjustment` so every link of every user is corrected.

References
----------
* M. Haider, I. Ahmed, Z. Hassan, K. Hasan and H. V. Poor, "LLM-Integrated Digital Twins for
  Hierarchical Resource Allocation in 6G Networks" (LLM-DTNet).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from twinnet.engines.base import LayerEngine, Prediction, reject_context
from twinnet.engines.radio_models import ResidualCorrector
from twinnet.errors import InputError
from twinnet.twin.fidelity import predict_reports

if TYPE_CHECKING:
    from twinnet.store.context import ContextStore
    from twinnet.twin.twin import DigitalTwin

__all__ = ["LINK_FEATURES", "RadioCalibration", "ResidualKriging", "link_features"]

#: link features the L1 engine learns from
LINK_FEATURES = ("x_m", "y_m", "log10_distance_m", "azimuth_off_deg", "elevation_off_deg",
                 "cell")


def link_features(twin: DigitalTwin, users: NDArray[np.int64] | None,
                  cells: NDArray[np.int32], x_m: NDArray[np.float64] | None = None,
                  y_m: NDArray[np.float64] | None = None) -> pd.DataFrame:
    """Feature table of user–cell links (one row per element of ``cells``, flattened); with
    ``x_m``/``y_m`` (per row of ``users``) the links are taken at those positions."""
    g = twin.link_geometry(cells, users, x_m, y_m)
    return pd.DataFrame({
        "x_m": g["x_m"].ravel(), "y_m": g["y_m"].ravel(),
        "log10_distance_m": np.log10(g["distance_m"]).ravel(),
        "azimuth_off_deg": g["azimuth_off_deg"].ravel(),
        "elevation_off_deg": g["elevation_off_deg"].ravel(),
        "cell": np.asarray(cells).ravel().astype(np.int64),
    })


class ResidualKriging:
    """What the smooth correction leaves, interpolated from where it was measured: per cell,
    the mean residual of the reports at each position, spread to nearby positions with
    weights ``exp(-d / length_m)`` (``k`` nearest within ``3·length_m``) and shrunk by a
    nugget — regression kriging in its simplest form. At a measured position the prediction
    is close to the measurements' mean; far from any measurement it is 0 (the smooth model
    alone). ``length_m`` is chosen on users held out of the fit, never on the positions it is
    then used at."""

    def __init__(self, lengths_m: Sequence[float] = (5.0, 15.0, 40.0), k: int = 8,
                 nugget: float = 0.25):
        self.lengths_m = tuple(lengths_m)
        self.k = k
        self.nugget = nugget
        self.length_m = float(self.lengths_m[0])

    @staticmethod
    def _points(cell: NDArray[np.int64], x: NDArray[np.float64], y: NDArray[np.float64],
                res: NDArray[np.float64]) -> dict[int, tuple[Any, NDArray[np.float64]]]:
        df = pd.DataFrame({"c": cell, "x": np.round(x, 1), "y": np.round(y, 1), "r": res})
        mean = df.groupby(["c", "x", "y"], sort=False)["r"].mean().reset_index()
        out: dict[int, tuple[Any, NDArray[np.float64]]] = {}
        for c, g in mean.groupby("c", sort=False):
            out[int(c)] = (cKDTree(g[["x", "y"]].to_numpy()), g["r"].to_numpy())
        return out

    def _apply(self, pts: dict[int, tuple[Any, NDArray[np.float64]]], length_m: float,
               cell: NDArray[np.int64], x: NDArray[np.float64], y: NDArray[np.float64]
               ) -> NDArray[np.float64]:
        out = np.zeros(len(cell))
        for c, (tree, res) in pts.items():
            m = np.flatnonzero(cell == c)
            if m.size == 0:
                continue
            k = min(self.k, len(res))
            d, i = tree.query(np.column_stack([x[m], y[m]]), k=k,
                              distance_upper_bound=3.0 * length_m)
            d = d.reshape(m.size, k)
            i = i.reshape(m.size, k)
            ok = np.isfinite(d)
            w = np.where(ok, np.exp(-np.where(ok, d, 0.0) / length_m), 0.0)
            r = res[np.where(ok, i, 0)]
            out[m] = (w * r).sum(axis=1) / (w.sum(axis=1) + self.nugget)
        return out

    def fit(self, cell: NDArray[np.int64], x: NDArray[np.float64], y: NDArray[np.float64],
            res: NDArray[np.float64], user: NDArray[Any]) -> ResidualKriging:
        """Learn from residuals ``res`` of the smooth model; ``user`` groups the reports of
        one user (held out together when choosing the length)."""
        ids = np.unique(user)
        held = np.isin(user, np.random.default_rng(0).choice(ids, max(1, ids.size // 4),
                                                             replace=False))
        if held.all() or not held.any():
            self.length_m = float(self.lengths_m[0])
        else:
            pts = self._points(cell[~held], x[~held], y[~held], res[~held])
            best = np.inf
            for length in self.lengths_m:
                e = res[held] - self._apply(pts, length, cell[held], x[held], y[held])
                score = float(np.mean(e ** 2))
                if score < best:
                    best, self.length_m = score, float(length)
        self.points_ = self._points(cell, x, y, res)
        return self

    def predict(self, cell: NDArray[np.int64], x: NDArray[np.float64],
                y: NDArray[np.float64]) -> NDArray[np.float64]:
        return self._apply(self.points_, self.length_m, np.asarray(cell), np.asarray(x),
                           np.asarray(y))


class RadioCalibration(LayerEngine):
    """L1 engine: learned correction ``measured − modelled`` RSRP [dB] per link.

    A :class:`~twinnet.engines.base.LayerEngine` whose context is the twin the reports were
    measured against: ``fit(reports, twin=…)`` / ``fit_store(store, twin=…, source=…)`` (the
    store's ``ue_reports``), ``predict(reports, twin=…)`` → the corrected RSRP [dBm] of each
    report's link with its std [dB]. Attached to a twin (:meth:`attach`) it is the twin's
    :class:`~twinnet.twin.twin.LinkAdjustment` (:meth:`extra_loss_db`, ``token``).

    Parameters
    ----------
    max_reports: most recent reports used for training (older ones are dropped).
    min_reports: fewer reports than this is an error (nothing to learn from).
    corrector_params: overrides of the :class:`~twinnet.engines.radio_models.ResidualCorrector`
        parameters (:data:`CORRECTOR_DEFAULTS` suit dense measurement reports: small leaves,
        two folds for the uncertainty model).
    kriging: add :class:`ResidualKriging` of what the smooth correction leaves (where the
        network measured, the twin follows the measurements; elsewhere the smooth model).
    """

    layer = "L1"
    name = "radio_calibration"
    #: the :class:`ResidualCorrector` parameters used unless ``corrector_params`` overrides them
    CORRECTOR_DEFAULTS: ClassVar[dict[str, Any]] = {
        "min_samples_leaf": 40, "max_leaf_nodes": 31, "learning_rate": 0.1, "max_iter": 300,
        "n_std_folds": 2}

    def __init__(self, max_reports: int = 40_000, min_reports: int = 200,
                 corrector_params: Mapping[str, Any] | None = None, kriging: bool = True):
        self.max_reports = max_reports
        self.min_reports = min_reports
        self.corrector_params = corrector_params
        self.kriging = kriging
        self.token = "l1:unfitted"

    def is_fitted(self) -> bool:
        return hasattr(self, "model_")

    @staticmethod
    def _twin(twin: DigitalTwin | None) -> DigitalTwin:
        if twin is None:
            raise InputError("twin", None, "the DigitalTwin the reports were measured against")
        return twin

    @staticmethod
    def _reports(reports: Any) -> pd.DataFrame:
        if not isinstance(reports, pd.DataFrame):
            raise InputError("reports", type(reports).__name__,
                             "a DataFrame of measurement reports (ue_id, cell_id, rsrp_dbm)")
        missing = [c for c in ("ue_id", "cell_id", "rsrp_dbm") if c not in reports.columns]
        if missing:
            raise InputError(missing[0], None, "column required in measurement reports")
        return reports

    @staticmethod
    def _uncorrected(twin: DigitalTwin, reports: pd.DataFrame) -> NDArray[np.float64]:
        """The twin's RSRP of each report's link without any link adjustment."""
        saved = twin.link_adjustment
        twin.link_adjustment = None
        try:
            return predict_reports(twin, reports)
        finally:
            twin.link_adjustment = saved

    @staticmethod
    def _link_table(twin: DigitalTwin, reports: pd.DataFrame) -> pd.DataFrame:
        """:func:`link_features` of the reports' links (all rows must match twin links)."""
        users = reports["ue_id"].astype(str).str.slice(2).astype(np.int64).to_numpy()
        names = {n: i for i, n in enumerate(twin.network.cell_names)}
        cells = reports["cell_id"].map(names).to_numpy(dtype=np.int32)
        if "x_m" in reports and "y_m" in reports:  # where the user was when it reported
            x = reports["x_m"].to_numpy(dtype=float)
            y = reports["y_m"].to_numpy(dtype=float)
            if np.isfinite(x).all() and np.isfinite(y).all():
                return link_features(twin, users, cells, x, y)
        return link_features(twin, users, cells)

    def fit(self, data: pd.DataFrame, twin: DigitalTwin | None = None,
            **context: Any) -> Self:
        """Learn from measurement reports (``ue_id, cell_id, rsrp_dbm`` rows) against the
        *uncorrected* ``twin``."""
        reject_context(self, context)
        twin = self._twin(twin)
        rep = self._reports(data).tail(self.max_reports)
        pred = self._uncorrected(twin, rep)
        ok = np.isfinite(pred) & np.isfinite(rep["rsrp_dbm"].to_numpy(dtype=float))
        if ok.sum() < self.min_reports:
            raise InputError("reports", int(ok.sum()),
                             f"at least {self.min_reports} reports matching twin links")
        rep = rep[ok]
        resid = rep["rsrp_dbm"].to_numpy(dtype=float) - pred[ok]
        x = self._link_table(twin, rep)
        self.model_ = ResidualCorrector(features=list(LINK_FEATURES), categorical=["cell"],
                                        **{**self.CORRECTOR_DEFAULTS,
                                           **(self.corrector_params or {})})
        self.model_.fit(x, resid)
        self.kriging_: ResidualKriging | None = None
        if self.kriging:
            left = resid - self.model_.predict(x)
            self.kriging_ = ResidualKriging().fit(
                x["cell"].to_numpy(), x["x_m"].to_numpy(), x["y_m"].to_numpy(), left,
                rep["ue_id"].to_numpy())
        self.n_reports_ = len(rep)
        self.bias_before_db_ = float(-resid.mean())
        self.rmse_before_db_ = float(np.sqrt(np.mean(resid ** 2)))
        self.token = "l1:" + uuid.uuid4().hex
        return self

    def training_data(self, store: ContextStore, *, source: str | None = None,
                      start: Any = None, end: Any = None) -> pd.DataFrame:
        """The store's measurement reports (``ue_reports``) of ``source`` in ``[start, end)``."""
        return store.ue_reports(start, end, source=source)

    def predict(self, data: pd.DataFrame, twin: DigitalTwin | None = None,
                **context: Any) -> Prediction[NDArray[np.float64]]:
        """Corrected RSRP [dBm] of each report's ``(ue_id, cell_id)`` link in ``twin`` and its
        std [dB] (NaN for reports without such a link)."""
        reject_context(self, context)
        self.check_fitted()
        twin = self._twin(twin)
        rep = self._reports(data)
        mean = self._uncorrected(twin, rep)
        std = np.full(len(rep), np.nan)
        ok = np.isfinite(mean)
        if ok.any():
            x = self._link_table(twin, rep[ok])
            mean[ok] += self._correction(x)
            std[ok] = self.model_.predict_std(x)
        return Prediction(mean, std)

    def extra_loss_db(self, twin: DigitalTwin, slot_cell: NDArray[np.int32]
                      ) -> NDArray[np.float64]:
        """The :class:`LinkAdjustment` hook: minus the predicted RSRP correction."""
        self.check_fitted()
        cells = np.broadcast_to(slot_cell, (twin.users.n, slot_cell.shape[1]))
        valid = cells >= 0
        out = np.zeros(cells.shape)
        u, k = np.nonzero(valid)  # predict only real links (a partial update has few)
        if u.size:
            x = link_features(twin, u.astype(np.int64), cells[u, k].astype(np.int32))
            out[u, k] = -self._correction(x)
        return out

    def _correction(self, x: pd.DataFrame) -> NDArray[np.float64]:
        """Predicted ``measured − modelled`` RSRP [dB] of links (:func:`link_features`)."""
        out = self.model_.predict(x)
        kr = getattr(self, "kriging_", None)  # engines pickled before kriging have none
        if kr is not None:
            out = out + kr.predict(x["cell"].to_numpy(), x["x_m"].to_numpy(),
                                   x["y_m"].to_numpy())
        return np.asarray(out, dtype=np.float64)

    def attach(self, twin: DigitalTwin) -> None:
        """Make this engine the twin's link adjustment."""
        self.check_fitted()
        twin.link_adjustment = self

    def _metrics(self) -> dict[str, Any]:
        kr = getattr(self, "kriging_", None)
        return {"n_reports": self.n_reports_, "rmse_before_db": self.rmse_before_db_,
                "bias_before_db": self.bias_before_db_,
                "oof_rmse_db": self.model_.oof_rmse_db_,
                "kriging_length_m": None if kr is None else kr.length_m}
