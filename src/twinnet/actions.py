"""The action catalogue: typed, bounded changes that the twin, the RRM engine, the LLM engine
and the V2P interface all speak.

Every action is a pydantic model with a ``type`` tag and bounds on its values, names the
cells it touches, applies itself to a :class:`~twinnet.network.topology.Network` and knows its
own inverse (the actions that restore a network's state before it, :meth:`ActionPlan.inverse`).
A bad value is rejected when the action is built (``field = value: expected``), never clipped.

>>> a = SetTxPower(cell="S0/1", tx_power_dbm=43.0)
>>> a.touched_cells()
['S0/1']

References
----------
* M. Haider, I. Ahmed, Z. Hassan, K. Hasan and H. V. Poor, "LLM-Integrated Digital Twins for
  Hierarchical Resource Allocation in 6G Networks" (LLM-DTNet).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from twinnet.errors import InputError
from twinnet.network.topology import Blanking, Network

__all__ = [
    "Action",
    "ActionPlan",
    "AddCarrier",
    "AllocateIoTUplink",
    "BlankPRBs",
    "DeployDrone",
    "IoTGrant",
    "RemoveCarrier",
    "ReservePRBs",
    "ScheduleBlanking",
    "SetCellActive",
    "SetCellOffset",
    "SetElectricalTilt",
    "SetHandoverParams",
    "SetNeighbourOffset",
    "SetTxPower",
    "action_schema",
    "describe_action",
    "parse_action",
]


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cell: str = Field(min_length=1, max_length=64, description="target cell id")

    #: cost of one action of this kind (operational effort, energy or capex; arbitrary units)
    COST: ClassVar[float] = 1.0
    #: the action changes link gains (tilt): a what-if must recompute the links it touches
    CHANGES_GAINS: ClassVar[bool] = False

    def touched_cells(self) -> list[str]:
        return [self.cell]

    def cost(self) -> float:
        return self.COST

    def _index(self, network: Network) -> int:
        names = network.cell_names
        try:
            return names.index(self.cell)
        except ValueError:
            raise InputError("cell", self.cell, "a cell of the network") from None

    def apply(self, network: Network) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def inverse(self, before: Network) -> list[Any]:  # pragma: no cover - abstract
        """The actions that restore ``before``'s values of what this action changes (in the
        order they are to be applied when undoing it)."""
        raise NotImplementedError


class SetTxPower(_Action):
    """Set a cell's total transmit power [dBm] (TS 38.104 wide-area BS: up to 49 dBm / 80 W)."""

    type: Literal["set_tx_power"] = "set_tx_power"
    tx_power_dbm: float = Field(ge=0.0, le=49.0)

    def apply(self, network: Network) -> None:
        network.cell_tx_power_dbm[self._index(network)] = self.tx_power_dbm

    def inverse(self, before: Network) -> list[Any]:
        return [SetTxPower(cell=self.cell,
                           tx_power_dbm=float(before.cell_tx_power_dbm[self._index(before)]))]


class SetElectricalTilt(_Action):
    """Set a cell's electrical downtilt [deg] (remote electrical tilt, typically 0…15°)."""

    type: Literal["set_electrical_tilt"] = "set_electrical_tilt"
    tilt_deg: float = Field(ge=-5.0, le=20.0)
    COST: ClassVar[float] = 2.0
    CHANGES_GAINS: ClassVar[bool] = True

    def apply(self, network: Network) -> None:
        network.cell_elec_tilt_deg[self._index(network)] = self.tilt_deg

    def inverse(self, before: Network) -> list[Any]:
        return [SetElectricalTilt(cell=self.cell,
                                  tilt_deg=float(before.cell_elec_tilt_deg[self._index(before)]))]


class SetCellOffset(_Action):
    """Set a cell's individual offset [dB] (handover / cell-selection bias, TS 38.331
    ``cellIndividualOffset`` −24…24 dB)."""

    type: Literal["set_cell_offset"] = "set_cell_offset"
    offset_db: float = Field(ge=-24.0, le=24.0)

    def apply(self, network: Network) -> None:
        network.cell_cio_db[self._index(network)] = self.offset_db

    def inverse(self, before: Network) -> list[Any]:
        return [SetCellOffset(cell=self.cell,
                              offset_db=float(before.cell_cio_db[self._index(before)]))]


