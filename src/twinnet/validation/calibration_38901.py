"""TR 38.901 §7.8.1 large-scale calibration, reproduced by TwinNet's twin.

Set-up of Table 7.8-1: 19 sites × 3 sectors (boresights 30°/150°/270°) with wrap-around, ISD
500 m (UMa) or 200 m (UMi-Street Canyon), BS height 25 m / 10 m, BS antenna of 10 × 1 elements
at 0.5 λ mapped to one TXRU with 12° electrical downtilt (102° zenith), element pattern of
Table 7.3-1, 20 MHz at 6 GHz and 100 MHz at 30 GHz, BS power 49 dBm (UMa) / 44 dBm (UMi) at
6 GHz and 35 dBm at 30 GHz, UE noise figure 9 dB, 80 % indoor users on 4–8-floor buildings
with 50 % low / 50 % high penetration loss, minimum BS–UE distance
35 m (UMa) / 10 m (UMi), no fast fading, serving cell = lowest coupling loss, 10 UEs per cell
per drop. Metrics (per UE): coupling loss to the serving cell, wideband SIR (all other cells
at full power) and geometry SINR (the same with thermal noise over the channel bandwidth).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twinnet.errors import InputError
from twinnet.radio.noise import thermal_noise_dbm
from twinnet.scenario import Scenario

__all__ = [
    "PERCENTILES",
    "calibration_scenario",
    "reference_results",
    "run_calibration",
]

PERCENTILES = tuple(range(5, 100, 5))

#: (ISD [m], BS height [m], min distance [m]) per scenario.
_GEOMETRY = {"uma": (500.0, 25.0, 35.0), "umi": (200.0, 10.0, 10.0)}
#: (bandwidth [MHz], subcarrier spacing [kHz]) per carrier frequency.
_CARRIER = {6.0: (20.0, 15), 30.0: (100.0, 120)}
#: BS transmit power [dBm] per (scenario, carrier frequency), Table 7.8-1.
_TX_POWER_DBM = {("uma", 6.0): 49.0, ("umi", 6.0): 44.0, ("uma", 30.0): 35.0,
                 ("umi", 30.0): 35.0}
UES_PER_CELL = 10


def calibration_scenario(scenario: str, fc_ghz: float, seed: int = 0) -> Scenario:
    """The Table 7.8-1 set-up as a TwinNet :class:`~twinnet.scenario.Scenario`."""
    key = scenario.lower()
    if key not in _GEOMETRY:
        raise InputError("scenario", scenario, "'uma' or 'umi'")
    if float(fc_ghz) not in _CARRIER:
        raise InputError("fc_ghz", fc_ghz, "6 or 30 (GHz)")
    isd, h_bs, d_min = _GEOMETRY[key]
    bw, scs = _CARRIER[float(fc_ghz)]
    p_tx = _TX_POWER_DBM[(key, float(fc_ghz))]
    return Scenario.from_dict({
        "name": f"38.901-calibration-{key}-{fc_ghz:g}GHz",
        "seed": seed,
        "layout": {"type": "hex", "n_sites": 19, "isd_m": isd, "bs_height_m": h_bs,
                   "sectors": 3, "azimuths_deg": [30.0, 150.0, 270.0],
                   "electrical_tilt_deg": 12.0, "wrap_around": True},
        "carriers": [{"name": "cal", "fc_ghz": float(fc_ghz), "bandwidth_mhz": bw,
                      "scs_khz": scs, "tx_power_dbm": p_tx}],
        "antenna": {"model": "38.901", "n_vertical": 10, "spacing_wavelengths": 0.5},
        "propagation": {"scenario": "UMa" if key == "uma" else "UMi-Street-Canyon",
                        "shadowing": True, "spatially_consistent": True,
                        "o2i_high_loss_fraction": 0.5, "min_distance_m": d_min},
        "users": {"count": 19 * 3 * UES_PER_CELL, "indoor_fraction": 0.8,
                  "distribution": "uniform", "floors": [4, 8]},
        "radio": {"ue_noise_figure_db": 9.0, "noise_bandwidth": "channel"},
        "link": {"interference": "full-buffer"},
    }, source="calibration")


def _percentiles(x: NDArray[np.float64]) -> dict[str, float]:
    vals = np.percentile(x, PERCENTILES)
    return {f"p{p}": round(float(v), 3) for p, v in zip(PERCENTILES, vals, strict=True)}


def run_calibration(
    scenario: str = "uma", fc_ghz: float = 6.0, drops: int = 50, seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run ``drops`` independent drops and return the calibration JSON object plus raw samples
    under the key ``"_samples"`` (coupling loss, SIR and SINR per UE, for plotting)."""
    from twinnet.twin import DigitalTwin

    if drops < 1:
        raise InputError("drops", drops, "at least 1")
    cl_all, sir_all, sinr_all = [], [], []
    for d in range(drops):
        sc = calibration_scenario(scenario, fc_ghz, seed=seed * 100_003 + d)
        twin = DigitalTwin(sc)
        gain, slot_cell = twin.link_gains()
        g = gain.astype(np.float64)
        g[:, slot_cell[0] < 0] = 0.0
        best = np.argmax(g, axis=1)
        rows = np.arange(g.shape[0])
        g_srv = g[rows, best]
        interf = g.sum(axis=1) - g_srv
        p_tx_mw = 10.0 ** (sc.carriers[0].tx_power_dbm / 10.0)
        noise_mw = 10.0 ** (thermal_noise_dbm(sc.carriers[0].bandwidth_mhz * 1e6,
                                              sc.radio.ue_noise_figure_db) / 10.0)
        cl_all.append(-10.0 * np.log10(g_srv))
        sir_all.append(10.0 * np.log10(g_srv / interf))
        sinr_all.append(10.0 * np.log10(p_tx_mw * g_srv / (p_tx_mw * interf + noise_mw)))
        if progress is not None:
            progress(d + 1, drops)
    cl = np.concatenate(cl_all)
    sir = np.concatenate(sir_all)
    sinr = np.concatenate(sinr_all)
    return {
        "scenario": scenario.lower(),
        "fc_ghz": float(fc_ghz),
        "n_ues": int(cl.size),
        "drops": drops,
        "seed": seed,
        # 38.901 reports coupling loss as a (negative) gain in dB: -(PL + SF + O2I - G_ant)
        "coupling_loss_db": _percentiles(-cl),
        "wideband_sir_db": _percentiles(sir),
        "geometry_sinr_db": _percentiles(sinr),
        "_samples": {"coupling_loss_db": -cl, "wideband_sir_db": sir, "geometry_sinr_db": sinr},
    }


