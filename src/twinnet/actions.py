"""The action catalogue: typed, bounded changes that the twin, the RRM engine, the LLM engine
and the V2P interface all speak.

Every action is a pydantic model with a ``type`` tag and bounds on its values, names the
cells it touches, and applies itself to a :class:`~twinnet.network.topology.Network`. A bad
value is rejected when the action is built (``field = value: expected``), never clipped.

>>> a = SetTxPower(cell="S0/1", tx_power_dbm=43.0)
>>> a.touched_cells()
['S0/1']
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from twinnet.errors import InputError
from twinnet.network.topology import Network

__all__ = ["Action", "ActionPlan", "BlankPRBs", "ReservePRBs", "SetCellActive", "SetCellOffset",
           "SetElectricalTilt", "SetTxPower", "action_schema", "parse_action"]


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


class SetTxPower(_Action):
    """Set a cell's total transmit power [dBm] (TS 38.104 wide-area BS: up to 49 dBm / 80 W)."""

    type: Literal["set_tx_power"] = "set_tx_power"
    tx_power_dbm: float = Field(ge=0.0, le=49.0)

    def apply(self, network: Network) -> None:
        network.cell_tx_power_dbm[self._index(network)] = self.tx_power_dbm


class SetElectricalTilt(_Action):
    """Set a cell's electrical downtilt [deg] (remote electrical tilt, typically 0…15°)."""

    type: Literal["set_electrical_tilt"] = "set_electrical_tilt"
    tilt_deg: float = Field(ge=-5.0, le=20.0)
    COST: ClassVar[float] = 2.0
    CHANGES_GAINS: ClassVar[bool] = True

    def apply(self, network: Network) -> None:
        network.cell_elec_tilt_deg[self._index(network)] = self.tilt_deg


class SetCellOffset(_Action):
    """Set a cell's individual offset [dB] (handover / cell-selection bias, TS 38.331
    ``cellIndividualOffset`` −24…24 dB)."""

    type: Literal["set_cell_offset"] = "set_cell_offset"
    offset_db: float = Field(ge=-24.0, le=24.0)

    def apply(self, network: Network) -> None:
        network.cell_cio_db[self._index(network)] = self.offset_db


class SetCellActive(_Action):
    """Switch a cell on or off (energy saving, outage emulation)."""

    type: Literal["set_cell_active"] = "set_cell_active"
    active: bool
    COST: ClassVar[float] = 20.0

    def apply(self, network: Network) -> None:
        network.cell_active[self._index(network)] = self.active


class ReservePRBs(_Action):
    """Reserve PRBs of a cell for a network slice (TS 28.541 RRM policy dedicated ratio, as a
    PRB count); the cell's other traffic gets the rest. ``n_prb = 0`` removes the reservation."""

    type: Literal["reserve_prbs"] = "reserve_prbs"
    slice_id: str = Field("default", min_length=1, max_length=32,
                          pattern=r"^[A-Za-z0-9_.\-]+$")
    n_prb: int = Field(ge=0, le=273)
    COST: ClassVar[float] = 1.0

    def apply(self, network: Network) -> None:
        i = self._index(network)
        _check_prbs(network, i, self.n_prb, "n_prb")
        network.ensure_prb_arrays()
        assert network.cell_prb_reserved is not None
        network.cell_prb_reserved[i] = self.n_prb


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


def _check_prbs(network: Network, i: int, n: int, field: str) -> None:
    total = int(network.cell_n_prb[i])
    if n >= total:
        raise InputError(field, n, f"fewer than the {total} PRBs of cell "
                                   f"{network.cell_names[i]}")


Action = Annotated[SetTxPower | SetElectricalTilt | SetCellOffset | SetCellActive | ReservePRBs
                   | BlankPRBs, Field(discriminator="type")]
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


def action_schema() -> dict[str, Any]:
    """JSON Schema of an :class:`ActionPlan` (for constrained decoding by the LLM engine)."""
    return ActionPlan.model_json_schema()
