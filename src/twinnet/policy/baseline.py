"""A rule baseline of the kind self-organising networks apply without a twin: for every cell
measured above the target, downtilt it by ``tilt_step`` degrees and switch on every candidate
small cell within ``radius_m`` of its site. No prediction, no verification."""

from __future__ import annotations

from typing import Any

import numpy as np

from twinnet.actions import ActionPlan, SetCellActive, SetElectricalTilt
from twinnet.network.topology import Network

__all__ = ["rule_plan"]


def rule_plan(network: Network, measured_util: dict[str, float], target: float = 0.5,
              tilt_step: float = 4.0, radius_m: float = 250.0) -> ActionPlan:
    names = network.cell_names
    acts: list[Any] = []
    on: set[str] = set()
    for cell, u in sorted(measured_util.items(), key=lambda t: -t[1]):
        if u <= target or cell not in names:
            continue
        c = names.index(cell)
        if not network.cell_active[c]:
            continue
        acts.append(SetElectricalTilt(cell=cell, tilt_deg=min(
            float(network.cell_elec_tilt_deg[c]) + tilt_step, 20.0)))
        s = network.cell_site[c]
        for k in np.flatnonzero(~network.cell_active):
            sk = network.cell_site[k]
            d = np.hypot(network.site_x_m[sk] - network.site_x_m[s],
                         network.site_y_m[sk] - network.site_y_m[s])
            if d <= radius_m and names[k] not in on:
                on.add(names[k])
                acts.append(SetCellActive(cell=names[k], active=True))
    return ActionPlan(actions=acts, rationale=f"rule: downtilt +{tilt_step:g}° on every cell "
                      f"above {target:g} and switch on small cells within {radius_m:g} m")
