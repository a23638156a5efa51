"""Scenario files: TOML → validated configuration objects.

A scenario describes a network (layout, carriers, antennas), its propagation environment, its
users and their demand. Every field is checked by pydantic; problems are reported as
``ScenarioError`` with the field path, the value found and what was expected. Built-in scenarios
live in ``twinnet/scenarios/*.toml`` and are loaded by name (``load_scenario("hotspot")``).
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from twinnet.errors import InputError, ScenarioError
from twinnet.radio.constants import canonical_scenario
from twinnet.radio.nr import n_prb

__all__ = [
    "Antenna",
    "Carrier",
    "CsvLayout",
    "Demand",
    "HexLayout",
    "Hotspot",
    "LinkConfig",
    "Propagation",
    "Radio",
    "Raster",
    "Scenario",
    "Users",
    "builtin_scenarios",
    "load_scenario",
]


class _FieldProblem(ValueError):
    """A cross-field problem raised in a validator, reported at ``path`` with ``value``."""

    def __init__(self, path: str, value: Any, expected: str):
        super().__init__(expected)
        self.path, self.value, self.expected = path, value, expected


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _hex_site_count(rings: int) -> int:
    return 1 + 3 * rings * (rings + 1)


class HexLayout(_Model):
    """Hexagonal grid of ``n_sites`` sites (1, 7, 19, 37, …) with ``sectors`` cells each.

    ``orientation_deg`` is the direction of the first neighbouring site; the default 30° with
    boresights 30°/150°/270° is the 3GPP layout (boresights point at neighbouring sites)."""

    type: Literal["hex"] = "hex"
    n_sites: int = Field(19, ge=1, le=5000)
    isd_m: float = Field(500.0, gt=0, le=100_000)
    bs_height_m: float = Field(25.0, gt=0, le=300)
    sectors: Literal[1, 3] = 3
    azimuths_deg: list[float] = Field(default_factory=lambda: [30.0, 150.0, 270.0])
    mechanical_tilt_deg: float = Field(0.0, ge=-30, le=45)
    electrical_tilt_deg: float = Field(6.0, ge=-30, le=45)
    wrap_around: bool = False
    orientation_deg: float = Field(30.0, ge=-180, le=180)

    @field_validator("n_sites")
    @classmethod
    def _hexagonal_number(cls, v: int) -> int:
        valid = [_hex_site_count(r) for r in range(0, 41)]
        if v not in valid:
            raise ValueError(f"a hexagonal site count ({', '.join(map(str, valid[:7]))}, ...)")
        return v

    @model_validator(mode="after")
    def _check(self) -> HexLayout:
        if len(self.azimuths_deg) != self.sectors:
            raise ValueError(
                f"azimuths_deg has {len(self.azimuths_deg)} entries but sectors = {self.sectors}"
            )
        if self.wrap_around and self.n_sites not in (7, 19, 37):
            raise ValueError("wrap_around needs n_sites in (7, 19, 37)")
        return self


class CsvLayout(_Model):
    """Explicit cells from a CSV file: one row per cell with columns
    ``site, x_m, y_m, height_m, azimuth_deg`` and optionally ``mechanical_tilt_deg``,
    ``electrical_tilt_deg``, ``tx_power_dbm``. A relative ``path`` is resolved against the
    scenario file's folder."""

    type: Literal["csv"] = "csv"
    path: str
    omni: bool = False


Layout = Annotated[HexLayout | CsvLayout, Field(discriminator="type")]


class Carrier(_Model):
    """One NR carrier deployed on every sector: centre frequency, bandwidth, numerology, power."""

    name: str = "c1"
    fc_ghz: float = Field(3.5, ge=0.5, le=100.0)
    bandwidth_mhz: float = Field(20.0, gt=0)
    scs_khz: Literal[15, 30, 60, 120] = 30
    tx_power_dbm: float = Field(46.0, ge=-10, le=70)
    #: lit on every sector from the start; ``false``: a capacity reserve whose cells are built
    #: switched off (the ``add_carrier`` action lights it on a sector)
    active: bool = True

    @model_validator(mode="after")
    def _check_prb(self) -> Carrier:
        try:
            n_prb(self.bandwidth_mhz, self.scs_khz)
        except InputError as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def n_prb(self) -> int:
        return n_prb(self.bandwidth_mhz, self.scs_khz)