class SetNeighbourOffset(_Action):
    """Set the handover offset of ``neighbour`` as seen from ``cell`` [dB] (the neighbour's
    ``cellIndividualOffset`` in ``cell``'s measurement object, TS 38.331): positive hands users
    of ``cell`` over to ``neighbour`` earlier, negative later. ``offset_db = None`` removes the
    pair's offset (the neighbour's own offset applies again). It acts on connected-mode
    handovers only, not on cell selection."""

    type: Literal["set_neighbour_offset"] = "set_neighbour_offset"
    neighbour: str = Field(min_length=1, max_length=64, description="the neighbour cell")
    offset_db: float | None = Field(ge=-24.0, le=24.0)

    def _pair(self, network: Network) -> tuple[int, int]:
        s = self._index(network)
        names = network.cell_names
        if self.neighbour not in names:
            raise InputError("neighbour", self.neighbour, "a cell of the network")
        n = names.index(self.neighbour)
        if n == s:
            raise InputError("neighbour", self.neighbour, f"a cell other than {self.cell}")
        return s, n

    def apply(self, network: Network) -> None:
        key = self._pair(network)
        if self.offset_db is None:
            network.cell_pair_cio_db.pop(key, None)
        else:
            network.cell_pair_cio_db[key] = float(self.offset_db)

    def inverse(self, before: Network) -> list[Any]:
        prev = before.cell_pair_cio_db.get(self._pair(before))
        return [SetNeighbourOffset(cell=self.cell, neighbour=self.neighbour, offset_db=prev)]


class SetCellActive(_Action):
    """Switch a cell on or off (energy saving, outage emulation)."""

    type: Literal["set_cell_active"] = "set_cell_active"
    active: bool
    COST: ClassVar[float] = 20.0

    def apply(self, network: Network) -> None:
        network.cell_active[self._index(network)] = self.active

    def inverse(self, before: Network) -> list[Any]:
        return [SetCellActive(cell=self.cell, active=bool(before.cell_active[self._index(before)]))]


class SetHandoverParams(_Action):
    """The A3 hysteresis and time-to-trigger (TS 38.331 ``hysteresis``, ``timeToTrigger``) of
    the users a cell serves, e.g. shorter for fast vehicles (mobility state scaling) or longer
    where they ping-pong; both absent: back to the scenario's. ``time_to_trigger_ms`` must be
    one of TS 38.331's values."""

    type: Literal["set_handover_params"] = "set_handover_params"
    hysteresis_db: float | None = Field(None, ge=0.0, le=15.0, multiple_of=0.5)
    time_to_trigger_ms: int | None = Field(None, ge=0, le=5120)
    COST: ClassVar[float] = 0.5

    @model_validator(mode="after")
    def _ttt(self) -> SetHandoverParams:
        from twinnet.scenario import TTT_VALUES_MS

        if (self.hysteresis_db is None) != (self.time_to_trigger_ms is None):
            raise ValueError("hysteresis_db and time_to_trigger_ms together (both absent: "
                             "the scenario's settings)")
        if self.time_to_trigger_ms is not None and \
                self.time_to_trigger_ms not in TTT_VALUES_MS:
            raise ValueError(f"time_to_trigger_ms {self.time_to_trigger_ms} is not one of "
                             f"{list(TTT_VALUES_MS)} (TS 38.331)")
        return self

    def apply(self, network: Network) -> None:
        i = self._index(network)
        if self.hysteresis_db is None or self.time_to_trigger_ms is None:
            network.cell_handover.pop(i, None)
        else:
            network.cell_handover[i] = (self.hysteresis_db, float(self.time_to_trigger_ms))

    def inverse(self, before: Network) -> list[Any]:
        prev = before.cell_handover.get(self._index(before))
        if prev is None:
            return [SetHandoverParams(cell=self.cell)]
        return [SetHandoverParams(cell=self.cell, hysteresis_db=prev[0],
                                  time_to_trigger_ms=int(prev[1]))]


