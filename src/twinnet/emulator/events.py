"""Truth events: what happens to the emulated network in time, hidden from the twin.

:class:`TruthEvents` is the emulator's step hook. It applies the scenario's ``[[events]]`` to
the ground truth at the times they happen and undoes them when they end:

* ``cell_outage`` — the cell stops transmitting; the network raises a cell-down alarm (and a
  clear when it comes back): the only event an operator is told about;
* ``tilt_fault`` — the antenna points ``delta_deg`` lower than recorded (no alarm);
* ``pa_degradation`` — the cell transmits ``loss_db`` less than commanded (no alarm);
* ``backhaul_congestion`` — the site's backhaul carries at most ``capacity_mbps``;
* ``crowd`` — extra users (placed in the truth from the start, absent until then) arrive over
  the ramp-in, stay, and leave over the ramp-out; they attach and detach like any user; a crowd
  with a ``track`` walks along it, its users with it;
* ``radar`` — a rotating radar moving along its track adds its main-lobe power (averaged over
  its pulses' duty cycle and over the step, free-space path loss) to the interference of the
  users it illuminates; the
  cells' emissions at the radar are recorded as its interference-to-noise ratio I/N.

Every start and end is recorded as a truth entry (for scoring detectors later; the twin's
engines never read them), alarms as alarms; :meth:`TruthEvents.drain` hands both over per
reporting interval.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from twinnet.errors import InputError
from twinnet.radio.a2g import free_space_pathloss_db
from twinnet.radio.antenna import antenna_gain_dbi
from twinnet.radio.noise import thermal_noise_dbm
from twinnet.scenario import (
    BackhaulCongestion,
    CalendarEvent,
    CellOutage,
    Crowd,
    Event,
    PaDegradation,
    Radar,
    TiltFault,
)

if TYPE_CHECKING:
    from twinnet.emulator.network import NetworkEmulator
    from twinnet.network.topology import Network
    from twinnet.twin.simulate import NetworkSimulation

__all__ = ["TruthEvents", "crowd_positions", "radar_coupling_db"]

_ALARM_COLUMNS = ["ts", "kind", "cell_id", "severity", "message"]


def crowd_positions(event: Crowd | CalendarEvent, rng: np.random.Generator,
                    users: int | None = None
                    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Where a crowd's users stand: uniform over its disc (``users``: how many; default the
    crowd's)."""
    n = users if users is not None else event.users  # type: ignore[union-attr]
    r = event.radius_m * np.sqrt(rng.uniform(size=n))
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    return event.x_m + r * np.cos(phi), event.y_m + r * np.sin(phi)


