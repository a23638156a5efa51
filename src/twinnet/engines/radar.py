"""L1 spectrum-sharing engine: a rotating radar learned from the interference bursts the cells
sense, and when its beam will point at each cell next.

A surveillance radar's main beam sweeps the cells once a rotation; each cell on a carrier in
its band senses a burst of pulses when it does (:attr:`twinnet.store.telemetry.Telemetry.
bursts`: the cell, the time, the received power). :class:`RadarTracker` learns from them:

* **when** — per cell, the burst times of the last ``window_s`` fitted by least squares to
  ``t = a_c + T_c k`` (rotation ``k``): ``T_c`` is the period the cell sees (the rotation
  period, stretched or shrunk by the radar's motion, which turns the cell's azimuth), and the
  residual spread ``σ_c`` how well the next pass is known. :meth:`next_pass` extrapolates
  with the regression's prediction error and the drift of ``T_c`` between fits;
* **how strong** — by reciprocity the coupling between the radar's antenna port and the cell's
  is the burst power minus the radar's published EIRP: the cell's emission at the radar in the
  main lobe is ``P_c + G_main + coupling_c``, in the side lobes ``G_side − G_main`` less;
* **where** — the rotation period is the median of the cells' ``T_c``; the azimuths of the
  cells seen from the radar differ by ``360 Δt / T`` between their passes, which places the
  radar: a nonlinear least-squares fit (position and beam phase) started from a ring of
  guesses around the network (:meth:`locate`). Successive positions give its track and speed.

The radar's characteristics (EIRP, antenna gains, bandwidth, noise figure, the protection
criterion) are published (ITU-R M.1464 / M.1465 style); :class:`RadarSpec` holds what the
engine may know. Its position, rotation and phase are what it learns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import least_squares

from twinnet.errors import InputError
from twinnet.network.topology import Network
from twinnet.scenario import Radar, overlapping_prbs

__all__ = ["CellPass", "RadarSpec", "RadarTracker"]


@dataclass(frozen=True)
class RadarSpec:
    """What is published about a radar: not where it is nor how its beam turns now."""

    fc_ghz: float
    bandwidth_mhz: float
    eirp_dbm: float
    gain_dbi: float
    sidelobe_dbi: float
    beamwidth_deg: float
    noise_figure_db: float
    protection_i_n_db: float

    @classmethod
    def of(cls, r: Radar) -> RadarSpec:
        return cls(r.fc_ghz, r.bandwidth_mhz, r.eirp_dbm, r.gain_dbi, r.sidelobe_dbi,
                   r.beamwidth_deg, r.noise_figure_db, r.protection_i_n_db)

    @property
    def noise_dbm(self) -> float:
        from twinnet.radio.noise import thermal_noise_dbm

        return float(thermal_noise_dbm(self.bandwidth_mhz * 1e6, self.noise_figure_db))

    def band_prbs(self, fc_ghz: float, bandwidth_mhz: float, n_prb: int) -> tuple[int, int]:
        """A carrier's PRBs in the radar's band (:func:`twinnet.scenario.overlapping_prbs`)."""
        return overlapping_prbs(self.fc_ghz, self.bandwidth_mhz, fc_ghz, bandwidth_mhz, n_prb)


@dataclass(frozen=True)
class CellPass:
    """When the beam is predicted to sweep a cell: passes at ``a + period·k``, known within
    ``sigma_s`` at ``t_s`` (grows with extrapolation), and the cell's coupling to the radar."""

    cell: str
    a_s: float
    period_s: float
    sigma_s: float
    coupling_db: float
    n: int


