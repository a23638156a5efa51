"""Truth events: what happens to the emulated network in time, hidden from the twin.

:class:`TruthEvents` is the emulator's step hook. It applies the scenario's ``[[events]]`` to
the ground truth at the times they happen and undoes them when they end:

* ``cell_outage`` — the cell stops transmitting; the network raises a cell-down alarm (and a
  clear when it comes back): the only event an operator is told about;
* ``tilt_fault`` — the antenna points ``delta_deg`` lower than recorded (no alarm);
* ``pa_degradation`` — the cell transmits ``loss_db`` less than commanded (no alarm);
* ``backhaul_congestion`` — the site's backhaul carries at most ``capacity_mbps``;
* ``crowd`` — extra users (placed in the truth from the start, absent until then) arrive over
  the ramp-in, stay, and leave over the ramp-out; they attach and detach like any user;
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
from twinnet.radio.noise import thermal_noise_dbm
from twinnet.scenario import (
    BackhaulCongestion,
    CellOutage,
    Crowd,
    Event,
    PaDegradation,
    Radar,
    TiltFault,
)

if TYPE_CHECKING:
    from twinnet.emulator.network import NetworkEmulator
    from twinnet.twin.simulate import NetworkSimulation

__all__ = ["TruthEvents", "crowd_positions"]

_ALARM_COLUMNS = ["ts", "kind", "cell_id", "severity", "message"]


def crowd_positions(event: Crowd, rng: np.random.Generator
                    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Where a crowd's users stand: uniform over its disc."""
    r = event.radius_m * np.sqrt(rng.uniform(size=event.users))
    phi = rng.uniform(0.0, 2.0 * np.pi, event.users)
    return event.x_m + r * np.cos(phi), event.y_m + r * np.sin(phi)


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
        self.alarms: list[dict[str, Any]] = []
        self.truth: list[dict[str, Any]] = []
        self.radar_i_n_db: dict[int, float] = {}

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
        """The radar's main lobe at the users (time-averaged over the step) and the cells'
        emissions at the radar (its I/N)."""
        net = sim.twin.network
        overlaps = [abs(c.fc_ghz - e.fc_ghz) * 1e3 < (c.bandwidth_mhz + e.bandwidth_mhz) / 2
                    for c in net.carriers]
        if not any(overlaps):
            return
        rx, ry = e.position(t_s + dt_s / 2)
        dx, dy = sim.x_m - rx, sim.y_m - ry
        d = np.maximum(np.hypot(dx, dy), 1.0)
        az = np.degrees(np.arctan2(dy, dx)) % 360.0
        # fraction of the step the user spends in the beam
        start = (360.0 * t_s / e.rotation_s) % 360.0
        sweep = 360.0 * dt_s / e.rotation_s
        passes = np.floor(sweep / 360.0) + (((az - start) % 360.0) < (sweep % 360.0))
        frac = np.minimum(1.0, passes * (e.beamwidth_deg / 360.0) * e.rotation_s / dt_s)
        pl = free_space_pathloss_db(d, e.fc_ghz)
        sim.external_interference_mw += frac * e.duty_cycle * 10.0 ** ((e.eirp_dbm - pl) / 10.0)
        # the cells' downlink emissions at the radar (omnidirectional radar receiver, its
        # main-lobe gain applied when it points at the cell: averaged like the users')
        cs = net.cell_site
        d_c = np.maximum(np.hypot(net.site_x_m[cs] - rx, net.site_y_m[cs] - ry), 1.0)
        p_c = net.cell_tx_power_dbm - free_space_pathloss_db(d_c, e.fc_ghz)
        util = sim.util_dl[: net.n_cells]
        i_mw = float(np.sum(np.where(net.cell_active, util * 10.0 ** (p_c / 10.0), 0.0)))
        n_dbm = float(thermal_noise_dbm(e.bandwidth_mhz * 1e6, e.noise_figure_db))
        i_n = 10.0 * np.log10(max(i_mw, 1e-30)) - n_dbm
        self.radar_i_n_db[i] = max(self.radar_i_n_db.get(i, -np.inf), i_n)

    def drain(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The alarms and truth entries since the last call (radar I/N: the interval's worst,
        with whether it broke the protection threshold)."""
        for i, v in self.radar_i_n_db.items():
            e = self.events[i]
            assert isinstance(e, Radar)
            self.truth.append({"ts": self._ts(self.emu.sim_time_s()), "kind": "truth",
                               "cell_id": None,
                               "message": f"radar I/N {v:.1f} dB (protection "
                                          f"{e.protection_i_n_db:g} dB)",
                               "payload": {"type": "radar_i_n", "i_n_db": v,
                                           "violated": bool(v > e.protection_i_n_db)}})
        self.radar_i_n_db = {}
        alarms = pd.DataFrame(self.alarms, columns=_ALARM_COLUMNS)
        truth = pd.DataFrame(self.truth, columns=["ts", "kind", "cell_id", "message",
                                                  "payload"])
        self.alarms, self.truth = [], []
        return alarms, truth