class ReservePRBs(_Action):
    """Reserve PRBs of a cell for a network slice (TS 28.541 RRM policy dedicated ratio, as a
    PRB count) in the ``direction`` given (``both``, ``dl`` or ``ul``): only the users of
    groups in slice ``slice_id`` are scheduled on them (first; what they still have to send
    competes for the shared PRBs), the cell's other traffic gets the rest. A cell may hold
    several slices. ``n_prb = 0`` removes the slice's reservation."""

    type: Literal["reserve_prbs"] = "reserve_prbs"
    slice_id: str = Field("default", min_length=1, max_length=32,
                          pattern=r"^[A-Za-z0-9_.\-]+$")
    n_prb: int = Field(ge=0, le=273)
    direction: Literal["both", "dl", "ul"] = "both"
    COST: ClassVar[float] = 1.0

    def apply(self, network: Network) -> None:
        i = self._index(network)
        sl = dict(network.cell_prb_slices.get(i, {}))
        if self.n_prb > 0:
            sl[self.slice_id] = (self.n_prb, self.direction)
        else:
            sl.pop(self.slice_id, None)
        for d in ("dl", "ul"):
            total = sum(n for n, x in sl.values() if x in ("both", d))
            _check_prbs(network, i, total, "n_prb")
        if sl:
            network.cell_prb_slices[i] = sl
        else:
            network.cell_prb_slices.pop(i, None)
        network.ensure_prb_arrays()
        assert network.cell_prb_reserved is not None
        network.cell_prb_reserved[i] = sum(n for n, x in sl.values() if x in ("both", "dl"))

    def inverse(self, before: Network) -> list[Any]:
        prev = before.cell_prb_slices.get(self._index(before), {}).get(self.slice_id)
        n, d = prev if prev is not None else (0, self.direction)
        return [ReservePRBs(cell=self.cell, slice_id=self.slice_id, n_prb=n,
                            direction=d)]


class BlankPRBs(_Action):
    """Blank the PRB range ``[start_prb, end_prb]`` of a cell (e.g. to share spectrum with a
    radar); ``end_prb = start_prb − 1`` blanks nothing (undoes a blanking)."""

    type: Literal["blank_prbs"] = "blank_prbs"
    start_prb: int = Field(ge=0, le=272)
    end_prb: int = Field(ge=-1, le=272)
    COST: ClassVar[float] = 2.0

    @model_validator(mode="after")
    def _range(self) -> BlankPRBs:
        if self.end_prb < self.start_prb - 1:
            raise ValueError(f"end_prb {self.end_prb} < start_prb {self.start_prb} - 1")
        return self

    @property
    def n_blanked(self) -> int:
        return self.end_prb - self.start_prb + 1

    def apply(self, network: Network) -> None:
        i = self._index(network)
        _check_prbs(network, i, self.end_prb + 1, "end_prb")
        network.ensure_prb_arrays()
        assert network.cell_prb_blanked is not None
        network.cell_prb_blanked[i] = self.n_blanked
        if self.n_blanked > 0:
            network.cell_blanking[i] = Blanking(self.start_prb, self.end_prb)
        elif network.cell_blanking.get(i, Blanking(0, -1)).period_s == 0:
            network.cell_blanking.pop(i, None)

    def inverse(self, before: Network) -> list[Any]:
        i = self._index(before)
        prev = 0 if before.cell_prb_blanked is None else int(before.cell_prb_blanked[i])
        b = before.cell_blanking.get(i)
        start = b.start_prb if b is not None and b.period_s == 0 else 0
        return [BlankPRBs(cell=self.cell, start_prb=start, end_prb=start + prev - 1)]


