"""Operator policy: the rules every proposed action must respect, tighter than the catalogue.

The action catalogue (:mod:`twinnet.actions`) bounds what the network can physically do; the
operator's :class:`Policy` bounds what it *may* do — which action types, tilt and power ranges,
offsets, drone altitudes and power, how many actions per plan and per cell per hour, whether
active cells may be switched off. :meth:`Policy.check` tells, for one action, which clause it
breaks (``None``: none). The knowledge base's ``policy.md`` describes the same rules to the
language model; the guardrails (:mod:`twinnet.llm.guardrails`) and the RRM engine's candidate
sets apply them.

>>> from twinnet.actions import SetCellOffset
>>> Policy().check(SetCellOffset(cell="S0/1", offset_db=9.0), network=None).clause
'max_offset_db'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from twinnet.actions import (
    AddCarrier,
    DeployDrone,
    SetCellActive,
    SetCellOffset,
    SetElectricalTilt,
    SetTxPower,
)

if TYPE_CHECKING:
    from twinnet.network.topology import Network

__all__ = ["CAPACITY_TYPES", "Policy", "PolicyViolation"]

#: action types that can change cell load (the capacity task's vocabulary; drones are
#: offered only where the scenario has a fleet, and the decision engine adds ``blank_prbs``
#: where it has a radar)
CAPACITY_TYPES = ("set_electrical_tilt", "set_tx_power", "set_cell_offset", "set_cell_active",
                  "add_carrier", "deploy_drone")


@dataclass(frozen=True)
class PolicyViolation:
    """An action's ``field = value`` breaks the policy clause ``clause`` (``reason`` says how)."""

    clause: str
    field: str
    value: Any
    reason: str


class Policy(BaseModel):
    """Operator policy the proposals must respect (tighter than the catalogue's bounds)."""

    model_config = ConfigDict(extra="forbid")
    allowed_types: tuple[str, ...] = CAPACITY_TYPES
    max_actions_per_plan: int = Field(8, ge=1, le=64)
    max_actions_per_cell_per_hour: int = Field(2, ge=1, le=100)
    tilt_deg: tuple[float, float] = (0.0, 16.0)
    macro_power_dbm: tuple[float, float] = (37.0, 46.0)
    max_offset_db: float = Field(6.0, ge=0.0, le=24.0)
    drone_altitude_m: tuple[float, float] = (30.0, 120.0)
    drone_max_power_dbm: float = Field(30.0, ge=0.0, le=40.0)
    max_drones: int = Field(2, ge=0, le=10)
    #: switching an active cell off is an energy-saving / outage action with its own rules
    allow_switch_off: bool = False

    def check(self, action: Any, network: Network | None, drones_in_plan: int = 0
              ) -> PolicyViolation | None:
        """The clause ``action`` breaks, or ``None``. ``network`` (the state the action would
        change; ``None``: checks that need it are skipped) tells macro cells from drone cells
        and active cells from inactive ones; ``drones_in_plan`` counts the drones the plan
        already deploys."""
        a = action
        if a.type not in self.allowed_types:
            return PolicyViolation("allowed_types", "type", a.type,
                                   f"not allowed by policy ({list(self.allowed_types)})")
        if isinstance(a, SetElectricalTilt):
            lo, hi = self.tilt_deg
            if not lo <= a.tilt_deg <= hi:
                return PolicyViolation("tilt_deg", "tilt_deg", a.tilt_deg,
                                       f"outside the policy range [{lo}, {hi}]")
        if isinstance(a, SetTxPower) and network is not None:
            lo, hi = self.macro_power_dbm
            names = network.cell_names
            if a.cell in names and not network.is_drone_site()[network.cell_site[names.index(
                    a.cell)]] and not lo <= a.tx_power_dbm <= hi:
                return PolicyViolation("macro_power_dbm", "tx_power_dbm", a.tx_power_dbm,
                                       f"outside the policy range [{lo}, {hi}] dBm")
        if isinstance(a, SetCellActive) and not a.active and not self.allow_switch_off \
                and network is not None:
            names = network.cell_names
            if a.cell in names and network.cell_active[names.index(a.cell)]:
                return PolicyViolation("allow_switch_off", "active", a.active,
                                       "switching an active cell off is not allowed by policy")
        if isinstance(a, SetCellOffset | AddCarrier) and abs(a.offset_db) > self.max_offset_db:
            return PolicyViolation("max_offset_db", "offset_db", a.offset_db,
                                   f"policy limits offsets to ±{self.max_offset_db:g} dB")
        if isinstance(a, DeployDrone):
            if drones_in_plan >= self.max_drones:
                return PolicyViolation("max_drones", "type", a.type,
                                       f"at most {self.max_drones} drones per plan")
            lo, hi = self.drone_altitude_m
            if not lo <= a.altitude_m <= hi:
                return PolicyViolation("drone_altitude_m", "altitude_m", a.altitude_m,
                                       f"outside the policy range [{lo:g}, {hi:g}] m")
            if a.tx_power_dbm > self.drone_max_power_dbm:
                return PolicyViolation("drone_max_power_dbm", "tx_power_dbm", a.tx_power_dbm,
                                       f"drones transmit at most {self.drone_max_power_dbm:g} dBm")
        return None