@dataclass
class RadarTracker:
    """The radar learned from bursts (module docstring)."""

    spec: RadarSpec
    window_s: float = 60.0
    min_bursts: int = 4
    bursts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["cell_id", "t_s", "rx_dbm"]))
    passes: dict[str, CellPass] = field(default_factory=dict)
    _prev_period: dict[str, float] = field(default_factory=dict)
    track: list[dict[str, float]] = field(default_factory=list)

    def observe(self, bursts: pd.DataFrame | None, network: Network) -> None:
        """Take an interval's bursts (``cell_id``, ``t_s``, ``rx_dbm``) and refit."""
        if bursts is not None and len(bursts):
            missing = {"cell_id", "t_s", "rx_dbm"} - set(bursts.columns)
            if missing:
                raise InputError("bursts", sorted(missing), "columns cell_id, t_s, rx_dbm")
            self.bursts = pd.concat([self.bursts, bursts[["cell_id", "t_s", "rx_dbm"]]],
                                    ignore_index=True) if len(self.bursts) else bursts[
                ["cell_id", "t_s", "rx_dbm"]].reset_index(drop=True)
        if not len(self.bursts):
            return
        t_end = float(self.bursts["t_s"].max())
        self.bursts = self.bursts[self.bursts["t_s"] > t_end - self.window_s].reset_index(
            drop=True)
        self._fit()
        fix = self.locate(network)
        if fix is not None:
            self.track.append(fix | {"t_s": t_end})

    def _fit(self) -> None:
        passes: dict[str, CellPass] = {}
        for cell, g in self.bursts.groupby("cell_id"):
            t = np.sort(g["t_s"].to_numpy(dtype=float))
            if t.size < self.min_bursts:
                continue
            d = np.diff(t)
            t0 = float(np.median(d))
            if t0 <= 0:
                continue
            k = np.round((t - t[0]) / t0)
            a, per = np.polyfit(k, t, 1)[::-1]
            res = t - (a + per * k)
            sigma = float(np.sqrt((res ** 2).sum() / max(t.size - 2, 1)))
            passes[str(cell)] = CellPass(str(cell), float(a), float(per), max(sigma, 1e-4),
                                         float(np.median(g["rx_dbm"])) - self.spec.eirp_dbm,
                                         int(t.size))
        for c, p in passes.items():
            self._prev_period[c] = self.passes[c].period_s if c in self.passes else p.period_s
        self.passes = passes

    @property
    def period_s(self) -> float | None:
        """The rotation period (median of what the cells see)."""
        if not self.passes:
            return None
        return float(np.median([p.period_s for p in self.passes.values()]))

    def next_pass(self, cell: str, t_s: float) -> tuple[float, float, float] | None:
        """The cell's apparent period, the time of its pass nearest ``t_s`` and how well it is
        known [s] (one standard deviation: the regression's spread scaled by how far ahead it
        extrapolates, plus the change of the period since the last fit over the rotations
        ahead); ``None`` for a cell that sensed no bursts."""
        p = self.passes.get(cell)
        if p is None:
            return None
        k = np.round((t_s - p.a_s) / p.period_s)
        t_k = p.a_s + p.period_s * k
        span = max(p.n, 2)
        ahead = max(k - (span - 1), 0.0)
        grow = np.sqrt(1.0 / span + 12.0 * (k - (span - 1) / 2.0) ** 2 / (span ** 3 - span + 1e-9))
        drift = abs(p.period_s - self._prev_period.get(cell, p.period_s)) * ahead
        return p.period_s, float(t_k), float(p.sigma_s * grow + drift)

    def main_lobe_i_n_db(self, network: Network, util: NDArray[np.float64] | None = None
                         ) -> dict[str, float]:
        """Each sensing cell's I/N at the radar when the main beam points at it (its emission
        in the radar's band at utilisation ``util``, 1 if not given)."""
        out: dict[str, float] = {}
        n_dbm = self.spec.noise_dbm
        for c, p in self.passes.items():
            if c not in network.cell_names:
                continue
            k = network.cell_names.index(c)
            car = network.carriers[network.cell_carrier[k]]
            lo, hi = self.spec.band_prbs(car.fc_ghz, car.bandwidth_mhz, car.n_prb)
            if hi < lo:
                continue
            u = 1.0 if util is None else max(float(util[k]), 1e-3)
            inband = 10.0 * np.log10((hi - lo + 1) / car.n_prb * u)
            out[c] = (float(network.cell_tx_power_dbm[k]) + inband + self.spec.gain_dbi
                      + p.coupling_db - n_dbm)
        return out

    def locate(self, network: Network) -> dict[str, float] | None:
        """The radar's position and beam phase that best explain the cells' pass times (at
        least three sites sensing it), with the fit's RMS azimuth error [deg]."""
        per = self.period_s
        if per is None:
            return None
        t_ref = float(self.bursts["t_s"].max())
        rows = []
        for c, p in self.passes.items():
            if c not in network.cell_names:
                continue
            k = network.cell_names.index(c)
            s = network.cell_site[k]
            t_c = p.a_s + p.period_s * np.round((t_ref - p.a_s) / p.period_s)
            rows.append((network.site_x_m[s], network.site_y_m[s],
                         360.0 * (t_c - t_ref) / per))
        pos = np.unique(np.round(np.array(rows, dtype=float), 3), axis=0)
        if len({(x, y) for x, y, _ in pos}) < 3:
            return None
        x, y, ang = pos[:, 0], pos[:, 1], pos[:, 2]

        def resid(v: NDArray[np.float64]) -> NDArray[np.float64]:
            az = np.degrees(np.arctan2(y - v[1], x - v[0]))
            return (ang + v[2] - az + 180.0) % 360.0 - 180.0

        cx, cy = float(x.mean()), float(y.mean())
        ext = max(float(np.ptp(x)), float(np.ptp(y)), 100.0)
        best: Any = None
        for r in (3.0, 10.0, 30.0):
            for th in np.radians(np.arange(0.0, 360.0, 30.0)):
                gx, gy = cx + r * ext * np.cos(th), cy + r * ext * np.sin(th)
                az0 = np.degrees(np.arctan2(y - gy, x - gx))
                ph = float(np.degrees(np.angle(np.mean(np.exp(1j * np.radians(az0 - ang))))))
                sol = least_squares(resid, np.array([gx, gy, ph]), method="lm")
                if best is None or sol.cost < best.cost:
                    best = sol
        rms = float(np.sqrt(np.mean(resid(best.x) ** 2)))
        return {"x_m": float(best.x[0]), "y_m": float(best.x[1]),
                "phase_deg": float(best.x[2] % 360.0), "rms_deg": rms, "period_s": per}

    def speed_mps(self) -> float | None:
        """The radar's speed from its last two fixes (``None`` before two)."""
        if len(self.track) < 2:
            return None
        a, b = self.track[-2], self.track[-1]
        dt = b["t_s"] - a["t_s"]
        return float(np.hypot(b["x_m"] - a["x_m"], b["y_m"] - a["y_m"]) / dt) if dt > 0 else None
