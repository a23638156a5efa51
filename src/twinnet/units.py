"""Unit conversions between decibels and linear quantities.

Every function takes and returns NumPy arrays (any shape; scalars give 0-d arrays) in the units
its name says: ``db`` for a power ratio in decibels, ``dbm`` for a power in dBm, ``w`` and ``mw``
for linear powers.

>>> float(db_to_lin(3.0))
1.9952623149688795
>>> float(dbm_to_w(30.0))
1.0
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

__all__ = ["db_to_lin", "dbm_to_mw", "dbm_to_w", "lin_to_db", "mw_to_dbm", "w_to_dbm"]


def db_to_lin(x_db: ArrayLike) -> FloatArray:
    """Linear ratio of ``x_db`` decibels: ``10^(x/10)``."""
    return 10.0 ** (np.asarray(x_db, dtype=np.float64) / 10.0)


def lin_to_db(x: ArrayLike) -> FloatArray:
    """Decibels of a linear power ratio ``x``: ``10 log10(x)`` (``x`` floored at 1e-300)."""
    return 10.0 * np.log10(np.maximum(np.asarray(x, dtype=np.float64), 1e-300))


def dbm_to_mw(p_dbm: ArrayLike) -> FloatArray:
    """Power [mW] of ``p_dbm`` [dBm]."""
    return db_to_lin(p_dbm)


def mw_to_dbm(p_mw: ArrayLike) -> FloatArray:
    """Power [dBm] of ``p_mw`` [mW]."""
    return lin_to_db(p_mw)


def dbm_to_w(p_dbm: ArrayLike) -> FloatArray:
    """Power [W] of ``p_dbm`` [dBm]: ``10^((p − 30)/10)``."""
    return db_to_lin(np.asarray(p_dbm, dtype=np.float64) - 30.0)


def w_to_dbm(p_w: ArrayLike) -> FloatArray:
    """Power [dBm] of ``p_w`` [W]."""
    return lin_to_db(p_w) + 30.0
