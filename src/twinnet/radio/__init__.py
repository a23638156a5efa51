"""L1 radio twin: TR 38.901 large-scale physics as pure, vectorised NumPy functions.

Path loss (:mod:`.pathloss`), LOS probability (:mod:`.los`), O2I penetration (:mod:`.o2i`),
antenna patterns (:mod:`.antenna`), spatially consistent fields (:mod:`.fields`), received
power / SINR / noise (:mod:`.sinr`), link abstraction (:mod:`.link`) and NR numerology
(:mod:`.nr`). :mod:`.fast` fuses the chain into parallel kernels for the twin.
"""

from twinnet.radio.antenna import antenna_gain_dbi, array_factor_db, element_pattern_db
from twinnet.radio.link import LinkAbstraction, spectral_efficiency
from twinnet.radio.los import los_probability
from twinnet.radio.nr import n_prb
from twinnet.radio.o2i import o2i_loss_db
from twinnet.radio.pathloss import pathloss_db, shadow_fading_std_db
from twinnet.radio.sinr import dl_sinr_db, rsrp_dbm, serving_cell, thermal_noise_dbm, ul_sinr_db

__all__ = [
    "LinkAbstraction",
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
    "ul_sinr_db",
]