class ScheduleBlanking(_Action):
    """Blank the PRBs ``[start_prb, end_prb]`` of a cell only while a rotating radar's beam
    is predicted to point at it (spectrum sharing, LLM-DTNet §IV-B3): the cell's scheduler
    leaves them empty while ``phase_deg + 360 t / period_s`` (``t``: seconds on the network's
    clock) is within ``[from_deg, to_deg]``, both edges drifting by ``drift_deg_s`` per second
    (:class:`~twinnet.network.topology.Blanking`). ``end_prb = start_prb − 1`` removes the
    schedule."""

    type: Literal["schedule_blanking"] = "schedule_blanking"
    start_prb: int = Field(ge=0, le=272)
    end_prb: int = Field(ge=-1, le=272)
    period_s: float = Field(gt=0.0, le=3600.0, description="the radar's rotation period [s]")
    phase_deg: float = Field(ge=-360.0, le=360.0)
    from_deg: float = Field(ge=-720.0, le=720.0)
    to_deg: float = Field(ge=-720.0, le=720.0)
    drift_deg_s: float = Field(0.0, ge=-10.0, le=10.0)
    COST: ClassVar[float] = 1.0

    @model_validator(mode="after")
    def _range(self) -> ScheduleBlanking:
        if self.end_prb < self.start_prb - 1:
            raise ValueError(f"end_prb {self.end_prb} < start_prb {self.start_prb} - 1")
        if not 0.0 <= self.to_deg - self.from_deg <= 90.0:
            raise ValueError(f"the window [{self.from_deg:g}, {self.to_deg:g}] deg must be "
                             "0 to 90 deg wide (a wider one is a static blanking)")
        return self

    def apply(self, network: Network) -> None:
        i = self._index(network)
        _check_prbs(network, i, self.end_prb + 1, "end_prb")
        if self.end_prb < self.start_prb:
            if network.cell_blanking.get(i, Blanking(0, -1)).period_s > 0:
                network.cell_blanking.pop(i, None)
            return
        if network.cell_blanking.get(i, Blanking(0, -1, 1.0)).period_s == 0:
            raise InputError("cell", self.cell, "a cell without a static blanking (remove it "
                             "with blank_prbs first)")
        network.cell_blanking[i] = Blanking(self.start_prb, self.end_prb, self.period_s,
                                            self.phase_deg, self.from_deg, self.to_deg,
                                            self.drift_deg_s)

    def inverse(self, before: Network) -> list[Any]:
        b = before.cell_blanking.get(self._index(before))
        if b is None or b.period_s == 0:
            return [ScheduleBlanking(cell=self.cell, start_prb=0, end_prb=-1, period_s=1.0,
                                     phase_deg=0.0, from_deg=0.0, to_deg=0.0)]
        return [ScheduleBlanking(cell=self.cell, start_prb=b.start_prb, end_prb=b.end_prb,
                                 period_s=b.period_s, phase_deg=b.phase_deg,
                                 from_deg=b.from_deg, to_deg=b.to_deg,
                                 drift_deg_s=b.drift_deg_s)]


class _CarrierAction(_Action):
    carrier: str = Field(min_length=1, max_length=32, description="carrier name")

    def target_cell(self) -> str:
        """The cell of ``cell``'s site and sector on ``carrier`` (names ``SITE/SECTOR@CARRIER``)."""
        return f"{self.cell.split('@', 1)[0]}@{self.carrier}"

    def touched_cells(self) -> list[str]:
        return [self.target_cell()]

    def _set(self, network: Network, on: bool) -> None:
        names = network.cell_names
        t = self.target_cell()
        if t not in names:
            if self.carrier not in [c.name for c in network.carriers]:
                raise InputError("carrier", self.carrier,
                                 f"one of {[c.name for c in network.carriers]}")
            raise InputError("cell", self.cell, f"a sector with a cell on carrier {self.carrier}")
        network.cell_active[names.index(t)] = on


class AddCarrier(_CarrierAction):
    """Light a carrier on a sector (its cell on that carrier is switched on): capacity from
    spectrum the operator holds in reserve. ``cell`` names the sector (any of its cells).
    ``offset_db`` is the new cell's inter-frequency offset: users select the strongest RSRP +
    offset, so a co-sited carrier takes users only where its RSRP + offset beats theirs."""

    type: Literal["add_carrier"] = "add_carrier"
    offset_db: float = Field(0.0, ge=-24.0, le=24.0)
    COST: ClassVar[float] = 10.0

    def apply(self, network: Network) -> None:
        self._set(network, True)
        network.cell_cio_db[network.cell_names.index(self.target_cell())] = self.offset_db

    def inverse(self, before: Network) -> list[Any]:
        t = self.target_cell()
        j = before.cell_names.index(t)
        return [SetCellOffset(cell=t, offset_db=float(before.cell_cio_db[j])),
                SetCellActive(cell=t, active=bool(before.cell_active[j]))]


