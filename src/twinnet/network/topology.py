"""Sites, cells and carriers of a network, built from a scenario's layout.

A *cell* is one sector of one site on one carrier. Cell parameters that RRM actions change
(transmit power, tilts, cell individual offset, on/off) are plain arrays so that a twin can be
copied cheaply and evaluated thousands of times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from twinnet.errors import InputError, ScenarioError
from twinnet.scenario import CsvLayout, HexLayout, Scenario, SceneLayout

__all__ = ["Blanking", "CarrierInfo", "Network", "build_network", "hex_site_positions",
           "wrap_shifts_m"]


@dataclass(frozen=True)
class CarrierInfo:
    name: str
    fc_ghz: float
    bandwidth_mhz: float
    scs_khz: int
    n_prb: int

    @property
    def prb_hz(self) -> float:
        return 12.0 * self.scs_khz * 1e3


def _hex_rings(n_sites: int) -> int:
    r = 0
    while 1 + 3 * r * (r + 1) < n_sites:
        r += 1
    return r


def _rotate(xy: NDArray[np.float64], angle_deg: float) -> NDArray[np.float64]:
    a = math.radians(angle_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return xy @ rot.T


def hex_site_positions(n_sites: int, isd_m: float, orientation_deg: float = 30.0
                       ) -> NDArray[np.float64]:
    """Positions ``[n_sites, 2]`` of a hexagonal site grid, centre first then ring by ring.

    Neighbouring sites sit at ``orientation_deg + k·60°`` from each other at distance
    ``isd_m``. The default 30° is the 3GPP layout (TR 36.814 Fig. A.2.1.1-1, used by the
    TR 38.901 calibration): each site's three hexagonal sector cells meet at the site, and the
    sector boresights 30°/150°/270° point at neighbouring sites.
    """
    rings = _hex_rings(n_sites)
    pts = []
    for q in range(-rings, rings + 1):
        for r in range(-rings, rings + 1):
            if abs(q + r) <= rings:
                x = isd_m * (q + 0.5 * r)
                y = isd_m * (math.sqrt(3.0) / 2.0 * r)
                ring = max(abs(q), abs(r), abs(q + r))
                ang = math.atan2(y, x) % (2 * math.pi)
                pts.append((ring, round(ang, 9), x, y))
    pts.sort()
    xy = np.array([(x, y) for _, _, x, y in pts[:n_sites]], dtype=np.float64)
    return _rotate(xy, orientation_deg)


def wrap_shifts_m(n_sites: int, isd_m: float, orientation_deg: float = 30.0
                  ) -> NDArray[np.float64]:
    """Wrap-around translations ``[7, 2]`` (first row zero) for a 7/19/37-site hexagonal cluster.

    The cluster of ``N = i² + ij + j²`` sites with ``(i, j) = (R + 1, R)`` tiles the plane by
    the translation ``i·a1 + j·a2`` and its rotations by multiples of 60°.
    """
    rings = _hex_rings(n_sites)
    i, j = rings + 1, rings
    base = np.array([isd_m * (i + 0.5 * j), isd_m * (math.sqrt(3.0) / 2.0 * j)])
    out = [np.zeros(2)]
    for k in range(6):
        a = k * math.pi / 3.0
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        out.append(rot @ base)
    return _rotate(np.array(out), orientation_deg)


@dataclass
class Network:
    """Arrays describing sites and cells. Index ``c`` addresses a cell everywhere in TwinNet."""

    site_names: list[str]
    site_x_m: NDArray[np.float64]
    site_y_m: NDArray[np.float64]
    site_height_m: NDArray[np.float64]
    carriers: list[CarrierInfo]
    cell_site: NDArray[np.int32]
    cell_sector: NDArray[np.int32]
    cell_carrier: NDArray[np.int32]
    cell_bearing_deg: NDArray[np.float64]
    cell_mech_tilt_deg: NDArray[np.float64]
    cell_elec_tilt_deg: NDArray[np.float64]
    cell_tx_power_dbm: NDArray[np.float64]
    cell_cio_db: NDArray[np.float64]
    cell_active: NDArray[np.bool_]
    wrap_shifts_m: NDArray[np.float64] = field(default_factory=lambda: np.zeros((1, 2)))
    isd_m: float | None = None
    omni: bool = False
    lattice_orientation_deg: float = 30.0
    #: PRBs per cell reserved for a slice or an IoT allocation, and PRBs blanked (spectrum
    #: sharing): both unavailable to the cell's other traffic (``None``: none)
    cell_prb_reserved: NDArray[np.int64] | None = None
    cell_prb_blanked: NDArray[np.int64] | None = None
    #: sites that are drone (low-altitude platform) base stations: air-to-ground propagation,
    #: omnidirectional antenna (``None``: none)
    site_drone: NDArray[np.bool_] | None = None
    #: IoT uplink grants per cell: ``{cell: {device: (tx_power_dbm, (rb, ...))}}``
    iot_uplink: dict[str, dict[str, tuple[float, tuple[int, ...]]]] = field(
        default_factory=dict)
    #: handover offsets per (serving, neighbour) cell pair [dB]: the ``cellIndividualOffset``
    #: of the neighbour in the serving cell's measurement object (TS 38.331); a pair without
    #: one uses the neighbour's own ``cell_cio_db``
    cell_pair_cio_db: dict[tuple[int, int], float] = field(default_factory=dict)
    #: which PRBs a cell leaves empty, by cell index: always (``blank_prbs``) or on a
    #: schedule that follows a rotating radar's beam (``schedule_blanking``)
    cell_blanking: dict[int, Blanking] = field(default_factory=dict)
    #: PRBs each cell dedicates to slices: ``{cell: {slice_id: (n_prb, direction)}}`` with
    #: direction ``both``, ``dl`` or ``ul``; ``cell_prb_reserved`` holds the downlink total
    cell_prb_slices: dict[int, dict[str, tuple[int, str]]] = field(default_factory=dict)
    #: handover settings of the users a cell serves: ``{cell: (hysteresis_db,
    #: time_to_trigger_ms)}`` (``None``-free; cells absent use the scenario's)
    cell_handover: dict[int, tuple[float, float]] = field(default_factory=dict)

    @property
    def n_sites(self) -> int:
        return len(self.site_names)

    @property
    def n_cells(self) -> int:
        return int(self.cell_site.shape[0])

    @property
    def cell_names(self) -> list[str]:
        multi = len(self.carriers) > 1
        names = []
        for c in range(self.n_cells):
            n = f"{self.site_names[self.cell_site[c]]}/{self.cell_sector[c] + 1}"
            if multi:
                n += f"@{self.carriers[self.cell_carrier[c]].name}"
            names.append(n)
        return names

    @property
    def cell_prb_hz(self) -> NDArray[np.float64]:
        """Bandwidth of one PRB [Hz] of each cell's carrier."""
        return np.array([self.carriers[k].prb_hz for k in self.cell_carrier], dtype=np.float64)

    @property
    def cell_n_prb(self) -> NDArray[np.int64]:
        return np.array([self.carriers[k].n_prb for k in self.cell_carrier], dtype=np.int64)

    @property
    def cell_re_power_dbm(self) -> NDArray[np.float64]:
        """Transmit power per resource element [dBm]: the cell's power spread over its
        ``12 · N_PRB`` subcarriers (the reference of RSRP, TS 38.215)."""
        return self.cell_tx_power_dbm - 10.0 * np.log10(12.0 * self.cell_n_prb)

    @property
    def cell_n_prb_available(self) -> NDArray[np.int64]:
        """PRBs left to a cell's traffic after reservations and blanking (at least 1)."""
        n = self.cell_n_prb
        for a in (self.cell_prb_reserved, self.cell_prb_blanked):
            if a is not None:
                n = n - a
        sched = [(c, b) for c, b in self.cell_blanking.items() if b.period_s > 0]
        if sched:  # a schedule takes its PRBs for its share of the time
            n = n.astype(np.float64)
            for c, b in sched:
                n[c] -= b.n_prb * b.duty
        return np.maximum(n, 1)

    def reserved_prbs(self, direction: str) -> NDArray[np.int64]:
        """PRBs per cell dedicated to slices in ``direction`` (``dl`` or ``ul``)."""
        out = np.zeros(self.n_cells, dtype=np.int64)
        for c, sl in self.cell_prb_slices.items():
            out[c] = sum(n for n, d in sl.values() if d in ("both", direction))
        return out

    @property
    def cell_n_prb_available_ul(self) -> NDArray[np.int64]:
        """Uplink PRBs left to a cell's traffic after its slices' uplink reservations."""
        return np.maximum(self.cell_n_prb - self.reserved_prbs("ul"), 1)

    def ensure_prb_arrays(self) -> None:
        """Materialise the reservation / blanking arrays (zeros) before an action sets them."""
        if self.cell_prb_reserved is None:
            self.cell_prb_reserved = np.zeros(self.n_cells, dtype=np.int64)
        if self.cell_prb_blanked is None:
            self.cell_prb_blanked = np.zeros(self.n_cells, dtype=np.int64)

    def extent_m(self) -> float:
        """Diameter of the area spanned by the sites (plus one ISD or 1 km of margin)."""
        span = max(np.ptp(self.site_x_m), np.ptp(self.site_y_m)) if self.n_sites > 1 else 0.0
        return float(span + 2.0 * (self.isd_m or 500.0))

    def copy(self) -> Network:
        """Copy with independent cell-parameter arrays (site geometry is shared, read-only)."""
        return replace(
            self,
            cell_bearing_deg=self.cell_bearing_deg.copy(),
            cell_mech_tilt_deg=self.cell_mech_tilt_deg.copy(),
            cell_elec_tilt_deg=self.cell_elec_tilt_deg.copy(),
            cell_tx_power_dbm=self.cell_tx_power_dbm.copy(),
            cell_cio_db=self.cell_cio_db.copy(),
            cell_active=self.cell_active.copy(),
            cell_prb_reserved=None if self.cell_prb_reserved is None
            else self.cell_prb_reserved.copy(),
            cell_prb_blanked=None if self.cell_prb_blanked is None
            else self.cell_prb_blanked.copy(),
            iot_uplink={k: dict(v) for k, v in self.iot_uplink.items()},
            cell_pair_cio_db=dict(self.cell_pair_cio_db),
            cell_blanking=dict(self.cell_blanking),
            cell_prb_slices={c: dict(v) for c, v in self.cell_prb_slices.items()},
            cell_handover=dict(self.cell_handover),
        )

    def pair_offsets(self) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        """The per-pair handover offsets by serving cell (compressed rows): ``ptr [C + 1]``,
        neighbour ``nb [P]`` and offset ``db [P]``; serving cell ``s``'s pairs are
        ``ptr[s]:ptr[s + 1]``."""
        n = self.n_cells
        items = sorted(self.cell_pair_cio_db.items())
        ptr = np.zeros(n + 1, dtype=np.int64)
        for (s, _), _v in items:
            ptr[s + 1] += 1
        return (np.cumsum(ptr), np.array([k[1] for k, _ in items], dtype=np.int64),
                np.array([v for _, v in items], dtype=np.float64))

    def is_drone_site(self) -> NDArray[np.bool_]:
        return (self.site_drone if self.site_drone is not None
                else np.zeros(self.n_sites, dtype=bool))

    def place_drone(self, name: str, x_m: float, y_m: float, altitude_m: float,
                    tx_power_dbm: float, carrier: int = 0) -> int:
        """Add a one-cell drone site (or move an existing drone site of that name) and switch its
        cell on; returns the cell index. Site arrays are replaced, never changed in place (copies
        share them)."""
        drone = self.is_drone_site()
        if name in self.site_names:
            s = self.site_names.index(name)
            if not drone[s]:
                raise InputError("cell", name, "a new site name or an existing drone site")
            x, y, h = self.site_x_m.copy(), self.site_y_m.copy(), self.site_height_m.copy()
            x[s], y[s], h[s] = x_m, y_m, altitude_m
            self.site_x_m, self.site_y_m, self.site_height_m = x, y, h
            c = int(np.flatnonzero(self.cell_site == s)[0])
            self.cell_tx_power_dbm[c] = tx_power_dbm
            self.cell_active[c] = True
            return c
        if not 0 <= carrier < len(self.carriers):
            raise InputError("carrier", carrier, f"a carrier index below {len(self.carriers)}")
        s = self.n_sites
        self.site_names = [*self.site_names, name]
        self.site_x_m = np.append(self.site_x_m, x_m)
        self.site_y_m = np.append(self.site_y_m, y_m)
        self.site_height_m = np.append(self.site_height_m, altitude_m)
        self.site_drone = np.append(drone, True)
        self.cell_site = np.append(self.cell_site, np.int32(s)).astype(np.int32)
        self.cell_sector = np.append(self.cell_sector, np.int32(0)).astype(np.int32)
        self.cell_carrier = np.append(self.cell_carrier, np.int32(carrier)).astype(np.int32)
        self.cell_bearing_deg = np.append(self.cell_bearing_deg, 0.0)
        self.cell_mech_tilt_deg = np.append(self.cell_mech_tilt_deg, 0.0)
        self.cell_elec_tilt_deg = np.append(self.cell_elec_tilt_deg, 0.0)
        self.cell_tx_power_dbm = np.append(self.cell_tx_power_dbm, tx_power_dbm)
        self.cell_cio_db = np.append(self.cell_cio_db, 0.0)
        self.cell_active = np.append(self.cell_active, True)
        if self.cell_prb_reserved is not None:
            self.cell_prb_reserved = np.append(self.cell_prb_reserved, 0)
        if self.cell_prb_blanked is not None:
            self.cell_prb_blanked = np.append(self.cell_prb_blanked, 0)
        return self.n_cells - 1