def reference_results() -> dict[str, Any]:
    """3GPP companies' calibration results shipped with TwinNet (see ``data/README``)."""
    res = resources.files("twinnet.validation") / "data" / "calibration_38901.json"
    data: dict[str, Any] = json.loads(res.read_text(encoding="utf-8"))
    return data


def compare_with_reference(result: dict[str, Any]) -> dict[str, Any] | None:
    """Per metric: whether each percentile lies within the companies' [min, max] spread, and
    the offset from the companies' mean. ``None`` when no reference exists for the case."""
    try:
        ref = reference_results()
    except FileNotFoundError:
        return None
    key = f"{result['scenario']}_{int(result['fc_ghz'])}ghz"
    case = ref.get("cases", {}).get(key)
    if case is None:
        return None
    out: dict[str, Any] = {}
    for metric in ("coupling_loss_db", "wideband_sir_db", "geometry_sinr_db"):
        if metric not in case:
            continue
        m = case[metric]
        rows = {}
        for p_key, lo in m["min"].items():
            if p_key not in result[metric]:
                continue
            hi = m["max"][p_key]
            val = result[metric][p_key]
            mean = m.get("mean", {}).get(p_key)
            rows[p_key] = {
                "twinnet": val, "min": lo, "max": hi, "mean": mean,
                "within": bool(lo - 1e-9 <= val <= hi + 1e-9),
                "offset_from_mean": None if mean is None else round(val - mean, 3),
            }
        out[metric] = {
            "within_spread": all(r["within"] for r in rows.values()),
            "max_abs_offset_from_mean_db": max(
                (abs(r["offset_from_mean"]) for r in rows.values()
                 if r["offset_from_mean"] is not None), default=None),
            "percentiles": rows,
        }
    return out
