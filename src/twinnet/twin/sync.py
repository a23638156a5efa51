"""Synchronisation between the physical network, the context store and the twin.

* **P2V** (physical → virtual): telemetry is written to the store (validated; bad rows
  quarantined), then the twin's state is rebuilt or updated *from the store*: the cell
  parameters of the stored topology, and the demand of the most recent interval (or the
  L2 engine's forecast of the next one) as per-cell traffic.
* **V2P** (virtual → physical): a directive (an :class:`~twinnet.actions.ActionPlan`) is
  applied to the network, the stored topology and the twin, in that order.

Both directions are logged in the store's ``sync_log``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from twinnet.actions import ActionPlan, _Action
from twinnet.errors import InputError
from twinnet.store.telemetry import Telemetry

if TYPE_CHECKING:
    from twinnet.store.context import ContextStore
    from twinnet.twin.twin import DigitalTwin

__all__ = ["PhysicalNetwork", "SyncSummary", "TwinSync", "cell_demand_multiplier",
           "group_demand_multiplier", "restore_twin"]

_PARAMS = {"azimuth_deg": "cell_bearing_deg", "mechanical_tilt_deg": "cell_mech_tilt_deg",
           "electrical_tilt_deg": "cell_elec_tilt_deg", "tx_power_dbm": "cell_tx_power_dbm",
           "cio_db": "cell_cio_db", "active": "cell_active"}


class PhysicalNetwork(Protocol):
    """What V2P needs from a network: an ``apply`` for directives."""

    def apply(self, directive: _Action | ActionPlan) -> None: ...


@dataclass
class SyncSummary:
    direction: str
    ts: pd.Timestamp | None
    accepted: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    parameter_changes: list[dict[str, Any]] = field(default_factory=list)
    demand: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"direction": self.direction, "ts": None if self.ts is None else str(self.ts),
                "accepted": self.accepted, "quarantined": self.quarantined,
                "parameter_changes": self.parameter_changes, "demand": self.demand}


def cell_demand_multiplier(twin: DigitalTwin, target_mbps: pd.Series,
                           hour: int | None = None) -> NDArray[np.float64]:
    """Per-user demand multipliers that make each cell's offered traffic in the twin equal
    ``target_mbps[cell_id]`` when the twin is evaluated at ``hour`` (users keep their relative
    demand within a cell; cells without a target keep the scenario's demand).

    Cell membership is the twin's current serving association.
    """
    return group_demand_multiplier(twin, twin.serving_cells(), target_mbps, hour)


def group_demand_multiplier(twin: DigitalTwin, group_cell: NDArray[np.integer],
                            target_mbps: pd.Series, hour: int | None = None
                            ) -> NDArray[np.float64]:
    """Per-user demand multipliers that give each group of users (``group_cell[u]``: the cell
    index naming user ``u``'s group, -1 for none) the traffic ``target_mbps[cell_id]`` when the
    twin is evaluated at ``hour``; users keep their relative demand within a group, groups
    without a target and users without a group keep the scenario's demand."""
    ok = group_cell >= 0
    g = np.where(ok, group_cell, 0)
    demand = twin.users.demand_mbps * twin.demand_scale(hour)
    base = np.bincount(g, weights=np.where(ok, demand, 0.0), minlength=twin.network.n_cells)
    tgt = target_mbps.reindex(twin.network.cell_names).to_numpy(dtype=float)
    scale = np.where(np.isfinite(tgt) & (base > 0), tgt / np.maximum(base, 1e-12), 1.0)
    return np.asarray(np.where(ok, scale[g], 1.0), dtype=np.float64)


class TwinSync:
    """P2V/V2P synchronisation of one twin through one context store.

    Parameters
    ----------
    store: the deployment's context store.
    twin: the digital twin kept in sync.
    source: telemetry source name written with every row.
    """

    def __init__(self, store: ContextStore, twin: DigitalTwin, source: str = "emulator"):
        self.store = store
        self.twin = twin
        self.source = source

    # ------------------------------------------------------------------ P2V
    def publish_topology(self, network: Any, scenario: Any = None) -> int:
        """Write the network's recorded topology (operator database) to the store."""
        n = self.store.write_topology(network, scenario)
        self.store.log_sync("P2V", {"topology_cells": n})
        return n

    def ingest(self, telemetry: Telemetry) -> SyncSummary:
        """Write one interval of telemetry to the store (P2V, first half)."""
        s = SyncSummary("P2V", telemetry.ts)
        for table, df in (("cell_kpis", telemetry.kpis), ("ue_reports", telemetry.reports)):
            r = self.store.append(table, df, self.source)
            s.accepted[table] = r["accepted"]
            s.quarantined[table] = r["quarantined"]
        # alarms as the network raised them; the truth is kept for scoring (kind "truth":
        # no engine reads it)
        for df in (telemetry.alarms, telemetry.truth):
            if df is None:
                continue
            for row in df.to_dict("records"):
                self.store.log_event(str(row["kind"]), str(row["message"]),
                                     cell_id=row.get("cell_id"),
                                     severity=str(row.get("severity") or "info"),
                                     payload=row.get("payload") or {"source": self.source},
                                     ts=row["ts"])
            s.accepted["events"] = s.accepted.get("events", 0) + len(df)
        return s

    def pull_topology(self) -> list[dict[str, Any]]:
        """Update the twin's cell parameters from the stored topology; returns the changes."""
        cells = self.store.cells().set_index("cell_id")
        net = self.twin.network
        names = net.cell_names
        changes: list[dict[str, Any]] = []
        for col, attr in _PARAMS.items():
            arr = getattr(net, attr)
            if col not in cells:
                continue
            vals = cells[col].reindex(names)
            have = vals.notna().to_numpy()
            if not have.any():
                continue
            new = arr.copy()
            new[have] = vals.to_numpy()[have].astype(arr.dtype)
            diff = np.flatnonzero(new != arr)
            for i in diff:
                changes.append({"cell": names[i], "parameter": col, "old": arr[i].item(),
                                "new": new[i].item()})
            if diff.size:
                setattr(net, attr, new)
        return changes

    def cell_traffic(self, start: Any = None, end: Any = None) -> pd.DataFrame:
        """Served DL traffic per cell [Mbps]: a ``time × cell`` frame from the stored KPIs."""
        k = self.store.cell_kpis(start, end, source=self.source)
        if not len(k):
            return pd.DataFrame()
        return k.pivot_table(index="ts", columns="cell_id", values="thr_dl_mbps",
                             aggfunc="mean").sort_index()

    def p2v(self, telemetry: Telemetry | None = None,
            demand_mbps: pd.Series | None = None, update_demand: bool = True,
            hour: int | None = None) -> SyncSummary:
        """Full P2V step: store the telemetry (if given), update the twin's parameters from the
        stored topology, and (``update_demand``) set its demand to ``demand_mbps`` per cell
        (default: the last stored interval's traffic) for evaluations at ``hour``."""
        s = self.ingest(telemetry) if telemetry is not None else SyncSummary("P2V", None)
        s.parameter_changes = self.pull_topology()
        if update_demand and demand_mbps is None:
            traffic = self.cell_traffic()
            if len(traffic):
                demand_mbps = traffic.iloc[-1]
                s.demand["from"] = str(traffic.index[-1])
        if update_demand and demand_mbps is not None:
            self.twin.demand_multiplier = cell_demand_multiplier(self.twin, demand_mbps, hour)
            s.demand["total_mbps"] = float(np.nansum(demand_mbps.to_numpy(dtype=float)))
            s.demand["cells"] = int(demand_mbps.notna().sum())
        self.store.log_sync("P2V", s.to_dict())
        return s

    # ------------------------------------------------------------------ V2P
    def v2p(self, network: PhysicalNetwork, plan: ActionPlan | _Action, ts: Any = None,
            reason: str = "") -> SyncSummary:
        """Push a directive to the network, then record it in the stored topology and apply it
        to the twin. Nothing changes anywhere if the plan names an unknown cell."""
        p = plan if isinstance(plan, ActionPlan) else ActionPlan(actions=[plan])
        known = self.store.known_cells()
        created = set(p.created_cells())
        unknown = [c for c in p.touched_cells() if c not in known and c not in created]
        if unknown:
            raise InputError("cell", unknown[0], "a cell of the stored topology")
        trial = self.twin.network.copy()
        p.apply(trial)                 # validates against the twin's network before V2P
        network.apply(p)
        changes: list[dict[str, Any]] = []
        n_old = self.twin.network.n_cells
        if trial.n_cells > n_old or created:  # new or moved drone sites: store their rows
            self.store.write_topology(trial)
            for name in trial.cell_names[n_old:]:
                changes.append({"cell": name, "parameter": "created", "old": None,
                                "new": True})
        for col, attr in _PARAMS.items():
            old, new = getattr(self.twin.network, attr), getattr(trial, attr)[:n_old]
            for i in np.flatnonzero(old != new):
                name = trial.cell_names[i]
                self.store.update_cell(name, **{col: new[i].item()})
                changes.append({"cell": name, "parameter": col, "old": old[i].item(),
                                "new": new[i].item()})
        self.twin.network = trial
        s = SyncSummary("V2P", pd.Timestamp(ts) if ts is not None else None,
                        parameter_changes=changes)
        summary = s.to_dict()
        summary["plan"] = p.model_dump()
        summary["reason"] = reason
        self.store.log_sync("V2P", summary)
        return s


def restore_twin(store: ContextStore, twin: DigitalTwin, scenario: Any = None,
                 hour: int | None = None) -> dict[str, Any]:
    """Bring a freshly built twin up to date from a store (P2V from the database alone).

    An empty store receives the twin's topology. Otherwise the twin takes the stored cell
    parameters, the active L1 engine of the model registry (if any) as its link adjustment,
    and the demand of the last stored interval of its cells (for evaluations at ``hour``).

    The layer engines sit above the twin, so the engine is taken as the registry gives it and
    checked by what it offers: an active L1 engine that is not a
    :class:`~twinnet.twin.twin.LinkAdjustment` of the twin (a ``token`` and an
    ``extra_loss_db``; e.g. a drive-test RSRP engine) is left out, and ``l1_engine_skipped``
    says why.
    """
    sync = TwinSync(store, twin)
    out: dict[str, Any] = {"store": store.path}
    if not store.known_cells() & set(twin.network.cell_names):
        out["topology_written"] = sync.publish_topology(twin.network, scenario)
        return out
    out["parameter_changes"] = sync.pull_topology()
    try:
        l1 = store.load_model("L1")
    except InputError:
        l1 = None
    if l1 is not None:
        ids = store.models().query("layer == 'L1' and active").model_id.tolist()
        fitted = getattr(l1, "is_fitted", lambda: True)()
        if (callable(getattr(l1, "extra_loss_db", None))
                and isinstance(getattr(l1, "token", None), str) and fitted):
            twin.link_adjustment = l1
            out["l1_engine"] = ids
        else:
            out["l1_engine_skipped"] = {
                "model": ids, "reason": f"a {type(l1).__name__} is not a fitted link "
                "adjustment of the twin (token, extra_loss_db)"}
    k = store.cell_kpis(cells=twin.network.cell_names)
    k = k[k.ts.notna() & k.thr_dl_mbps.notna()]
    if len(k):
        last = k[k.ts == k.ts.max()].set_index("cell_id")["thr_dl_mbps"]
        twin.demand_multiplier = cell_demand_multiplier(twin, last, hour)
        out["demand_from"] = str(k.ts.max())
    store.log_sync("P2V", {k: v for k, v in out.items() if k != "store"})
    return out