def radar_coupling_db(net: Network, e: Radar, rx: float, ry: float
                      ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per cell: the azimuth of its site seen from the radar at ``(rx, ry)`` [deg] and the
    coupling between the radar's antenna port (isotropic) and the cell's [dB]: the cell
    antenna's gain towards the radar (38.901 sector pattern with its tilts; omni for drones)
    minus free-space and clutter loss — reciprocal, so the same for the radar's pulses at the
    cell and the cell's emissions at the radar."""
    cs = net.cell_site
    sx, sy, sh = net.site_x_m[cs], net.site_y_m[cs], net.site_height_m[cs]
    dx, dy = sx - rx, sy - ry
    d2 = np.maximum(np.hypot(dx, dy), 1.0)
    az_c = np.degrees(np.arctan2(dy, dx)) % 360.0
    phi = (az_c + 180.0) % 360.0  # from the cell towards the radar
    theta = 90.0 + np.degrees(np.arctan2(sh - e.height_m, d2))
    g = antenna_gain_dbi(theta, phi, net.cell_bearing_deg, net.cell_mech_tilt_deg,
                         net.cell_elec_tilt_deg)
    drone = net.is_drone_site()[cs]
    g = np.where(drone | net.omni, 0.0, g)
    d3 = np.hypot(d2, sh - e.height_m)
    return az_c, g - free_space_pathloss_db(d3, e.fc_ghz) - e.clutter_loss_db


class TruthEvents:
    """The emulator's step hook for its ``[[events]]`` (see the module docstring).

    ``crowd_users[i]``: the user indices of the i-th event when it is a crowd (ordered: the
    first ones arrive first)."""

    def __init__(self, emu: NetworkEmulator, events: list[Event],
                 crowd_users: dict[int, NDArray[np.int64]]):
        self.emu = emu
        self.events = list(events)
        self.crowd_users = crowd_users
        net = emu.recorded
        for e in self.events:
            if isinstance(e, CellOutage | TiltFault | PaDegradation) \
                    and e.cell not in net.cell_names:
                raise InputError(f"events.{e.type}.cell", e.cell, "a cell of the network")
            if isinstance(e, BackhaulCongestion) and e.site not in net.site_names:
                raise InputError("events.backhaul_congestion.site", e.site,
                                 "a site of the network")
        self._on = [False] * len(self.events)
        self._present = {i: 0 for i in crowd_users}
        #: where each crowd's users stand relative to its centre (a crowd with a track moves)
        self._offset = {i: (emu.twin.users.x_m[u] - self.events[i].x_m,  # type: ignore[union-attr]
                            emu.twin.users.y_m[u] - self.events[i].y_m)  # type: ignore[union-attr]
                        for i, u in crowd_users.items()}
        self.alarms: list[dict[str, Any]] = []
        self.truth: list[dict[str, Any]] = []
        #: per radar: the interval's worst I/N [dB], samples taken, samples above protection
        self.radar_i_n: dict[int, list[Any]] = {}
        #: interference bursts the cells sensed: (cell, time [s on the clock], power [dBm])
        self.bursts: list[tuple[str, float, float]] = []
        self.rng = np.random.default_rng([emu.truth_cfg.seed, 71])

    def _ts(self, t_s: float) -> pd.Timestamp:
        return self.emu.start + pd.Timedelta(seconds=t_s)

    def _record(self, t_s: float, e: Event, what: str, cell: str | None) -> None:
        self.truth.append({"ts": self._ts(t_s), "kind": "truth", "cell_id": cell,
                           "message": f"{e.type} {what}", "payload": e.model_dump()})

    def before_step(self, sim: NetworkSimulation, t_s: float, dt_s: float) -> None:
        emu = self.emu
        changed = False
        sim.external_interference_mw[:] = 0.0
        for i, e in enumerate(self.events):
            if isinstance(e, Crowd):
                self._crowd(sim, i, e, t_s)
                continue
            on = e.active(t_s)
            if isinstance(e, Radar):
                if on:
                    self._radar(sim, i, e, t_s, dt_s)
                if on != self._on[i]:
                    self._record(t_s, e, "starts" if on else "ends", None)
                    self._on[i] = on
                continue
            if on == self._on[i]:
                continue
            self._on[i] = on
            if isinstance(e, BackhaulCongestion):
                s = emu.recorded.site_names.index(e.site)
                sim.site_cap_mbps[s] = e.capacity_mbps if on else np.inf
                self._record(t_s, e, "starts" if on else "ends", None)
                continue
            c = emu.recorded.cell_names.index(e.cell)
            sign = 1.0 if on else -1.0
            if isinstance(e, CellOutage):
                emu.event_off[c] += int(sign)
                self.alarms.append({"ts": self._ts(t_s), "kind": "alarm", "cell_id": e.cell,
                                    "severity": "critical" if on else "cleared",
                                    "message": "cell down" if on else "cell down cleared"})
            elif isinstance(e, TiltFault):
                emu.event_tilt_deg[c] += sign * e.delta_deg
            elif isinstance(e, PaDegradation):
                emu.event_loss_db[c] += sign * e.loss_db
            self._record(t_s, e, "starts" if on else "ends", e.cell)
            changed = True
        if changed:
            emu.sync_truth()

    def _crowd(self, sim: NetworkSimulation, i: int, e: Crowd, t_s: float) -> None:
        users = self.crowd_users[i]
        if e.track and self._present[i] > 0:  # the crowd walks: its users move with it
            cx, cy = e.centre(t_s)
            dx, dy = self._offset[i]
            step = float(np.hypot(cx - (sim.x_m[users[0]] - dx[0]),
                                  cy - (sim.y_m[users[0]] - dy[0])))
            if step > 0:
                sim.x_m[users] = cx + dx
                sim.y_m[users] = cy + dy
                sim.moved(step)
        k = int(np.floor(e.present_fraction(t_s) * len(users) + 1e-9))
        have = self._present[i]
        if k == have:
            return
        if k > have:
            new = users[have:k]
            sim.present[new] = True
            sim.handover.attach(new, sim.rsrp_dbm, sim._slot,
                                sim.twin.network.cell_cio_db, sim.sinr_db)
        else:
            gone = users[k:have]
            sim.present[gone] = False
            sim.handover.detach(gone)
        if have == 0 or k == 0:
            self._record(t_s, e, "arrives" if k > 0 else "has left", None)
        self._present[i] = k

    def _radar(self, sim: NetworkSimulation, i: int, e: Radar, t_s: float,
               dt_s: float) -> None:
        """The radar's main lobe at the users (time-averaged over the step), the cells'
        emissions in its band at the radar (its I/N, sampled twice per beamwidth of the
        rotation, with each cell's blanking as it stands at each sample) and the interference
        bursts the cells sense when the beam sweeps them."""
        net = sim.twin.network
        lo_hi = [e.band_prbs(c.fc_ghz, c.bandwidth_mhz, c.n_prb) for c in net.carriers]
        if all(hi < lo for lo, hi in lo_hi):
            return
        rx, ry = e.position(t_s + dt_s / 2)
        dx, dy = sim.x_m - rx, sim.y_m - ry
        d = np.maximum(np.hypot(dx, dy), 1.0)
        az = np.degrees(np.arctan2(dy, dx)) % 360.0
        # fraction of the step the user spends in the beam
        start = float(e.beam_deg(t_s))
        sweep = 360.0 * dt_s / e.rotation_s
        passes = np.floor(sweep / 360.0) + (((az - start) % 360.0) < (sweep % 360.0))
        frac = np.minimum(1.0, passes * (e.beamwidth_deg / 360.0) * e.rotation_s / dt_s)
        pl = free_space_pathloss_db(d, e.fc_ghz) + e.clutter_loss_db
        sim.external_interference_mw += frac * e.duty_cycle * 10.0 ** ((e.eirp_dbm - pl) / 10.0)
        # the cells' side of it: coupling radar <-> cell antenna (reciprocal)
        az_c, coupling = radar_coupling_db(net, e, rx, ry)
        util = sim.util_dl[: net.n_cells]
        n = int(np.ceil(dt_s / (e.rotation_s * e.beamwidth_deg / 720.0)))
        ts = t_s + (np.arange(n) + 0.5) * dt_s / n
        off = np.abs((e.beam_deg(ts)[:, None] - az_c[None, :] + 180.0) % 360.0 - 180.0)
        g_rx = np.where(off <= e.beamwidth_deg / 2.0, e.gain_dbi, e.sidelobe_dbi)
        inband = np.zeros((n, net.n_cells))
        for c in np.flatnonzero(net.cell_active):
            lo, hi = lo_hi[net.cell_carrier[c]]
            if hi < lo:
                continue
            free = np.full(n, float(hi - lo + 1))
            b = net.cell_blanking.get(int(c))
            if b is not None:
                free -= b.overlap(lo, hi) * b.blanked(ts)
            inband[:, c] = free / net.carriers[net.cell_carrier[c]].n_prb * util[c]
        p_mw = 10.0 ** (net.cell_tx_power_dbm / 10.0)
        i_mw = (inband * p_mw[None, :] * 10.0 ** ((coupling[None, :] + g_rx) / 10.0)).sum(axis=1)
        n_dbm = float(thermal_noise_dbm(e.bandwidth_mhz * 1e6, e.noise_figure_db))
        i_n = 10.0 * np.log10(np.maximum(i_mw, 1e-30)) - n_dbm
        acc = self.radar_i_n.setdefault(i, [-np.inf, 0, 0])
        acc[0] = max(acc[0], float(i_n.max()))
        acc[1] += n
        acc[2] += int((i_n > e.protection_i_n_db).sum())
        # bursts: the beam sweeps each cell's azimuth once a rotation; cells on a carrier in
        # the radar's band sense the pulses above their detection level
        rx_dbm = e.eirp_dbm + coupling
        rng = self.rng
        for c in np.flatnonzero(rx_dbm >= e.detect_dbm):
            lo, hi = lo_hi[net.cell_carrier[c]]
            if hi < lo:
                continue
            base = ((az_c[c] - e.phase_deg) % 360.0) / 360.0 * e.rotation_s
            t_k = base + np.ceil((t_s - base) / e.rotation_s) * e.rotation_s
            while t_k < t_s + dt_s:
                if t_k >= t_s:
                    self.bursts.append((net.cell_names[c], float(
                        t_k + rng.normal(0.0, e.jitter_ms / 1000.0)), float(
                        rx_dbm[c] + rng.normal(0.0, 1.0))))
                t_k += e.rotation_s

    def drain_bursts(self) -> pd.DataFrame:
        """The interference bursts the cells sensed since the last call: ``cell_id``, ``t_s``
        (seconds on the network's clock), ``rx_dbm``."""
        out = pd.DataFrame(self.bursts, columns=["cell_id", "t_s", "rx_dbm"])
        self.bursts = []
        return out.sort_values("t_s", ignore_index=True)

    def drain(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The alarms and truth entries since the last call (radar I/N: the interval's worst,
        with whether it broke the protection threshold)."""
        for i, (v, n, k) in self.radar_i_n.items():
            e = self.events[i]
            assert isinstance(e, Radar)
            self.truth.append({"ts": self._ts(self.emu.sim_time_s()), "kind": "truth",
                               "cell_id": None,
                               "message": f"radar I/N {v:.1f} dB (protection "
                                          f"{e.protection_i_n_db:g} dB)",
                               "payload": {"type": "radar_i_n", "i_n_db": v,
                                           "violated": bool(v > e.protection_i_n_db),
                                           "samples": n, "violations": k}})
        self.radar_i_n = {}
        alarms = pd.DataFrame(self.alarms, columns=_ALARM_COLUMNS)
        truth = pd.DataFrame(self.truth, columns=["ts", "kind", "cell_id", "message",
                                                  "payload"])
        self.alarms, self.truth = [], []
        return alarms, truth