class RemoveCarrier(_CarrierAction):
    """Switch a sector's cell on a carrier off (energy saving at low load)."""

    type: Literal["remove_carrier"] = "remove_carrier"
    COST: ClassVar[float] = 2.0

    def apply(self, network: Network) -> None:
        self._set(network, False)

    def inverse(self, before: Network) -> list[Any]:
        t = self.target_cell()
        return [SetCellActive(cell=t, active=bool(before.cell_active[before.cell_names.index(t)]))]


class DeployDrone(_Action):
    """Deploy a drone (low-altitude platform) base station with one omnidirectional cell at a
    position and altitude, or move one already deployed (LLM-DTNet §IV-B2). ``cell`` is the
    drone's site name; its cell is ``NAME/1`` (``NAME/1@CARRIER`` in multi-carrier networks).
    The twin evaluates its links with the Al-Hourani air-to-ground model. Recall it with
    ``set_cell_active`` (``active = false``)."""

    type: Literal["deploy_drone"] = "deploy_drone"
    cell: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$",
                      description="site name of the drone")
    x_m: float = Field(ge=-50_000.0, le=50_000.0)
    y_m: float = Field(ge=-50_000.0, le=50_000.0)
    altitude_m: float = Field(ge=10.0, le=300.0, description="height above ground [m]")
    tx_power_dbm: float = Field(30.0, ge=0.0, le=40.0, description="total power (payload)")
    carrier: str | None = Field(None, max_length=32, description="carrier name (first if none)")
    COST: ClassVar[float] = 25.0
    CHANGES_GAINS: ClassVar[bool] = True

    def cell_name(self) -> str:
        return f"{self.cell}/1" + (f"@{self.carrier}" if self.carrier else "")

    def touched_cells(self) -> list[str]:
        return [self.cell_name()]

    def apply(self, network: Network) -> None:
        cars = [c.name for c in network.carriers]
        if self.carrier is None and len(cars) > 1:
            raise InputError("carrier", None, f"one of {cars} (the network has several)")
        if self.carrier is not None and self.carrier not in cars:
            raise InputError("carrier", self.carrier, f"one of {cars}")
        k = cars.index(self.carrier) if self.carrier is not None else 0
        network.place_drone(self.cell, self.x_m, self.y_m, self.altitude_m, self.tx_power_dbm,
                            k)

    def inverse(self, before: Network) -> list[Any]:
        """A drone that was already deployed flies back to where it was (and as it was); a new
        one cannot be undeployed by a directive: it lands (its cell is switched off)."""
        if self.cell not in before.site_names:
            return [SetCellActive(cell=self.cell_name(), active=False)]
        s = before.site_names.index(self.cell)
        c = int(np.flatnonzero(before.cell_site == s)[0])
        return [SetCellActive(cell=before.cell_names[c], active=bool(before.cell_active[c])),
                DeployDrone(cell=self.cell, x_m=float(before.site_x_m[s]),
                            y_m=float(before.site_y_m[s]),
                            altitude_m=float(before.site_height_m[s]),
                            tx_power_dbm=float(before.cell_tx_power_dbm[c]), carrier=self.carrier)]