class Antenna(_Model):
    """BS antenna: TR 38.901 Table 7.3-1 element with an M × 1 vertical array, or ``omni``."""

    model: Literal["38.901", "omni"] = "38.901"
    n_vertical: int = Field(10, ge=1, le=64)
    spacing_wavelengths: float = Field(0.5, gt=0, le=4)
    element_gain_dbi: float = Field(8.0, ge=-10, le=30)
    hpbw_h_deg: float = Field(65.0, gt=0, le=360)
    hpbw_v_deg: float = Field(65.0, gt=0, le=180)
    sla_v_db: float = Field(30.0, ge=0, le=100)
    a_max_db: float = Field(30.0, ge=0, le=100)


class Propagation(_Model):
    """TR 38.901 propagation scenario and large-scale options."""

    scenario: str = "UMa"
    shadowing: bool = True
    spatially_consistent: bool = True
    o2i_high_loss_fraction: float = Field(0.5, ge=0, le=1)
    min_distance_m: float | None = Field(None, ge=0)

    @field_validator("scenario")
    @classmethod
    def _scenario(cls, v: str) -> str:
        try:
            return canonical_scenario(v)
        except InputError:
            raise ValueError(
                "one of UMa, UMi-Street-Canyon, RMa, InH-Office-Mixed, InH-Office-Open"
            ) from None

    @property
    def min_distance(self) -> float:
        if self.min_distance_m is not None:
            return self.min_distance_m
        return {"UMa": 35.0, "UMi-Street-Canyon": 10.0, "RMa": 35.0}.get(self.scenario, 1.0)


class Hotspot(_Model):
    """A Gaussian cluster of users centred at ``(x_m, y_m)`` with standard deviation
    ``radius_m``, receiving ``fraction`` of all users."""

    x_m: float
    y_m: float
    radius_m: float = Field(50.0, gt=0)
    fraction: float = Field(0.2, gt=0, le=1)
    demand_factor: float = Field(1.0, gt=0, le=1000)


class SmallCell(_Model):
    """A candidate small-cell site: built into the network *inactive* (an RRM action can
    switch it on). One directional sector on one carrier (default: the first)."""

    name: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$")
    x_m: float
    y_m: float
    height_m: float = Field(10.0, ge=1.5, le=50.0)
    tx_power_dbm: float = Field(30.0, ge=0.0, le=46.0)
    bearing_deg: float = Field(0.0, ge=-360.0, le=360.0)
    electrical_tilt_deg: float = Field(10.0, ge=-5.0, le=30.0)
    carrier: str | None = None
    active: bool = False
    capex: float = Field(50.0, ge=0.0, description="cost of activating it (arbitrary units)")


class Raster(_Model):
    """A demand map: ``source = "milan"`` reads the Telecom Italia per-square totals
    (``../shared/data/milan`` or ``$TWINNET_DATA/milan``), cropping ``size`` × ``size`` squares
    centred on square ``center_square`` (5060 is the Duomo); ``source = "csv"`` reads ``path``
    with columns ``x_m, y_m, weight`` on a regular grid of ``cell_size_m``."""

    source: Literal["milan", "csv"] = "milan"
    path: str | None = None
    center_square: int = Field(5060, ge=1, le=10000)
    size: int = Field(10, ge=1, le=100)
    cell_size_m: float = Field(235.0, gt=0)


