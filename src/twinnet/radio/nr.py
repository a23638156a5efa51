"""NR numerology: transmission bandwidth configuration N_RB (TS 38.101-1/-2 Table 5.3.2-1)."""

from __future__ import annotations

from twinnet.errors import InputError

__all__ = ["N_RB_TABLE", "n_prb", "prb_bandwidth_hz"]

#: (subcarrier spacing kHz, channel bandwidth MHz) → maximum N_RB.
#: FR1: TS 38.101-1 Table 5.3.2-1; FR2: TS 38.101-2 Table 5.3.2-1 (60/120 kHz, 50–400 MHz).
N_RB_TABLE: dict[tuple[int, int], int] = {
    **{(15, bw): n for bw, n in {5: 25, 10: 52, 15: 79, 20: 106, 25: 133, 30: 160,
                                 35: 188, 40: 216, 45: 242, 50: 270}.items()},
    **{(30, bw): n for bw, n in {5: 11, 10: 24, 15: 38, 20: 51, 25: 65, 30: 78, 35: 92,
                                 40: 106, 45: 119, 50: 133, 60: 162, 70: 189, 80: 217,
                                 90: 245, 100: 273}.items()},
    **{(60, bw): n for bw, n in {10: 11, 15: 18, 20: 24, 25: 31, 30: 38, 35: 44, 40: 51,
                                 45: 58, 50: 65, 60: 79, 70: 93, 80: 107, 90: 121,
                                 100: 135}.items()},
    # FR2 (60 kHz above 100 MHz and 120 kHz)
    (60, 200): 264,
    **{(120, bw): n for bw, n in {50: 32, 100: 66, 200: 132, 400: 264}.items()},
}


def n_prb(bandwidth_mhz: float, scs_khz: int) -> int:
    """Number of PRBs for a channel bandwidth and subcarrier spacing (38.101 Table 5.3.2-1)."""
    key = (int(scs_khz), round(bandwidth_mhz))
    if abs(bandwidth_mhz - round(bandwidth_mhz)) > 1e-9 or key not in N_RB_TABLE:
        valid = sorted(bw for (s, bw) in N_RB_TABLE if s == int(scs_khz))
        if not valid:
            raise InputError(
                "scs_khz", scs_khz, f"one of {sorted({s for s, _ in N_RB_TABLE})} kHz"
            )
        raise InputError(
            "bandwidth_mhz", bandwidth_mhz, f"one of {valid} MHz for {scs_khz} kHz spacing"
        )
    return N_RB_TABLE[key]


def prb_bandwidth_hz(scs_khz: float) -> float:
    """Bandwidth of one PRB [Hz]: 12 subcarriers × spacing."""
    return 12.0 * float(scs_khz) * 1e3
