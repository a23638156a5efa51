"""Physical constants and 3GPP defaults used across the radio layer."""

from __future__ import annotations

#: Speed of light in vacuum [m/s] (TR 38.901 uses c = 3.0e8 m/s).
SPEED_OF_LIGHT_M_S = 3.0e8

#: Thermal noise power spectral density at 290 K [dBm/Hz], as used in 3GPP evaluations.
THERMAL_NOISE_DBM_PER_HZ = -174.0

#: Propagation scenarios of TR 38.901 Table 7.4.1-1 and their integer codes (used by kernels).
SCENARIO_CODES: dict[str, int] = {
    "UMa": 0,
    "UMi-Street-Canyon": 1,
    "RMa": 2,
    "InH-Office-Mixed": 3,
    "InH-Office-Open": 4,
}

#: Accepted aliases for scenario names (case-insensitive keys).
SCENARIO_ALIASES: dict[str, str] = {
    "uma": "UMa",
    "umi": "UMi-Street-Canyon",
    "umi-street-canyon": "UMi-Street-Canyon",
    "umi_street_canyon": "UMi-Street-Canyon",
    "rma": "RMa",
    "inh": "InH-Office-Mixed",
    "inh-office": "InH-Office-Mixed",
    "inh-office-mixed": "InH-Office-Mixed",
    "inh-office-open": "InH-Office-Open",
}


def canonical_scenario(name: str) -> str:
    """Return the canonical TR 38.901 scenario name for ``name`` (or raise ``InputError``)."""
    from twinnet.errors import InputError

    if name in SCENARIO_CODES:
        return name
    key = name.strip().lower()
    if key in SCENARIO_ALIASES:
        return SCENARIO_ALIASES[key]
    raise InputError("scenario", name, f"one of {sorted(SCENARIO_CODES)}")
