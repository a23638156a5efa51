"""L1 radio physics: TR 38.901 large-scale propagation as pure, vectorised NumPy functions.

No scenario, no twin, no learning here — only physics, each function citing its clause:
path loss (:mod:`.pathloss`), LOS probability (:mod:`.los`), O2I penetration (:mod:`.o2i`),
antenna patterns (:mod:`.antenna`), spatially consistent fields (:mod:`.fields`), thermal noise
(:mod:`.noise`), received power / serving cell / SINR (:mod:`.sinr`), link abstraction
(:mod:`.link`), NR numerology (:mod:`.nr`), the air-to-ground channel of drone cells
(:mod:`.a2g`) and per-resource-block channel draws (:mod:`.channel`). :mod:`.fast` fuses the
chain into parallel kernels for the twin.
"""

from twinnet.radio.a2g import a2g_pathloss_db
from twinnet.radio.antenna import antenna_gain_dbi, array_factor_db, element_pattern_db
from twinnet.radio.link import LinkAbstraction, spectral_efficiency
from twinnet.radio.los import los_probability
from twinnet.radio.noise import thermal_noise_dbm, thermal_noise_w
from twinnet.radio.nr import n_prb
from twinnet.radio.o2i import o2i_loss_db
from twinnet.radio.pathloss import pathloss_db, shadow_fading_std_db
from twinnet.radio.sinr import dl_sinr_db, rsrp_dbm, serving_cell, ul_sinr_db

__all__ = [
    "LinkAbstraction",
    "a2g_pathloss_db",
    "antenna_gain_dbi",
    "array_factor_db",
    "dl_sinr_db",
    "element_pattern_db",
    "los_probability",
    "n_prb",
    "o2i_loss_db",
    "pathloss_db",
    "rsrp_dbm",
    "serving_cell",
    "shadow_fading_std_db",
    "spectral_efficiency",
    "thermal_noise_dbm",
    "thermal_noise_w",
    "ul_sinr_db",
]