class Users(_Model):
    """Where users are and how many. ``indoor_fraction`` is the share of users inside
    buildings behind an outdoor-to-indoor (O2I) penetration loss, on ``floors``; the others
    stand at ``outdoor_height_m``. In an InH-Office scenario the base stations are indoors with
    the users: no O2I loss (indoor fraction 0) and a UE height of 1 m unless given."""

    count: int = Field(1000, ge=1, le=50_000_000)
    indoor_fraction: float = Field(0.8, ge=0, le=1)
    distribution: Literal["uniform", "hotspots", "raster"] = "uniform"
    hotspots: list[Hotspot] = Field(default_factory=list)
    raster: Raster | None = None
    floors: tuple[int, int] = (4, 8)
    outdoor_height_m: float = Field(1.5, gt=0, le=50)

    @model_validator(mode="after")
    def _check(self) -> Users:
        if self.distribution == "hotspots" and not self.hotspots:
            raise ValueError("distribution 'hotspots' needs at least one [[users.hotspots]]")
        if self.distribution == "raster" and self.raster is None:
            raise ValueError("distribution 'raster' needs a [users.raster] table")
        if sum(h.fraction for h in self.hotspots) > 1.0 + 1e-9:
            raise ValueError("hotspot fractions add up to more than 1")
        lo, hi = self.floors
        if not 1 <= lo <= hi <= 200:
            raise ValueError(f"floors must satisfy 1 <= min <= max <= 200, got {self.floors}")
        return self


class Demand(_Model):
    """Per-user offered traffic. ``diurnal`` scales it by hour of day: ``flat``, ``milan``
    (hourly profile of the Milan 10-minute series; falls back to an error if the data is
    absent), ``typical`` (a built-in urban profile) or 24 explicit factors."""

    per_user_mbps: float = Field(1.0, ge=0, le=100_000)
    distribution: Literal["constant", "lognormal"] = "constant"
    lognormal_sigma: float = Field(0.5, ge=0, le=5)
    diurnal: Literal["flat", "milan", "typical"] | list[float] = "typical"
    hour: int | None = Field(None, ge=0, le=23)

    @field_validator("diurnal")
    @classmethod
    def _diurnal(cls, v: Any) -> Any:
        if isinstance(v, list) and (len(v) != 24 or any(x < 0 for x in v) or max(v) <= 0):
            raise ValueError("24 non-negative hourly factors with a positive maximum")
        return v


class LinkConfig(_Model):
    """Link abstraction and interference model."""

    model: Literal["shannon", "cqi1", "cqi2"] = "shannon"
    alpha: float = Field(0.6, gt=0, le=1)
    sinr_min_db: float = Field(-10.0, ge=-30, le=30)
    se_max: float = Field(7.4063, gt=0, le=20)
    gap_db: float = Field(1.5, ge=0, le=20)
    interference: Literal["load", "full-buffer"] = "load"
    overhead: float = Field(0.14, ge=0, lt=1)


class Radio(_Model):
    """Receiver and uplink parameters."""

    ue_noise_figure_db: float = Field(9.0, ge=0, le=30)
    bs_noise_figure_db: float = Field(5.0, ge=0, le=30)
    ue_max_power_dbm: float = Field(23.0, ge=-40, le=40)
    ul_p0_dbm: float = Field(-90.0, ge=-202, le=24)
    ul_alpha: float = Field(0.8, ge=0, le=1)
    noise_bandwidth: Literal["occupied", "channel"] = "occupied"