class IoTGrant(BaseModel):
    """One IoT device's uplink grant: transmit power and resource blocks (LINKs p_i, b_ij)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    device: str = Field(min_length=1, max_length=64)
    tx_power_dbm: float = Field(ge=-40.0, le=23.0, description="TS 38.101 power class 3")
    resource_blocks: tuple[int, ...] = Field(min_length=1, max_length=273)

    @model_validator(mode="after")
    def _rbs(self) -> IoTGrant:
        if any(b < 0 for b in self.resource_blocks):
            raise ValueError(f"negative resource block in {list(self.resource_blocks)}")
        if len(set(self.resource_blocks)) != len(self.resource_blocks):
            raise ValueError(f"repeated resource block in {list(self.resource_blocks)}")
        return self


class AllocateIoTUplink(_Action):
    """IoT uplink power and resource-block allocation of a cell (the LINKs OPT (3)–(7) solution):
    every RB goes to at most one device. Replaces the cell's previous grants (no grants: clears
    them); the downlink load model is not affected (these are uplink resources)."""

    type: Literal["allocate_iot_uplink"] = "allocate_iot_uplink"
    grants: tuple[IoTGrant, ...] = Field(max_length=1024)
    COST: ClassVar[float] = 0.5

    @model_validator(mode="after")
    def _exclusive(self) -> AllocateIoTUplink:
        seen: dict[int, str] = {}
        devices: set[str] = set()
        for g in self.grants:
            if g.device in devices:
                raise ValueError(f"device {g.device!r} granted twice")
            devices.add(g.device)
            for b in g.resource_blocks:
                if b in seen:
                    raise ValueError(f"resource block {b} granted to {seen[b]!r} and "
                                     f"{g.device!r}")
                seen[b] = g.device
        return self

    def apply(self, network: Network) -> None:
        i = self._index(network)
        if not self.grants:
            network.iot_uplink.pop(self.cell, None)
            return
        top = max(b for g in self.grants for b in g.resource_blocks)
        _check_prbs(network, i, top, "grants.resource_blocks")
        network.iot_uplink[self.cell] = {g.device: (g.tx_power_dbm, g.resource_blocks)
                                         for g in self.grants}

    def inverse(self, before: Network) -> list[Any]:
        self._index(before)
        prev = before.iot_uplink.get(self.cell, {})
        return [AllocateIoTUplink(cell=self.cell, grants=tuple(
            IoTGrant(device=d, tx_power_dbm=p, resource_blocks=rb) for d, (p, rb) in prev.items()))]


def _check_prbs(network: Network, i: int, n: int, field: str) -> None:
    total = int(network.cell_n_prb[i])
    if n >= total:
        raise InputError(field, n, f"fewer than the {total} PRBs of cell "
                                   f"{network.cell_names[i]}")


Action = Annotated[SetTxPower | SetElectricalTilt | SetCellOffset | SetNeighbourOffset
                   | SetCellActive | SetHandoverParams | ReservePRBs | BlankPRBs
                   | ScheduleBlanking | AddCarrier | RemoveCarrier
                   | DeployDrone | AllocateIoTUplink, Field(discriminator="type")]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(Action)


def parse_action(data: dict[str, Any]) -> Action:
    """Validate untrusted action data; raises :class:`InputError` naming the field and value."""
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        loc = ".".join(str(p) for p in e["loc"])
        raise InputError(loc or "action", e.get("input"), e["msg"]) from None


class ActionPlan(BaseModel):
    """An ordered list of actions with the reason for them."""

    model_config = ConfigDict(extra="forbid")

    actions: list[Action] = Field(default_factory=list)
    rationale: str = Field(default="", max_length=4000)

    def touched_cells(self) -> list[str]:
        seen: dict[str, None] = {}
        for a in self.actions:
            for c in a.touched_cells():
                seen[c] = None
        return list(seen)

    def apply(self, network: Network) -> None:
        for a in self.actions:
            a.apply(network)

    def cost(self) -> float:
        return float(sum(a.cost() for a in self.actions))

    def changes_gains(self) -> bool:
        return any(a.CHANGES_GAINS for a in self.actions)

    def inverse(self, before: Network) -> ActionPlan:
        """The plan restoring ``before``'s values (the network this plan was applied to) of
        every parameter the plan changes: each action's inverse, last action first."""
        undo: list[Any] = []
        for a in self.actions:
            undo.extend(a.inverse(before))
        return ActionPlan(actions=list(reversed(undo)), rationale="rollback")

    def created_cells(self) -> list[str]:
        """Cells the plan creates (drone deployments) — unknown to the topology before it."""
        return [a.cell_name() for a in self.actions if isinstance(a, DeployDrone)]


def describe_action(a: Any) -> str:
    """One line naming an action and its fields: ``set_tx_power(cell=S1/1, tx_power_dbm=40.0)``
    (for logs, reports and the evidence a model is shown)."""
    d = a.model_dump()
    t = d.pop("type")
    return f"{t}(" + ", ".join(f"{k}={v}" for k, v in d.items()) + ")"


def action_schema() -> dict[str, Any]:
    """JSON Schema of an :class:`ActionPlan` (for constrained decoding by the LLM engine)."""
    return ActionPlan.model_json_schema()
