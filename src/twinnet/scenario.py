"""Scenario files: TOML → validated configuration objects.

A scenario describes a network (layout, carriers, antennas), its propagation environment, its
users and their demand. Every field is checked by pydantic; problems are reported as
``ScenarioError`` with the field path, the value found and what was expected. Built-in scenarios
live in ``twinnet/scenarios/*.toml`` and are loaded by name (``load_scenario("hotspot")``).
"""

from __future__ import annotations

import itertools
import tomllib
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from twinnet.errors import InputError, ScenarioError
from twinnet.radio.constants import canonical_scenario
from twinnet.radio.nr import n_prb

__all__ = [
    "Antenna",
    "BackhaulCongestion",
    "CalendarEvent",
    "Carrier",
    "CellOutage",
    "Crowd",
    "CsvLayout",
    "Demand",
    "Drones",
    "Event",
    "Handover",
    "HexLayout",
    "Hotspot",
    "LinkConfig",
    "LossArea",
    "Mobility",
    "PaDegradation",
    "Propagation",
    "Radar",
    "Radio",
    "Raster",
    "Scenario",
    "Simulation",
    "TiltFault",
    "TrackPoint",
    "Traffic",
    "Truth",
    "UserGroup",
    "Users",
    "builtin_scenarios",
    "load_scenario",
    "overlapping_prbs",
    "ramp_fraction",
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


class _SectorLayout(_Model):
    """Sectors of every site: their boresights and tilts."""

    sectors: Literal[1, 3] = 3
    azimuths_deg: list[float] = Field(default_factory=lambda: [30.0, 150.0, 270.0])
    mechanical_tilt_deg: float = Field(0.0, ge=-30, le=45)
    electrical_tilt_deg: float = Field(6.0, ge=-30, le=45)

    @model_validator(mode="after")
    def _azimuths(self) -> Any:
        if len(self.azimuths_deg) != self.sectors:
            raise ValueError(
                f"azimuths_deg has {len(self.azimuths_deg)} entries but sectors = {self.sectors}"
            )
        return self


class HexLayout(_SectorLayout):
    """Hexagonal grid of ``n_sites`` sites (1, 7, 19, 37, …) with ``sectors`` cells each.

    ``orientation_deg`` is the direction of the first neighbouring site; the default 30° with
    boresights 30°/150°/270° is the 3GPP layout (boresights point at neighbouring sites)."""

    type: Literal["hex"] = "hex"
    n_sites: int = Field(19, ge=1, le=5000)
    isd_m: float = Field(500.0, gt=0, le=100_000)
    bs_height_m: float = Field(25.0, gt=0, le=300)
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


class SceneLayout(_SectorLayout):
    """Sites on the rooftops of the city in ``[truth] scene`` (a ray-tracing scene's real
    geometry): the ``n_sites`` points of a hexagonal grid of spacing ``isd_m`` nearest the
    scene's centre (or ``center_m``), each moved to the nearest rooftop at least
    ``min_roof_m`` high, with a mast of ``mast_m`` on the roof."""

    type: Literal["scene"] = "scene"
    n_sites: int = Field(7, ge=1, le=200)
    isd_m: float = Field(300.0, ge=20.0, le=5000.0)
    center_m: tuple[float, float] | None = None
    min_roof_m: float = Field(10.0, ge=0.0, le=300.0)
    mast_m: float = Field(3.0, ge=0.0, le=100.0)


Layout = Annotated[HexLayout | CsvLayout | SceneLayout, Field(discriminator="type")]


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
    #: cell individual offset of this carrier's cells [dB] (cell selection ranks RSRP + offset):
    #: a capacity layer is made the users' first choice where it reaches them
    offset_db: float = Field(0.0, ge=-24.0, le=24.0)
    #: built on no sector: spectrum for drone base stations only (``[drones] carriers``)
    drones_only: bool = False

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
    distribution: Literal["uniform", "hotspots", "raster", "scene"] = "uniform"
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


# ============================================================================ living network
class Mobility(_Model):
    """How the users of a group move.

    * ``static`` — they stay where they were dropped;
    * ``random_waypoint`` — pedestrians walk in straight lines at a speed drawn from
      ``speed_mps`` (default 0.5–1.5 m/s) to uniformly drawn waypoints inside the network area,
      pause ``pause_s`` there, and go on; indoor users stay inside their building (a disc of
      ``indoor_radius_m`` around where they were dropped);
    * ``vehicles`` — cars on a Manhattan road grid of ``road_spacing_m`` (snapped to it at the
      start), at a speed drawn from ``speed_mps`` (default 8–14 m/s), choosing a direction at
      every intersection;
    * ``road`` — vehicles along one road (``road``: a polyline), half each way on their lane,
      at a speed drawn from ``speed_mps``, coming back in at the start when they reach the end;
    * ``streets`` — walkers (or, with a faster ``speed_mps``, drivers) on the streets of the
      scenario's city scene (``[truth] scene``): along the street, turning where it ends and
      now and then at random; they are outdoors;
    * ``trajectory`` — positions read from ``path`` (CSV ``user, t_s, x_m, y_m`` or a GPX file of
      tracks, one track per user), interpolated in time; users beyond the file's tracks are static.
    """

    model: Literal["static", "random_waypoint", "vehicles", "road", "streets",
                   "trajectory"] = "static"
    speed_mps: tuple[float, float] | None = None
    pause_s: tuple[float, float] = (0.0, 60.0)
    indoor_radius_m: float = Field(15.0, gt=0, le=500)
    road_spacing_m: float = Field(200.0, gt=5, le=5000)
    #: the ``road`` model's road: a polyline of (x, y) points [m]
    road: list[tuple[float, float]] | None = None
    path: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Mobility:
        if self.speed_mps is not None:
            lo, hi = self.speed_mps
            if not 0 <= lo <= hi <= 100:
                raise ValueError(f"speed_mps must satisfy 0 <= min <= max <= 100 m/s, got "
                                 f"{self.speed_mps}")
        lo, hi = self.pause_s
        if not 0 <= lo <= hi:
            raise ValueError(f"pause_s must satisfy 0 <= min <= max, got {self.pause_s}")
        if self.model == "trajectory" and not self.path:
            raise ValueError("model 'trajectory' needs a path (CSV or GPX)")
        if self.model == "road" and (not self.road or len(self.road) < 2):
            raise ValueError("model 'road' needs a road of at least two (x, y) points")
        return self

    @property
    def speed_range_mps(self) -> tuple[float, float]:
        """``speed_mps``, or the model's default (pedestrians 0.5–1.5, vehicles 8–14 m/s, a road
        22–33 m/s)."""
        if self.speed_mps is not None:
            return self.speed_mps
        if self.model == "road":
            return (22.0, 33.0)
        return (8.0, 14.0) if self.model == "vehicles" else (0.5, 1.5)


class Traffic(_Model):
    """What the users of a group send and receive, session by session.

    * ``demand`` — a constant bit rate equal to the user's configured demand
      (``[demand] per_user_mbps``), the snapshot twin's model;
    * ``full_buffer`` — always data to send (the cell's PRBs are shared among them);
    * ``ftp3`` — FTP model 3 (3GPP TR 36.814 Annex A / TR 36.889): files of ``file_size_mbit``
      arriving as a Poisson process of ``arrivals_per_s`` per user (default: the user's demand
      divided by the file size, so the offered load is the demand);
    * ``video`` — streaming: a segment of ``video_mbps`` × ``segment_s`` every ``segment_s``;
    * ``xr`` — XR (3GPP TR 38.838): ``fps`` frames per second at a rate drawn from ``xr_mbps``
      per user, each frame due within ``delay_budget_ms`` (default 10 ms);
    * ``iot`` — uplink packets of ``payload_bytes`` every ``period_s`` (random phase);
    * ``v2x`` — messages of ``payload_bytes`` at ``rate_hz`` with a ``delay_budget_ms``
      (default 100 ms) budget (3GPP TS 22.186 basic safety messages).

    Demand profiles (the scenario's diurnal profile at the clock's hour) scale the arrivals of
    ``demand``, ``ftp3``, ``video`` and ``xr`` sessions.
    """

    model: Literal["demand", "full_buffer", "ftp3", "video", "xr", "iot", "v2x"] = "demand"
    file_size_mbit: float = Field(4.0, gt=0, le=10_000)
    arrivals_per_s: float | None = Field(None, ge=0, le=1000)
    video_mbps: float = Field(5.0, gt=0, le=1000)
    segment_s: float = Field(2.0, gt=0, le=60)
    fps: float = Field(60.0, gt=0, le=240)
    xr_mbps: tuple[float, float] = (30.0, 45.0)
    delay_budget_ms: float | None = Field(None, gt=0, le=10_000)
    period_s: float = Field(60.0, gt=0, le=86_400)
    payload_bytes: int = Field(300, ge=1, le=10_000_000)
    rate_hz: float = Field(10.0, gt=0, le=1000)

    @property
    def budget_s(self) -> float | None:
        """The packet delay budget [s] of latency-sensitive models (XR 10 ms, V2X 100 ms unless
        ``delay_budget_ms`` says otherwise); ``None`` for the others."""
        if self.model == "xr":
            return (self.delay_budget_ms or 10.0) / 1000.0
        if self.model == "v2x":
            return (self.delay_budget_ms or 100.0) / 1000.0
        return None if self.delay_budget_ms is None else self.delay_budget_ms / 1000.0

    @property
    def uplink(self) -> bool:
        """IoT reports travel uplink; the other models are downlink."""
        return self.model == "iot"


class UserGroup(_Model):
    """A share of the scenario's users with its own mobility and traffic."""

    name: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$")
    fraction: float = Field(gt=0, le=1)
    mobility: Mobility = Field(default_factory=Mobility)
    traffic: Traffic = Field(default_factory=Traffic)
    #: the network slice the group's sessions belong to (``reserve_prbs`` with this
    #: ``slice_id`` dedicates PRBs of a cell to them); ``None``: the shared resources only
    slice: str | None = Field(None, min_length=1, max_length=32,
                              pattern=r"^[A-Za-z0-9_.\-]+$")


#: TS 38.331 ``TimeToTrigger`` values [ms]
TTT_VALUES_MS = (0, 40, 64, 80, 100, 128, 160, 256, 320, 480, 512, 640, 1024, 1280, 2560, 5120)
#: TS 38.331 ``t310`` values [ms]
T310_VALUES_MS = (0, 50, 100, 200, 500, 1000, 2000, 4000, 6000)


class Handover(_Model):
    """Mobility management (TS 38.331 event A3, TS 38.133 radio link monitoring).

    A user hands over when a neighbour's RSRP + its cell individual offset exceeds the serving
    cell's RSRP + offset by ``a3_offset_db`` + ``hysteresis_db`` for ``time_to_trigger_ms``; the
    handover fails when the target's SINR is below ``q_out_db``. A serving SINR below
    ``q_out_db`` starts T310 (``t310_ms``); above ``q_in_db`` stops it; when it expires the
    radio link fails and the user re-establishes on the best cell after ``reestablish_ms``
    (if one reaches ``q_in_db``). A handover back to the previous cell within ``ping_pong_s``
    is a ping-pong; a failure within ``mro_window_s`` after a handover is too early (back to
    the source) or to a wrong cell (a third one); a failure before any handover while a
    neighbour was better is too late.
    """

    a3_offset_db: float = Field(2.0, ge=-15, le=15)
    hysteresis_db: float = Field(1.0, ge=0, le=15)
    time_to_trigger_ms: int = 320
    q_out_db: float = Field(-8.0, ge=-20, le=10)
    q_in_db: float = Field(-6.0, ge=-20, le=10)
    t310_ms: int = 1000
    reestablish_ms: float = Field(200.0, ge=0, le=60_000)
    ping_pong_s: float = Field(1.0, ge=0, le=60)
    mro_window_s: float = Field(1.0, ge=0, le=60)

    @model_validator(mode="after")
    def _check(self) -> Handover:
        if self.time_to_trigger_ms not in TTT_VALUES_MS:
            raise ValueError(f"time_to_trigger_ms = {self.time_to_trigger_ms}: one of "
                             f"{list(TTT_VALUES_MS)} (TS 38.331)")
        if self.t310_ms not in T310_VALUES_MS:
            raise ValueError(f"t310_ms = {self.t310_ms}: one of {list(T310_VALUES_MS)} "
                             "(TS 38.331)")
        if self.q_in_db < self.q_out_db:
            raise ValueError(f"q_in_db ({self.q_in_db}) must not be below q_out_db "
                             f"({self.q_out_db})")
        return self


class Simulation(_Model):
    """The network in time: the clock's step, the reporting interval of counters and
    measurement reports, how often link gains follow moving users, and mobility management.

    ``start`` is the local time at t = 0 (the diurnal profile scales arrivals by the clock's
    hour). Link gains of moving users are recomputed whenever the fastest group may have moved
    ``gain_refresh_m`` since the last time (at most every step, at least every 60 s)."""

    step_s: float = Field(1.0, ge=0.1, le=3600)
    report_s: float = Field(900.0, ge=0.1, le=86_400)
    gain_refresh_m: float = Field(5.0, gt=0, le=1000)
    start: str = "2013-11-04T00:00:00"
    reports_per_interval: int = Field(300, ge=0, le=1_000_000)
    handover: Handover = Field(default_factory=Handover)

    @model_validator(mode="after")
    def _check(self) -> Simulation:
        ratio = self.report_s / self.step_s
        if ratio < 1 - 1e-9 or abs(ratio - round(ratio)) > 1e-6:
            raise ValueError(f"report_s ({self.report_s:g}) must be a whole multiple of step_s "
                             f"({self.step_s:g})")
        try:
            datetime.fromisoformat(self.start)
        except ValueError:
            raise ValueError(f"start = {self.start!r}: an ISO 8601 local time, e.g. "
                             "2013-11-04T00:00:00") from None
        return self

    @property
    def steps_per_report(self) -> int:
        return round(self.report_s / self.step_s)


class _Event(_Model):
    at_s: float = Field(ge=0, description="when it starts [s after the simulation start]")
    duration_s: float | None = Field(None, gt=0, description="absent: to the end")

    @property
    def end_s(self) -> float:
        return float("inf") if self.duration_s is None else self.at_s + self.duration_s

    def active(self, t_s: float) -> bool:
        return self.at_s <= t_s < self.end_s


class CellOutage(_Event):
    """The cell stops transmitting (raises a cell-down alarm)."""

    type: Literal["cell_outage"] = "cell_outage"
    cell: str


class TiltFault(_Event):
    """The cell's antenna is tilted ``delta_deg`` more than recorded (no alarm)."""

    type: Literal["tilt_fault"] = "tilt_fault"
    cell: str
    delta_deg: float = Field(ge=-30, le=30)


class PaDegradation(_Event):
    """The cell's power amplifier delivers ``loss_db`` less than commanded (no alarm)."""

    type: Literal["pa_degradation"] = "pa_degradation"
    cell: str
    loss_db: float = Field(gt=0, le=40)


class BackhaulCongestion(_Event):
    """The site's backhaul carries at most ``capacity_mbps``."""

    type: Literal["backhaul_congestion"] = "backhaul_congestion"
    site: str
    capacity_mbps: float = Field(ge=0, le=1e6)


class TrackPoint(_Model):
    """A point of a moving thing's track: where it is ``t_s`` seconds after the simulation
    start (positions in between are linear)."""

    t_s: float = Field(ge=0)
    x_m: float
    y_m: float


def _along(track: list[TrackPoint], t_s: float) -> tuple[float, float]:
    ts = [p.t_s for p in track]
    return (float(np.interp(t_s, ts, [p.x_m for p in track])),
            float(np.interp(t_s, ts, [p.y_m for p in track])))


def _ordered(track: list[TrackPoint], path: str) -> None:
    ts = [p.t_s for p in track]
    if any(b <= a for a, b in itertools.pairwise(ts)):
        raise _FieldProblem(path, ts, "track points in increasing time")


class Crowd(_Event):
    """``users`` extra users gather in a disc: they arrive over ``ramp_in_s``, stay ``hold_s``
    and leave over ``ramp_out_s`` (an event's duration is the sum). Each wants
    ``per_user_mbps`` (default: the scenario's ``[demand] per_user_mbps``). With a ``track``
    the disc's centre moves along it (a march, a crowd leaving towards a station);
    ``x_m``/``y_m`` are then where it stands outside the track's times."""

    type: Literal["crowd"] = "crowd"
    x_m: float
    y_m: float
    radius_m: float = Field(gt=0, le=10_000)
    users: int = Field(ge=1, le=1_000_000)
    ramp_in_s: float = Field(600.0, ge=0)
    hold_s: float = Field(3600.0, ge=0)
    ramp_out_s: float = Field(600.0, ge=0)
    per_user_mbps: float | None = Field(None, ge=0, le=10_000)
    track: list[TrackPoint] = Field(default_factory=list)
    traffic: Traffic = Field(default_factory=Traffic)

    @model_validator(mode="after")
    def _track(self) -> Crowd:
        _ordered(self.track, "events.crowd.track")
        return self

    @property
    def end_s(self) -> float:
        return self.at_s + self.ramp_in_s + self.hold_s + self.ramp_out_s

    def centre(self, t_s: float) -> tuple[float, float]:
        """Where the crowd's centre is at ``t_s``."""
        if not self.track:
            return self.x_m, self.y_m
        return _along(self.track, t_s)

    def present_fraction(self, t_s: float) -> float:
        """Share of the crowd present at ``t_s`` (linear ramps)."""
        return ramp_fraction(t_s, self.at_s, self.ramp_in_s, self.hold_s, self.ramp_out_s)


def ramp_fraction(t_s: float, at_s: float, ramp_in_s: float, hold_s: float,
                  ramp_out_s: float) -> float:
    """Share of a gathering present at ``t_s``: 0 before ``at_s``, rising linearly over
    ``ramp_in_s``, 1 for ``hold_s``, falling linearly over ``ramp_out_s``."""
    t = t_s - at_s
    if t < 0 or t_s >= at_s + ramp_in_s + hold_s + ramp_out_s:
        return 0.0
    if t < ramp_in_s:
        return t / ramp_in_s
    t -= ramp_in_s
    if t < hold_s:
        return 1.0
    t -= hold_s
    return max(0.0, 1.0 - t / ramp_out_s) if ramp_out_s > 0 else 0.0


class CalendarEvent(_Model):
    """An event the operator knows of in advance (a match, a concert): where, how many are
    expected, and when the gates open (``at_s``), with the same ramps as a crowd. The truth's
    ``[[events]]`` crowd may differ (more come, they come earlier): the L2 crowd forecast starts
    from the calendar and corrects it from the arrivals it measures."""

    name: str = Field(min_length=1, max_length=64)
    x_m: float
    y_m: float
    radius_m: float = Field(gt=0, le=10_000)
    expected_users: int = Field(ge=1, le=1_000_000)
    at_s: float = Field(ge=0)
    ramp_in_s: float = Field(1800.0, ge=0)
    hold_s: float = Field(3600.0, ge=0)
    ramp_out_s: float = Field(1800.0, ge=0)
    per_user_mbps: float | None = Field(None, ge=0, le=10_000)

    def present_fraction(self, t_s: float) -> float:
        return ramp_fraction(t_s, self.at_s, self.ramp_in_s, self.hold_s, self.ramp_out_s)

    @property
    def end_s(self) -> float:
        return self.at_s + self.ramp_in_s + self.hold_s + self.ramp_out_s


class Drones(_Model):
    """The drone (low-altitude platform) base stations the RRM engine may fly in (LLM-DTNet
    §IV-B2): ``fleet`` airframes at a launch pad, each carrying one omnidirectional cell of
    ``tx_power_dbm`` on one of ``carriers`` (default: the first carrier; carriers with
    ``drones_only = true`` keep drones off the macro cells' spectrum, and several let nearby
    drones transmit on different ones) with ``backhaul_mbps`` of
    wireless backhaul, hovering at one of ``altitudes_m``. Energy (rotary wing, Zeng et al.
    2019): ``hover_power_w`` + ``payload_power_w`` on station, ``cruise_power_w`` in transit at
    ``speed_mps``; a battery of ``battery_wh`` of which ``reserve_fraction`` is never used. A
    station is held longer than one battery by rotation: a relief drone flies out before the
    one on station must return, and a landed drone needs ``swap_min`` for a fresh battery."""

    fleet: int = Field(6, ge=1, le=100)
    carriers: list[str] = Field(default_factory=list)
    tx_power_dbm: float = Field(30.0, ge=0.0, le=40.0)
    altitudes_m: list[float] = Field(default_factory=lambda: [60.0, 100.0, 150.0],
                                     min_length=1)
    backhaul_mbps: float = Field(150.0, gt=0, le=100_000)
    base_x_m: float = 0.0
    base_y_m: float = 0.0
    speed_mps: float = Field(15.0, gt=0, le=100)
    hover_power_w: float = Field(168.5, ge=0, le=10_000)
    payload_power_w: float = Field(60.0, ge=0, le=10_000)
    cruise_power_w: float = Field(180.0, ge=0, le=10_000)
    battery_wh: float = Field(250.0, gt=0, le=100_000)
    reserve_fraction: float = Field(0.2, ge=0, lt=1)
    swap_min: float = Field(5.0, ge=0, le=600)
    grid_m: float = Field(40.0, gt=0, le=1000, description="placement grid step [m]")
    #: cell individual offset of a drone's cell [dB]: on its own carrier it interferes with
    #: nobody, so users it reaches are made to prefer it (range extension)
    offset_db: float = Field(6.0, ge=0.0, le=24.0)

    @field_validator("altitudes_m")
    @classmethod
    def _alt(cls, v: list[float]) -> list[float]:
        if any(not 10.0 <= a <= 300.0 for a in v):
            raise ValueError(f"altitudes in [10, 300] m, got {v}")
        return v

    @property
    def station_power_w(self) -> float:
        return self.hover_power_w + self.payload_power_w

    def endurance_s(self) -> float:
        """How long a drone can stay on station (usable battery over station power)."""
        return 3600.0 * self.battery_wh * (1.0 - self.reserve_fraction) / max(
            self.station_power_w, 1e-9)

    def transit_s(self, x_m: float, y_m: float) -> float:
        return float(np.hypot(x_m - self.base_x_m, y_m - self.base_y_m)) / self.speed_mps

    def stations(self, reach_m: float) -> int:
        """How many stations ``reach_m`` from the pad the fleet holds without a gap: a station
        needs the drone on it plus, per endurance, the relief's round trip and battery swap."""
        turn = 2.0 * reach_m / self.speed_mps + 60.0 * self.swap_min
        e = self.endurance_s()
        return int(np.floor(self.fleet * e / (e + turn) + 1e-9))


class Radar(_Event):
    """A radar moving along ``track`` (positions at times, linear in between) with a beam
    rotating every ``rotation_s`` (azimuth ``phase_deg`` at the simulation start, counted like
    every azimuth here: degrees from the x axis, anticlockwise); its main lobe, ``eirp_dbm``
    peak over a ``beamwidth_deg`` beam transmitting a ``duty_cycle`` of the time, interferes
    with the users it sweeps, and the cells' emissions in its band must stay
    ``protection_i_n_db`` below the radar receiver's noise (ITU-R M.1464: I/N ≤ −6 dB). The
    radar receives with its antenna's ``gain_dbi`` in the main lobe and ``sidelobe_dbi``
    outside it; radar–cell paths lose free space plus ``clutter_loss_db`` (terrain and clutter
    over the long paths, ITU-R P.2108). A cell senses the radar's pulses as interference bursts
    when they arrive above ``detect_dbm`` at its antenna, timed within ``jitter_ms``."""

    type: Literal["radar"] = "radar"
    track: list[TrackPoint] = Field(min_length=1)
    rotation_s: float = Field(4.0, gt=0, le=3600)
    beamwidth_deg: float = Field(2.0, gt=0, le=360)
    eirp_dbm: float = Field(90.0, ge=0, le=120)
    duty_cycle: float = Field(0.001, gt=0, le=1, description="pulse duty cycle")
    fc_ghz: float = Field(3.5, gt=0, le=100)
    protection_i_n_db: float = Field(-6.0, ge=-30, le=30)
    noise_figure_db: float = Field(3.0, ge=0, le=20)
    bandwidth_mhz: float = Field(10.0, gt=0, le=1000)
    phase_deg: float = Field(0.0, ge=0, lt=360)
    gain_dbi: float = Field(38.0, ge=0, le=60)
    sidelobe_dbi: float = Field(-12.0, ge=-40, le=20)
    clutter_loss_db: float = Field(0.0, ge=0, le=80)
    height_m: float = Field(20.0, gt=0, le=1000)
    detect_dbm: float = Field(-100.0, ge=-150, le=0)
    jitter_ms: float = Field(5.0, ge=0, le=1000)

    @model_validator(mode="after")
    def _track(self) -> Radar:
        _ordered(self.track, "events.radar.track")
        return self

    def position(self, t_s: float) -> tuple[float, float]:
        """Where the radar is at ``t_s`` (first / last point outside the track)."""
        return _along(self.track, t_s)

    def beam_deg(self, t_s: ArrayLike) -> NDArray[np.float64]:
        """The main beam's azimuth at ``t_s`` [deg, 0–360)."""
        return np.asarray((self.phase_deg + 360.0 * np.asarray(t_s, dtype=np.float64)
                           / self.rotation_s) % 360.0, dtype=np.float64)

    def band_prbs(self, fc_ghz: float, bandwidth_mhz: float, n_prb: int) -> tuple[int, int]:
        """The PRBs ``[lo, hi]`` of a carrier that overlap the radar's band
        (:func:`overlapping_prbs`)."""
        return overlapping_prbs(self.fc_ghz, self.bandwidth_mhz, fc_ghz, bandwidth_mhz, n_prb)


def overlapping_prbs(band_fc_ghz: float, band_mhz: float, fc_ghz: float, bandwidth_mhz: float,
                     n_prb: int) -> tuple[int, int]:
    """The PRBs ``[lo, hi]`` of a carrier (centre ``fc_ghz``, ``bandwidth_mhz``, ``n_prb``
    PRBs, PRB 0 at its lower edge) that overlap a band of ``band_mhz`` around
    ``band_fc_ghz`` (``hi < lo``: none)."""
    f0 = fc_ghz * 1e3 - bandwidth_mhz / 2.0  # MHz
    prb = bandwidth_mhz / n_prb
    lo = (band_fc_ghz * 1e3 - band_mhz / 2.0 - f0) / prb
    hi = (band_fc_ghz * 1e3 + band_mhz / 2.0 - f0) / prb
    return max(0, int(np.floor(lo))), min(n_prb - 1, int(np.ceil(hi)) - 1)


Event = Annotated[CellOutage | TiltFault | PaDegradation | BackhaulCongestion | Crowd | Radar,
                  Field(discriminator="type")]


class LossArea(_Model):
    """A disc where every link of a user inside suffers ``loss_db`` more (a building block, a
    park)."""

    x_m: float
    y_m: float
    radius_m: float = Field(gt=0.0, le=5000.0)
    loss_db: float = Field(ge=0.0, le=60.0)
    kind: str = "building"


class Truth(_Model):
    """The emulated network's ground truth — what it hides from the twin.

    ``model = "perturbed"``: the twin's own 38.901 model with departures the operator's records
    do not show: electrical tilts off by a draw of σ ``tilt_error_std_deg`` per cell, EIRP off
    by σ ``gain_error_std_db``, ``n_areas`` loss areas (radius and extra loss drawn from the
    ranges; or the given ``areas``), a demand from the real Milan series (``milan``), the
    scenario's diurnal profile (``profile``) or its busy hour (``peak``), RSRP reported with
    ``measurement_noise_db`` of noise and counters with ``kpi_noise``.

    ``model = "raytraced"``: path gains ray-traced (Sionna RT) over the real city geometry of
    ``scene`` (a Sionna RT built-in scene name such as ``munich``, or a Mitsuba XML path) on a
    grid of ``rt_cell_m`` cells at 1.5 m, rays of up to ``rt_max_depth`` interactions,
    ``rt_samples`` rays per transmitter, with edge diffraction unless ``rt_diffraction`` is
    false. Tilt and EIRP errors and measurement noise stay; loss areas are not drawn (the
    buildings are real) unless ``areas`` are given."""

    model: Literal["perturbed", "raytraced"] = "perturbed"
    scene: str | None = None
    rt_cell_m: float = Field(5.0, ge=1.0, le=50.0)
    rt_max_depth: int = Field(3, ge=0, le=10)
    rt_samples: int = Field(1_000_000, ge=1000, le=100_000_000)
    rt_diffraction: bool = True
    seed: int = Field(1, ge=0)
    tilt_error_std_deg: float = Field(2.0, ge=0.0, le=10.0)
    gain_error_std_db: float = Field(2.0, ge=0.0, le=10.0)
    areas: list[LossArea] | None = None
    n_areas: int = Field(10, ge=0, le=100)
    area_radius_m: tuple[float, float] = (80.0, 200.0)
    area_loss_db: tuple[float, float] = (6.0, 20.0)
    demand: Literal["milan", "profile", "peak"] = "milan"
    measurement_noise_db: float = Field(1.0, ge=0.0, le=10.0)
    kpi_noise: float = Field(0.005, ge=0.0, le=0.2)

    @model_validator(mode="after")
    def _scene(self) -> Truth:
        if self.model == "raytraced" and not self.scene:
            raise _FieldProblem("truth.scene", self.scene,
                                "a Sionna RT scene name (e.g. munich) or a Mitsuba XML path "
                                "for model = 'raytraced'")
        return self


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
    groups: list[UserGroup] = Field(default_factory=list)
    simulation: Simulation | None = None
    events: list[Event] = Field(default_factory=list)
    #: events the operator knows of in advance (what the L2 crowd forecast starts from)
    calendar: list[CalendarEvent] = Field(default_factory=list)
    drones: Drones | None = None
    truth: Truth = Field(default_factory=Truth)
    #: the job ``twinnet run`` does on this network: ``capacity`` (the congested-cell loop),
    #: ``selfheal`` (detect, diagnose, compensate cell faults; needs [simulation]),
    #: ``energy`` (capacity cells sleep at low load over a day; needs [simulation]),
    #: ``proactive`` (capacity ahead of the busy hour over a day), ``stadium`` (a crowd event
    #: with drone base stations; needs [simulation] and [drones]), ``radar`` (spectrum sharing
    #: with a rotating radar in [[events]]), ``slicing`` (slices with dedicated PRBs for the
    #: groups that name one); absent:
    #: ``selfheal`` for a living network with cell faults in [[events]], else ``capacity``
    usecase: Literal["capacity", "selfheal", "energy", "proactive", "stadium", "radar",
                     "slicing"] | None = None
    base_dir: str | None = Field(None, exclude=True)

    @property
    def job(self) -> str:
        """:attr:`usecase`, or the one the scenario implies."""
        if self.usecase is not None:
            return self.usecase
        faults = any(isinstance(e, CellOutage | TiltFault | PaDegradation) for e in self.events)
        return "selfheal" if self.simulation is not None and faults else "capacity"

    @model_validator(mode="after")
    def _groups(self) -> Scenario:
        if self.groups:
            total = sum(g.fraction for g in self.groups)
            if abs(total - 1.0) > 1e-6:
                raise _FieldProblem("groups", [g.fraction for g in self.groups],
                                    f"fractions that add up to 1 (they add up to {total:g})")
            names = [g.name for g in self.groups]
            if len(set(names)) != len(names):
                raise _FieldProblem("groups", names, "unique group names")
        uses_scene = (self.layout.type == "scene" or self.users.distribution == "scene"
                      or any(g.mobility.model == "streets" for g in self.groups))
        if uses_scene and not self.truth.scene:
            raise _FieldProblem("truth.scene", self.truth.scene,
                                "a scene (the city geometry) for layout or users of type "
                                "'scene'")
        if self.events and self.simulation is None:
            raise _FieldProblem("events", len(self.events),
                                "a [simulation] table: events happen in time")
        if self.usecase in ("selfheal", "energy", "proactive", "stadium", "radar", "slicing") \
                and self.simulation is None:
            raise _FieldProblem("usecase", self.usecase,
                                "a [simulation] table: this use case runs in time")
        if self.usecase == "radar" and not any(isinstance(e, Radar) for e in self.events):
            raise _FieldProblem("events", len(self.events), "a radar event: the radar use "
                                "case shares its band")
        if self.usecase == "stadium" and self.drones is None:
            raise _FieldProblem("drones", None, "a [drones] table: the stadium use case flies "
                                "drone base stations")
        cars = [c.name for c in self.carriers]
        if self.drones is not None and any(c not in cars for c in self.drones.carriers):
            raise _FieldProblem("drones.carriers", self.drones.carriers,
                                f"carriers of the scenario ({cars})")
        if all(c.drones_only for c in self.carriers):
            raise _FieldProblem("carriers", cars, "at least one carrier not drones_only")
        return self

    @property
    def user_groups(self) -> list[UserGroup]:
        """The user groups (one ``all`` group, static with the configured demand, when the
        scenario declares none)."""
        return list(self.groups) or [UserGroup(name="all", fraction=1.0)]

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
        loc = [part for i, part in enumerate(loc)
               if not (i and loc[i - 1] == "layout" and part in ("hex", "csv", "scene"))]
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
