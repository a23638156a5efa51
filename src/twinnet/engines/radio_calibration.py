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
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from twinnet.engines.radio_models import ResidualCorrector
from twinnet.errors import InputError
from twinnet.twin.fidelity import predict_reports

if TYPE_CHECKING:
    from twinnet.twin.twin import DigitalTwin

__all__ = ["LINK_FEATURES", "RadioCalibration", "link_features"]

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