@dataclass(frozen=True)
class Blanking:
    """PRBs ``[start_prb, end_prb]`` of a cell left empty: always (``period_s = 0``), or on a
    schedule that follows a rotating radar's predicted beam — blanked while the predicted beam
    azimuth ``phase_deg + 360 t / period_s`` (``t``: seconds on the network's clock) lies
    within ``[from_deg, to_deg]``, both edges moving by ``drift_deg_s`` per second (a moving
    radar sees the cell at a drifting azimuth)."""

    start_prb: int
    end_prb: int
    period_s: float = 0.0
    phase_deg: float = 0.0
    from_deg: float = 0.0
    to_deg: float = 360.0
    drift_deg_s: float = 0.0

    @property
    def n_prb(self) -> int:
        return self.end_prb - self.start_prb + 1

    @property
    def duty(self) -> float:
        """Share of the time the PRBs are blanked."""
        if self.period_s <= 0:
            return 1.0
        return min(max(self.to_deg - self.from_deg, 0.0), 360.0) / 360.0

    def blanked(self, t_s: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Whether the PRBs are blanked at network times ``t_s``."""
        t = np.asarray(t_s, dtype=np.float64)
        if self.period_s <= 0:
            return np.ones(t.shape, dtype=bool)
        beam = self.phase_deg + 360.0 * t / self.period_s
        lo = self.from_deg + self.drift_deg_s * t
        return ((beam - lo) % 360.0) <= (self.to_deg - self.from_deg)

    def overlap(self, lo_prb: int, hi_prb: int) -> int:
        """How many of the PRBs ``[lo_prb, hi_prb]`` this blanking covers."""
        return max(0, min(hi_prb, self.end_prb) - max(lo_prb, self.start_prb) + 1)


CellRow = tuple[int, float, float, float, float | None]


def _from_hex(layout: HexLayout) -> tuple[list[str], NDArray[np.float64], NDArray[np.float64],
                                         list[CellRow]]:
    pos = hex_site_positions(layout.n_sites, layout.isd_m, layout.orientation_deg)
    names = [f"S{i}" for i in range(layout.n_sites)]
    heights = np.full(layout.n_sites, layout.bs_height_m, dtype=np.float64)
    cells: list[CellRow] = []
    for s in range(layout.n_sites):
        for az in layout.azimuths_deg:
            cells.append((s, az, layout.mechanical_tilt_deg, layout.electrical_tilt_deg, None))
    return names, pos, heights, cells


_CSV_REQUIRED = ["site", "x_m", "y_m", "height_m", "azimuth_deg"]


def _from_csv(layout: CsvLayout, base_dir: str | None):
    path = Path(layout.path)
    if not path.is_absolute() and base_dir:
        path = Path(base_dir) / path
    if not path.exists():
        raise ScenarioError(str(path), [("layout.path", layout.path, "an existing CSV file")])
    df = pd.read_csv(path)
    missing = [c for c in _CSV_REQUIRED if c not in df.columns]
    if missing:
        raise ScenarioError(
            str(path), [("layout.path", layout.path, f"columns {_CSV_REQUIRED}; missing {missing}")]
        )
    problems = []
    for col in ["x_m", "y_m", "height_m", "azimuth_deg", "mechanical_tilt_deg",
                "electrical_tilt_deg", "tx_power_dbm"]:
        if col in df.columns:
            vals = pd.to_numeric(df[col], errors="coerce")
            bad = vals.isna()
            if bad.any():
                row = int(np.argmax(bad.to_numpy()))
                problems.append((f"{path.name}[row {row + 2}].{col}", df[col].iloc[row],
                                 "a number"))
            df[col] = vals
    if not problems:
        bad_h = df["height_m"] <= 0
        if bad_h.any():
            row = int(np.argmax(bad_h.to_numpy()))
            problems.append((f"{path.name}[row {row + 2}].height_m", df["height_m"].iloc[row],
                             "a positive height in metres"))
    if problems:
        raise ScenarioError(str(path), problems)
    names: list[str] = []
    xs, ys, hs = [], [], []
    cells = []
    for _, row in df.iterrows():
        site = str(row["site"])
        if site not in names:
            names.append(site)
            xs.append(float(row["x_m"]))
            ys.append(float(row["y_m"]))
            hs.append(float(row["height_m"]))
        s = names.index(site)
        cells.append((
            s,
            float(row["azimuth_deg"]),
            float(row.get("mechanical_tilt_deg", 0.0) or 0.0),
            float(row.get("electrical_tilt_deg", 6.0) if "electrical_tilt_deg" in df else 6.0),
            float(row["tx_power_dbm"]) if "tx_power_dbm" in df else None,
        ))
    return names, np.column_stack([xs, ys]), np.array(hs), cells


def _from_scene(layout: SceneLayout, scenario: Scenario
                ) -> tuple[list[str], NDArray[np.float64], NDArray[np.float64], list[CellRow]]:
    """Sites on the rooftops of the scenario's scene (see :class:`SceneLayout`)."""
    from twinnet.network.scene import scenario_geometry

    geo = scenario_geometry(scenario)
    x, y, roof = geo.rooftop_sites(layout.n_sites, layout.isd_m, layout.min_roof_m,
                                   layout.center_m)
    names = [f"S{i}" for i in range(layout.n_sites)]
    cells: list[CellRow] = [
        (s, float(az), layout.mechanical_tilt_deg, layout.electrical_tilt_deg, None)
        for s in range(layout.n_sites) for az in layout.azimuths_deg]
    return names, np.column_stack([x, y]), roof + layout.mast_m, cells


def build_network(scenario: Scenario, small_cells: bool = True) -> Network:
    """Build the :class:`Network` of a scenario (every sector gets every carrier); candidate
    small cells (``scenario.small_cells``) follow as one-sector sites, inactive unless the
    scenario says otherwise."""
    layout = scenario.layout
    if isinstance(layout, HexLayout):
        names, pos, heights, cells = _from_hex(layout)
        shifts = (wrap_shifts_m(layout.n_sites, layout.isd_m, layout.orientation_deg)
                  if layout.wrap_around else np.zeros((1, 2)))
        orientation = layout.orientation_deg
        isd: float | None = layout.isd_m
        omni = layout.sectors == 1
    elif isinstance(layout, SceneLayout):
        names, pos, heights, cells = _from_scene(layout, scenario)
        shifts = np.zeros((1, 2))
        isd = layout.isd_m
        omni = layout.sectors == 1
        orientation = 0.0
    else:
        names, pos, heights, cells = _from_csv(layout, scenario.base_dir)
        shifts = np.zeros((1, 2))
        isd = None
        omni = layout.omni
        orientation = 0.0
    carriers = [CarrierInfo(c.name, c.fc_ghz, c.bandwidth_mhz, c.scs_khz, c.n_prb)
                for c in scenario.carriers]
    rows = []
    sector_count: dict[int, int] = {}
    for s, az, mt, et, p in cells:
        sec = sector_count.get(s, 0)
        sector_count[s] = sec + 1
        for k, car in enumerate(scenario.carriers):
            if car.drones_only:  # lit only on drones
                continue
            rows.append((s, sec, k, az, mt, et, car.tx_power_dbm if p is None else p))
    active = [bool(scenario.carriers[int(r[2])].active) for r in rows]
    cio = [float(scenario.carriers[int(r[2])].offset_db) for r in rows]
    height_l = [float(h) for h in heights]
    pos_l = [tuple(p) for p in pos]
    n_macro = len(names)
    names = list(names)
    if small_cells:
        car_idx = {c.name: k for k, c in enumerate(scenario.carriers)}
        for i, sc in enumerate(scenario.small_cells):
            if sc.name in names:
                raise ScenarioError("<scenario>", [(f"small_cells.{i}.name", sc.name,
                                                    "a name no macro site uses")])
            names.append(sc.name)
            pos_l.append((sc.x_m, sc.y_m))
            height_l.append(sc.height_m)
            k = car_idx[sc.carrier] if sc.carrier is not None else 0
            rows.append((n_macro + i, 0, k, sc.bearing_deg, 0.0, sc.electrical_tilt_deg,
                         sc.tx_power_dbm))
            active.append(sc.active)
            cio.append(0.0)
    pos = np.asarray(pos_l, dtype=np.float64).reshape(-1, 2)
    arr = np.array(rows, dtype=np.float64)
    return Network(
        site_names=names,
        site_x_m=np.ascontiguousarray(pos[:, 0]),
        site_y_m=np.ascontiguousarray(pos[:, 1]),
        site_height_m=np.asarray(height_l, dtype=np.float64),
        carriers=carriers,
        cell_site=arr[:, 0].astype(np.int32),
        cell_sector=arr[:, 1].astype(np.int32),
        cell_carrier=arr[:, 2].astype(np.int32),
        cell_bearing_deg=arr[:, 3].copy(),
        cell_mech_tilt_deg=arr[:, 4].copy(),
        cell_elec_tilt_deg=arr[:, 5].copy(),
        cell_tx_power_dbm=arr[:, 6].copy(),
        cell_cio_db=np.asarray(cio, dtype=np.float64),
        cell_active=np.array(active, dtype=bool),
        wrap_shifts_m=shifts,
        isd_m=isd,
        omni=omni,
        lattice_orientation_deg=orientation,
    )
