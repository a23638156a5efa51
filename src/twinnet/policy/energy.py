"""Base-station power: the EARTH load-dependent power model with a sleep state.

The EARTH project's model (Auer et al. 2011, Table 2) gives the power a base station draws from
the mains as a linear function of its RF output, per transceiver chain (TRX)::

    P_in = N_TRX · (P_0 + Δ_p · P_out)      0 < P_out ≤ P_max
    P_in = N_TRX · P_sleep                   P_out = 0 (sleep)

with ``P_out = load · P_max`` (the RF power scales with the share of resources used). The
parameters per base-station type are the paper's:

=========  =====  =========  ========  =====  ===========
type       N_TRX  P_max [W]  P_0 [W]   Δ_p    P_sleep [W]
=========  =====  =========  ========  =====  ===========
macro      6      20.0       130.0     4.7    75.0
rrh        6      20.0       84.0      2.8    56.0
micro      2      6.3        56.0      2.6    39.0
pico       2      0.13       6.8       4.0    4.3
femto      2      0.05       4.8       8.0    2.9
=========  =====  =========  ========  =====  ===========

A macro site (three sectors × two antennas = 6 TRX at 20 W) therefore draws 780 W idle, 1,344 W
at full load and 450 W asleep. In TwinNet one cell is one sector on one carrier: it gets
``trx_per_cell`` chains (2 by default, the 2T of the table's macro sector) and its ``P_max``
per chain is the cell's configured transmit power divided among them; ``P_0`` and ``Δ_p`` are
the type's. A switched-off cell is asleep (``P_sleep`` per chain), not removed: the site still
holds it ready to wake.

Reference
---------
G. Auer et al., "How much energy is needed to run a wireless network?", IEEE Wireless
Communications 18(5), 2011, Table 2 (EARTH project, D2.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twinnet.errors import InputError

__all__ = ["EARTH", "PowerModel", "cell_power_w"]


@dataclass(frozen=True)
class PowerModel:
    """EARTH parameters of one base-station type (per TRX chain)."""

    n_trx: int
    p_max_w: float
    p0_w: float
    delta_p: float
    p_sleep_w: float

    def site_power_w(self, load: float) -> float:
        """Mains power of a whole base station of this type at ``load`` (0: asleep)."""
        if not 0.0 <= load <= 1.0:
            raise InputError("load", load, "a fraction in [0, 1]")
        if load == 0.0:
            return self.n_trx * self.p_sleep_w
        return self.n_trx * (self.p0_w + self.delta_p * load * self.p_max_w)


#: EARTH Table 2 (Auer et al. 2011)
EARTH: dict[str, PowerModel] = {
    "macro": PowerModel(6, 20.0, 130.0, 4.7, 75.0),
    "rrh": PowerModel(6, 20.0, 84.0, 2.8, 56.0),
    "micro": PowerModel(2, 6.3, 56.0, 2.6, 39.0),
    "pico": PowerModel(2, 0.13, 6.8, 4.0, 4.3),
    "femto": PowerModel(2, 0.05, 4.8, 8.0, 2.9),
}


def cell_power_w(tx_power_dbm: ArrayLike, utilization: ArrayLike, active: ArrayLike,
                 bs_type: str = "macro", trx_per_cell: int = 2) -> NDArray[np.float64]:
    """Mains power [W] of each cell: ``trx_per_cell`` chains of ``bs_type`` (see the module
    docstring), each at ``tx_power / trx_per_cell`` maximum RF power, loaded by the cell's PRB
    utilisation; a cell that is off sleeps."""
    if bs_type not in EARTH:
        raise InputError("bs_type", bs_type, f"one of {sorted(EARTH)}")
    if trx_per_cell < 1:
        raise InputError("trx_per_cell", trx_per_cell, "at least 1")
    m = EARTH[bs_type]
    p_tx_w = 10.0 ** ((np.asarray(tx_power_dbm, dtype=np.float64) - 30.0) / 10.0)
    util = np.clip(np.asarray(utilization, dtype=np.float64), 0.0, 1.0)
    on = np.asarray(active, dtype=bool)
    p_out = util * p_tx_w / trx_per_cell
    busy = trx_per_cell * (m.p0_w + m.delta_p * p_out)
    return np.where(on, busy, trx_per_cell * m.p_sleep_w)