class Scenario(_Model):
    name: str = "scenario"
    description: str = ""
    seed: int = Field(0, ge=0)
    layout: Layout = Field(default_factory=HexLayout)
    carriers: list[Carrier] = Field(default_factory=lambda: [Carrier()], min_length=1)
    antenna: Antenna = Field(default_factory=Antenna)
    propagation: Propagation = Field(default_factory=Propagation)
    users: Users = Field(default_factory=Users)
    demand: Demand = Field(default_factory=Demand)
    link: LinkConfig = Field(default_factory=LinkConfig)
    radio: Radio = Field(default_factory=Radio)
    small_cells: list[SmallCell] = Field(default_factory=list)
    base_dir: str | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _indoor_office(self) -> Scenario:
        """InH-Office (TR 38.901 Table 7.4.1-1): users and base stations share the building,
        so there is no O2I penetration loss, and h_UT = 1 m."""
        if not self.propagation.scenario.startswith("InH"):
            return self
        u = self.users
        given = u.model_fields_set
        if "indoor_fraction" in given and u.indoor_fraction > 0:
            raise _FieldProblem(
                "users.indoor_fraction", u.indoor_fraction,
                f"0 in an {self.propagation.scenario} scenario (the users are in the office "
                "with the base stations; TR 38.901 applies no O2I penetration loss there)")
        update: dict[str, Any] = {"indoor_fraction": 0.0}
        if "outdoor_height_m" not in given:
            update["outdoor_height_m"] = 1.0
        object.__setattr__(self, "users", u.model_copy(update=update))
        return self

    @model_validator(mode="after")
    def _unique_carriers(self) -> Scenario:
        names = [c.name for c in self.carriers]
        if len(set(names)) != len(names):
            raise ValueError(f"carrier names must be unique, got {names}")
        for sc in self.small_cells:
            if sc.carrier is not None and sc.carrier not in names:
                raise ValueError(f"small cell {sc.name!r}: carrier {sc.carrier!r} is not one "
                                 f"of {names}")
        sc_names = [s.name for s in self.small_cells]
        if len(set(sc_names)) != len(sc_names):
            raise ValueError(f"small-cell names must be unique, got {sc_names}")
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> Scenario:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ScenarioError(source, _problems(exc)) from None

    @classmethod
    def from_toml(cls, path: str | Path) -> Scenario:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(str(p), [("<file>", str(p), f"a readable file ({exc})")]) from None
        return cls.from_toml_text(text, source=str(p), base_dir=str(p.parent.resolve()))

    @classmethod
    def from_toml_text(cls, text: str, source: str = "<toml>", base_dir: str | None = None
                       ) -> Scenario:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(source, [("<toml>", None, f"valid TOML ({exc})")]) from None
        if base_dir is not None:
            data["base_dir"] = base_dir
        return cls.from_dict(data, source)

    def with_updates(self, **changes: Any) -> Scenario:
        """A copy with top-level fields replaced and re-validated (e.g. ``users=...``)."""
        data = self.model_dump()
        data["base_dir"] = self.base_dir
        for key, value in changes.items():
            data[key] = value.model_dump() if isinstance(value, BaseModel) else value
        return Scenario.from_dict(data, source=f"{self.name} (updated)")


def _problems(exc: ValidationError) -> list[tuple[str, Any, str]]:
    out: list[tuple[str, Any, str]] = []
    for err in exc.errors():
        loc = [str(x) for x in err["loc"]]
        # drop discriminator tags inserted by pydantic for tagged unions
        loc = [part for part in loc if part not in ("hex", "csv")]
        path = ".".join(loc) or "<root>"
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if err["type"] == "extra_forbidden":
            msg = "not a known field (check the spelling)"
        problem = (err.get("ctx") or {}).get("error")
        if isinstance(problem, _FieldProblem):
            out.append((problem.path, problem.value, problem.expected))
            continue
        out.append((path, err.get("input"), msg))
    return out


def builtin_scenarios() -> list[str]:
    """Names of the scenarios shipped with TwinNet."""
    folder = resources.files("twinnet") / "scenarios"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a built-in scenario by name or a TOML file by path."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        return Scenario.from_toml(p)
    name = str(name_or_path)
    if name not in builtin_scenarios():
        raise ScenarioError(
            name, [("scenario", name, f"a .toml path or one of {builtin_scenarios()}")]
        )
    res = resources.files("twinnet") / "scenarios" / f"{name}.toml"
    with resources.as_file(res) as real:
        return Scenario.from_toml(real)
