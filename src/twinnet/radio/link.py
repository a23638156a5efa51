"""Link abstraction: SINR → spectral efficiency.

Two models:

* ``shannon``: the attenuated, capped Shannon bound of TR 36.942 Annex A.2,
  ``SE = 0`` for SINR < SINR_min, ``alpha log2(1 + SINR)`` up to ``SE_max``
  (defaults alpha = 0.6, SINR_min = -10 dB, SE_max = 7.4063 bit/s/Hz, the 256QAM CQI ceiling).
* ``cqi1`` / ``cqi2``: TS 38.214 4-bit CQI Tables 1 and 2 (Table 5.2.2.1-2 and 5.2.2.1-3). The
  UE reports the highest CQI whose SINR threshold is met; thresholds are the SINR at which an
  ideal code with an SNR gap ``gap_db`` reaches the CQI's efficiency,
  ``SINR_i = (2^{SE_i} - 1) · 10^{gap/10}`` (default gap 1.5 dB, typical of LDPC at 10 % BLER).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twinnet.errors import InputError

FloatArray = NDArray[np.float64]

__all__ = [
    "CQI_TABLE_1",
    "CQI_TABLE_2",
    "LinkAbstraction",
    "cqi_from_sinr",
    "cqi_sinr_thresholds_db",
    "spectral_efficiency",
    "spectral_efficiency_shannon",
]

#: TS 38.214 Table 5.2.2.1-2 (CQI table 1): (modulation order Qm, code rate × 1024, efficiency).
CQI_TABLE_1: tuple[tuple[int, int, float], ...] = (
    (2, 78, 0.1523), (2, 120, 0.2344), (2, 193, 0.3770), (2, 308, 0.6016), (2, 449, 0.8770),
    (2, 602, 1.1758), (4, 378, 1.4766), (4, 490, 1.9141), (4, 616, 2.4063), (6, 466, 2.7305),
    (6, 567, 3.3223), (6, 666, 3.9023), (6, 772, 4.5234), (6, 873, 5.1152), (6, 948, 5.5547),
)
#: TS 38.214 Table 5.2.2.1-3 (CQI table 2, up to 256QAM).
CQI_TABLE_2: tuple[tuple[int, int, float], ...] = (
    (2, 78, 0.1523), (2, 193, 0.3770), (2, 449, 0.8770), (4, 378, 1.4766), (4, 490, 1.9141),
    (4, 616, 2.4063), (6, 466, 2.7305), (6, 567, 3.3223), (6, 666, 3.9023), (6, 772, 4.5234),
    (6, 873, 5.1152), (8, 711, 5.5547), (8, 797, 6.2266), (8, 885, 6.9141), (8, 948, 7.4063),
)

_TABLES = {"cqi1": CQI_TABLE_1, "cqi2": CQI_TABLE_2}


def spectral_efficiency_shannon(
    sinr_db: ArrayLike, alpha: float = 0.6, sinr_min_db: float = -10.0, se_max: float = 7.4063
) -> FloatArray:
    """Attenuated, capped Shannon bound [bit/s/Hz] (TR 36.942 A.2)."""
    s = np.asarray(sinr_db, dtype=np.float64)
    se = np.minimum(alpha * np.log2(1.0 + 10.0 ** (s / 10.0)), se_max)
    return np.where(s < sinr_min_db, 0.0, se)


def cqi_sinr_thresholds_db(table: str = "cqi2", gap_db: float = 1.5) -> FloatArray:
    """SINR thresholds [dB] of the 15 CQIs of a 38.214 table (see module docstring)."""
    if table not in _TABLES:
        raise InputError("table", table, f"one of {sorted(_TABLES)}")
    eff = np.array([e for _, _, e in _TABLES[table]])
    return 10.0 * np.log10(2.0**eff - 1.0) + gap_db


def cqi_from_sinr(
    sinr_db: ArrayLike, table: str = "cqi2", gap_db: float = 1.5
) -> NDArray[np.int64]:
    """CQI index 0–15 (0 = out of range) the UE would report for ``sinr_db``."""
    thr = cqi_sinr_thresholds_db(table, gap_db)
    return np.searchsorted(thr, np.asarray(sinr_db, dtype=np.float64), side="right").astype(
        np.int64
    )


def spectral_efficiency(
    sinr_db: ArrayLike, model: str = "shannon", **kwargs: float
) -> FloatArray:
    """Spectral efficiency [bit/s/Hz] for ``model`` in ``{"shannon", "cqi1", "cqi2"}``."""
    if model == "shannon":
        return spectral_efficiency_shannon(sinr_db, **kwargs)
    if model in _TABLES:
        eff = np.concatenate([[0.0], [e for _, _, e in _TABLES[model]]])
        return eff[cqi_from_sinr(sinr_db, model, **kwargs)]
    raise InputError("link.model", model, "one of ['cqi1', 'cqi2', 'shannon']")


class LinkAbstraction:
    """SINR → spectral-efficiency lookup, tabulated for fast vectorised use in the load loop.

    ``LinkAbstraction("shannon")(sinr_db)`` equals :func:`spectral_efficiency` to within the
    0.01 dB tabulation step (exactly, for the CQI step functions).
    """

    def __init__(self, model: str = "shannon", step_db: float = 0.01, **kwargs: float):
        self.model = model
        self.kwargs = kwargs
        self.lo_db, self.hi_db, self.step_db = -30.0, 60.0, step_db
        grid = np.arange(self.lo_db, self.hi_db + step_db / 2, step_db)
        self.table_ = spectral_efficiency(grid, model, **kwargs).astype(np.float32)
        self.sinr_min_db = float(grid[np.argmax(self.table_ > 0)])
        positive = self.table_[self.table_ > 0]
        #: lowest positive spectral efficiency of the table [bit/s/Hz] (0 if none)
        self.se_floor = float(positive.min()) if positive.size else 0.0

    def __call__(self, sinr_db: ArrayLike) -> NDArray[np.float32]:
        s = np.asarray(sinr_db, dtype=np.float64)
        idx = np.clip(np.floor((s - self.lo_db) / self.step_db + 1e-9), 0, len(self.table_) - 1)
        return self.table_[idx.astype(np.int64)]
