"""``DigitalTwin``: the L1 radio and L2 load twin of a whole network (pvlib's ModelChain idea).

A twin holds a scenario's network (cells and their parameters), its users and the random
large-scale state (spatially consistent shadowing and LOS fields). :meth:`DigitalTwin.evaluate`
chains link budget → serving cell → SINR → PRB load → throughput → KPIs and returns tables.

Copies are cheap (:meth:`DigitalTwin.copy`): users, fields and cached link gains are shared;
only the small per-cell parameter arrays are copied, and link gains are recomputed only when a
parameter they depend on (tilt, bearing) changes — what-if analysis forks twins freely.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from twinnet.errors import InputError
from twinnet.network.topology import Network, build_network
from twinnet.network.users import UserSet, drop_users
from twinnet.policy.kpis import network_kpis
from twinnet.radio.a2g import a2g_pathloss_db
from twinnet.radio.constants import SCENARIO_CODES
from twinnet.radio.fast import link_gain_kernel, serving_kernel, threads_for
from twinnet.radio.fields import SpatialField, site_offsets_m
from twinnet.radio.link import LinkAbstraction
from twinnet.radio.noise import thermal_noise_dbm
from twinnet.radio.o2i import o2i_loss_db, o2i_std_db
from twinnet.radio.pathloss import _SF_STD_DB
from twinnet.scenario import Scenario, load_scenario
from twinnet.traffic.demand import diurnal_profile
from twinnet.traffic.load import LoadResult, solve_load
from twinnet.twin.simulate import NetworkSimulation
from twinnet.twin.whatif import what_if

__all__ = ["CORRELATION_DISTANCES_M", "DigitalTwin", "Evaluation", "LinkAdjustment",
           "RadioFields"]

#: Horizontal correlation distances [m]: SF LOS, SF NLOS, SF O2I (Table 7.5-6) and LOS state
#: (Table 7.6.3.1-2), per scenario.
CORRELATION_DISTANCES_M: dict[str, tuple[float, float, float, float]] = {
    "UMa": (37.0, 50.0, 7.0, 50.0),
    "UMi-Street-Canyon": (10.0, 13.0, 7.0, 50.0),
    "RMa": (37.0, 120.0, 120.0, 60.0),
    "InH-Office-Mixed": (10.0, 6.0, 6.0, 10.0),
    "InH-Office-Open": (10.0, 6.0, 6.0, 10.0),
}


class LinkAdjustment(Protocol):
    """Extra loss on every user–cell link, on top of the 38.901 chain.

    ``token`` identifies the adjustment's state (cached link gains are keyed by it);
    ``extra_loss_db(twin, slot_cell)`` returns ``[U, K]`` losses [dB] for the twin's link
    slots (``slot_cell``: the cell of each slot, ``[1 or U, K]``, -1 for none).
    """

    token: str

    def extra_loss_db(self, twin: DigitalTwin, slot_cell: NDArray[np.int32]
                      ) -> NDArray[np.float64]: ...


@dataclass(frozen=True)
class RadioFields:
    """The four spatial fields (SF LOS, SF NLOS, SF O2I, LOS state) and per-site offsets."""

    fields: tuple[SpatialField, ...]
    offsets_x: NDArray[np.float64]  # [4, n_sites]
    offsets_y: NDArray[np.float64]

    @classmethod
    def generate(cls, scenario_name: str, n_sites: int, extent_m: float,
                 rng: np.random.Generator) -> RadioFields:
        dists = CORRELATION_DISTANCES_M[scenario_name]
        fields = []
        ox = np.empty((4, n_sites))
        oy = np.empty((4, n_sites))
        for k, d in enumerate(dists):
            f = SpatialField.generate(d, rng, extent_m=min(extent_m, 8000.0))
            off = site_offsets_m(n_sites, f.period_m, d, rng)
            ox[k], oy[k] = off[:, 0], off[:, 1]
            fields.append(f)
        return cls(tuple(fields), ox, oy)

    def with_extra_sites(self, n_extra: int, scenario_name: str, rng: np.random.Generator
                         ) -> RadioFields:
        """The same fields with offsets for ``n_extra`` more sites appended."""
        dists = CORRELATION_DISTANCES_M[scenario_name]
        ox = [self.offsets_x]
        oy = [self.offsets_y]
        add_x = np.empty((4, n_extra))
        add_y = np.empty((4, n_extra))
        for k, (f, d) in enumerate(zip(self.fields, dists, strict=True)):
            off = site_offsets_m(n_extra, f.period_m, d, rng)
            add_x[k], add_y[k] = off[:, 0], off[:, 1]
        ox.append(add_x)
        oy.append(add_y)
        return RadioFields(self.fields, np.ascontiguousarray(np.hstack(ox)),
                           np.ascontiguousarray(np.hstack(oy)))

    @classmethod
    def empty(cls, n_sites: int) -> RadioFields:
        f = SpatialField(np.zeros((1, 1), np.float32), 1.0, 1.0)
        z = np.zeros((4, n_sites))
        return cls((f, f, f, f), z, z.copy())


@dataclass(frozen=True)
class LoadSummary:
    """What :meth:`DigitalTwin.evaluate_load` returns: the load of a state, nothing else."""

    prb_utilization: NDArray[np.float64]
    peak_prb_utilization: float
    outage_ratio: float
    iterations: int
    #: stopped early: the state provably breaks the limits; the numbers are lower bounds
    rejected: bool = False
    #: per-cell offered load (PRB need over PRBs, not capped at 1; 0 for inactive cells)
    offered_load: NDArray[np.float64] | None = None
    #: 5th-percentile user throughput [Mbit/s] (``None`` when ``rejected``)
    p5_throughput_mbps: float | None = None

    def excess(self, target: float) -> float:
        """Σ over cells of the offered load above ``target``: how far the state is from a
        target, also where the peak is saturated at 1 and cannot show progress."""
        load = self.offered_load if self.offered_load is not None else self.prb_utilization
        return float(np.maximum(np.nan_to_num(load, posinf=10.0) - target, 0.0).sum())

    @property
    def kpis(self) -> dict[str, float]:
        return {"peak_prb_utilization": self.peak_prb_utilization,
                "outage_ratio": self.outage_ratio}


class Evaluation:
    """Result of one twin evaluation: network KPIs, and per-user and per-cell tables.

    The pandas tables are built on first access, so an evaluation that is only scored by its
    KPIs (what-if search) costs no DataFrame construction.
    """

    def __init__(self, user_columns: dict[str, Any], cell_columns: dict[str, Any],
                 kpis: dict[str, Any], load: LoadResult):
        self._user_columns = user_columns
        self._cell_columns = cell_columns
        self.kpis = kpis
        self.load = load

    @cached_property
    def users(self) -> pd.DataFrame:
        return pd.DataFrame(self._user_columns)

    @cached_property
    def cells(self) -> pd.DataFrame:
        return pd.DataFrame(self._cell_columns)

    def to_json_dict(self) -> dict[str, Any]:
        return dict(self.kpis)

    def __repr__(self) -> str:
        k = self.kpis
        return (f"Evaluation(users={k.get('n_users')}, cells={k.get('n_cells')}, "
                f"peak_prb_utilization={k.get('peak_prb_utilization'):.3f})")


#: bounds of the gain cache shared by a twin and its forks
_GAIN_CACHE_ENTRIES = 64
_GAIN_CACHE_BYTES = 1 << 30
_COLUMN_CACHE_ENTRIES = 4096


class DigitalTwin:
    """Digital twin of a cellular network (L1 radio + L2 load).

    >>> twin = DigitalTwin.from_scenario("hotspot")           # doctest: +SKIP
    >>> ev = twin.evaluate(); ev.kpis["peak_prb_utilization"]  # doctest: +SKIP
    """

    def __init__(self, scenario: Scenario, network: Network | None = None,
                 users: UserSet | None = None, max_sites_per_user: int = 12):
        self.scenario = scenario
        rng = np.random.default_rng(scenario.seed)
        self.network = network if network is not None else build_network(scenario)
        # users and fields are drawn for the macro layout; candidate small cells get their
        # own field offsets from a separate stream, so adding candidates changes nothing else
        macro = build_network(scenario, small_cells=False) if scenario.small_cells \
            else self.network
        self.users = users if users is not None else drop_users(scenario, macro, rng)
        prop = scenario.propagation
        if prop.spatially_consistent:
            self.fields = RadioFields.generate(prop.scenario, macro.n_sites,
                                               macro.extent_m(), rng)
            extra = self.network.n_sites - macro.n_sites
            if extra > 0:
                self.fields = self.fields.with_extra_sites(
                    extra, prop.scenario, np.random.default_rng([scenario.seed, 7]))
        else:
            self.fields = RadioFields.empty(self.network.n_sites)
        self.link = LinkAbstraction(
            scenario.link.model,
            **({"alpha": scenario.link.alpha, "sinr_min_db": scenario.link.sinr_min_db,
                "se_max": scenario.link.se_max} if scenario.link.model == "shannon"
               else {"gap_db": scenario.link.gap_db}),
        )
        self.max_sites_per_user = max_sites_per_user
        self.hour: int | None = scenario.demand.hour
        self._profile = diurnal_profile(scenario.demand)
        self._gain_cache: dict[str, tuple[NDArray[np.float32], NDArray[np.int32]]] = {}
        self._layout_cache: dict[tuple[int, bytes], tuple[Any, ...]] = {}
        #: one cell's link-gain column per cell setting (shared by forks; see _partial_gains)
        self._column_cache: dict[tuple[Any, ...], NDArray[np.float32]] = {}
        self._cand: NDArray[np.int32] | None = None
        self._cand_token = ""
        #: extra loss per link on top of the 38.901 chain: the emulator's hidden ground truth
        #: (buildings, foliage) or the L1 engine's learned correction of the model
        self.link_adjustment: LinkAdjustment | None = None
        #: per-user demand multiplier ``[U]`` (the L2 engine's calibrated/forecast demand)
        self.demand_multiplier: NDArray[np.float64] | None = None
        #: identifies the users' positions (cached link gains are keyed by it)
        self._positions = "dropped"
        #: global user indices when this twin holds a subset of another's users (the random
        #: draws of a link depend on the user's identity, not its place in the array)
        self._user_ids: NDArray[np.int64] | None = None
        #: link gains last computed and the cell parameters they were computed with
        self._last_gain_state: tuple[Any, ...] | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_scenario(cls, name_or_path: str | Scenario, **kwargs: Any) -> DigitalTwin:
        sc = name_or_path if isinstance(name_or_path, Scenario) else load_scenario(name_or_path)
        return cls(sc, **kwargs)

    def move_users(self, x_m: NDArray[np.float64], y_m: NDArray[np.float64],
                   candidates: bool = True) -> None:
        """Place the users at new positions ``[U]`` [m] (mobility): link gains follow on the
        next evaluation. ``candidates=False`` keeps each user's candidate sites (large networks
        prune links to the nearest sites; a user that moved a few metres keeps them)."""
        n = self.users.n
        x = np.array(x_m, dtype=np.float64)  # copies: the caller keeps moving its arrays
        y = np.array(y_m, dtype=np.float64)
        if x.shape != (n,) or y.shape != (n,):
            raise InputError("x_m/y_m", (x.shape, y.shape), f"two arrays of the {n} users")
        self.users = replace(self.users, x_m=x, y_m=y)
        self._positions = uuid.uuid4().hex
        self._last_gain_state = None  # incremental gains assume the users did not move
        if candidates:
            self._cand = None

    def link_gains_of(self, rows: NDArray[np.int64], x_m: NDArray[np.float64] | None = None,
                      y_m: NDArray[np.float64] | None = None) -> NDArray[np.float32]:
        """Linear coupling gains ``[len(rows), K]`` of some users, in the slots of
        :meth:`link_gains` (the values a full recompute gives them): at their current
        positions, or at ``x_m``/``y_m`` (the same users elsewhere — where a measurement
        report says they were). What a simulation needs when only a few users moved."""
        rows = np.asarray(rows, dtype=np.int64)
        cand = self.candidate_sites()
        sub = self.copy()
        sub.users = self.users.take(rows)
        if x_m is not None and y_m is not None:
            sub.users = replace(sub.users, x_m=np.array(x_m, dtype=np.float64),
                                y_m=np.array(y_m, dtype=np.float64))
        base = self._user_ids
        sub._user_ids = rows if base is None else base[rows]
        sub._cand = cand if cand.shape[0] == 1 else np.ascontiguousarray(cand[rows])
        sub._cand_sites = self.network.n_sites
        if cand.shape[0] != 1:
            sub._layout_cache = {}
        sub._gain_cache = {}
        sub._column_cache = {}
        sub._last_gain_state = None
        gain, _ = sub._compute_gains(None)
        return gain

    def add_users(self, extra: UserSet) -> NDArray[np.int64]:
        """Append users (e.g. a crowd that will gather) and return their indices. The
        spatial fields are unchanged, so the existing users' links stay as they were."""
        old = self.users
        self.users = UserSet(**{k: np.concatenate([getattr(old, k), getattr(extra, k)])
                                for k in old.__dataclass_fields__})
        if self.demand_multiplier is not None:
            self.demand_multiplier = np.concatenate([self.demand_multiplier,
                                                     np.ones(extra.n)])
        self._positions = uuid.uuid4().hex
        self._last_gain_state = None
        self._cand = None
        return np.arange(old.n, self.users.n, dtype=np.int64)

    def simulate(self, duration_s: float, config: Any = None, **kwargs: Any) -> Any:
        """Run the twin's own models forward in time from its current state (mobility,
        sessions, scheduler, handover) for ``duration_s`` and return the
        :class:`~twinnet.twin.simulate.SimulationResult`; the twin itself is not changed.
        ``config``: a :class:`~twinnet.scenario.Simulation` (default: the scenario's)."""
        return NetworkSimulation(self, config, **kwargs).run(duration_s)

    def copy(self) -> DigitalTwin:
        """A fork sharing users, fields and the gain cache, with its own cell parameters.

        The cache is keyed by everything the gains depend on (bearing, tilts, link adjustment;
        users and fields are shared), so gains computed by one fork serve its parent and its
        siblings: a search that revisits a tilt setting in many plans computes it once."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.network = self.network.copy()
        return new

    # ------------------------------------------------------------------ radio
    def candidate_sites(self) -> NDArray[np.int32]:
        """Sites evaluated per user: all sites (one shared row) for networks of at most
        ``max_sites_per_user`` sites, else each user's nearest ``max_sites_per_user`` sites."""
        if self._cand is None or getattr(self, "_cand_sites", None) != self.network.n_sites:
            net = self.network
            self._cand_sites = net.n_sites
            k = self.max_sites_per_user
            if net.n_sites <= k or net.wrap_shifts_m.shape[0] > 1:
                self._cand = np.arange(net.n_sites, dtype=np.int32)[None, :]
            else:
                tree = cKDTree(np.column_stack([net.site_x_m, net.site_y_m]))
                _, idx = tree.query(np.column_stack([self.users.x_m, self.users.y_m]), k=k,
                                    workers=-1)
                self._cand = np.ascontiguousarray(idx.astype(np.int32))
            # slot layouts and cached gain columns hold for these sets only
            self._cand_token = uuid.uuid4().hex
            self._layout_cache = {}
        return self._cand

    def _gain_key(self) -> str:
        net = self.network
        h = hashlib.blake2b(digest_size=16)
        for a in (net.cell_bearing_deg, net.cell_mech_tilt_deg, net.cell_elec_tilt_deg,
                  net.site_x_m, net.site_y_m, net.site_height_m, net.is_drone_site()):
            h.update(np.ascontiguousarray(a).tobytes())
        if self.link_adjustment is not None:
            h.update(self.link_adjustment.token.encode())
        h.update(self._positions.encode())
        return h.hexdigest()

    def _antenna_args(self) -> tuple[int, float, float, float, float, float, float]:
        a = self.scenario.antenna
        if a.model == "omni" or self.network.omni:
            return 1, 0.5, 65.0, 65.0, 0.0, 0.0, 0.0
        return (a.n_vertical, a.spacing_wavelengths, a.hpbw_v_deg, a.hpbw_h_deg, a.sla_v_db,
                a.a_max_db, a.element_gain_dbi)

    def link_gains(self) -> tuple[NDArray[np.float32], NDArray[np.int32]]:
        """Linear coupling gains ``[U, K]`` and the cell of each slot ``[1 or U, K]``.

        Cached by the parameters they depend on (bearing, tilts, link adjustment). When only a
        few cells' bearing or tilt differ from the last computed state, only those cells'
        columns are recomputed (incremental what-if)."""
        self._ensure_fields()
        key = self._gain_key()
        hit = self._gain_cache.get(key)
        if hit is not None:
            return hit
        part = self._partial_gains()
        if part is not None:
            self._remember_gains(key, *part)
            return part
        gain, slot = self._compute_gains(None)
        self._remember_gains(key, gain, slot)
        return gain, slot

    def _ensure_fields(self) -> None:
        """Give sites added after construction (drones) their spatial-field offsets
        (deterministic: drawn from the scenario seed and the number of sites)."""
        have = self.fields.offsets_x.shape[1]
        n = self.network.n_sites
        if n > have:
            if self.scenario.propagation.spatially_consistent:
                self.fields = self.fields.with_extra_sites(
                    n - have, self.scenario.propagation.scenario,
                    np.random.default_rng([self.scenario.seed, 11, have]))
            else:
                self.fields = RadioFields.empty(n)

    def _remember_gains(self, key: str, gain: NDArray[np.float32],
                        slot: NDArray[np.int32]) -> None:
        net = self.network
        cache = self._gain_cache
        cache[key] = (gain, slot)
        # bounded (entries and bytes): drop the oldest entries
        while len(cache) > 1 and (len(cache) > _GAIN_CACHE_ENTRIES or sum(
                g.nbytes for g, _ in cache.values()) > _GAIN_CACHE_BYTES):
            del cache[next(iter(cache))]
        self._last_gain_state = (
            net.cell_bearing_deg.copy(), net.cell_mech_tilt_deg.copy(),
            net.cell_elec_tilt_deg.copy(), self.link_adjustment, gain, slot,
            net.cell_site.tobytes() + net.cell_carrier.tobytes(),
            np.column_stack([net.site_x_m, net.site_y_m, net.site_height_m]),
            self._cand_token)

    def _partial_gains(self) -> tuple[NDArray[np.float32], NDArray[np.int32]] | None:
        state = getattr(self, "_last_gain_state", None)
        net = self.network
        if state is None:
            return None
        bearing, mech, elec, adj, gain, slot, layout, geo, cand_token = state
        if adj is not self.link_adjustment or layout != (net.cell_site.tobytes()
                                                         + net.cell_carrier.tobytes()):
            return None
        self.candidate_sites()  # (re)computed now if pending, with a new token
        if cand_token != self._cand_token:  # other candidate sites: other slots
            return None
        moved = np.any(geo != np.column_stack([net.site_x_m, net.site_y_m, net.site_height_m]),
                       axis=1)
        changed = np.flatnonzero((bearing != net.cell_bearing_deg)
                                 | (mech != net.cell_mech_tilt_deg)
                                 | (elec != net.cell_elec_tilt_deg) | moved[net.cell_site])
        if changed.size == 0:
            return None
        # one cell's column depends only on that cell (its site, bearing and tilts), the
        # users and the link adjustment: columns are cached per cell setting and shared by
        # forks, so a search combining the same few tilt settings in many plans computes
        # each setting once
        # a column's slots follow the users' candidate sites
        ctx = (self._positions, self._cand_token, layout, "" if adj is None else adj.token)
        cols = self._column_cache
        geo_now = np.column_stack([net.site_x_m, net.site_y_m, net.site_height_m])
        keys = {int(c): (ctx, int(c), float(net.cell_bearing_deg[c]),
                         float(net.cell_mech_tilt_deg[c]), float(net.cell_elec_tilt_deg[c]),
                         *(float(v) for v in geo_now[net.cell_site[c]]))
                for c in changed}
        missing = np.array([c for c, k in keys.items() if k not in cols], dtype=np.int32)
        if missing.size > max(1, net.n_cells // 4):
            return None  # most columns are new: a full recompute costs no more
        if missing.size:
            sub_gain, sub_slot = self._compute_gains(missing)
            src_slot = np.broadcast_to(sub_slot, sub_gain.shape)
            for c in missing:
                cols[keys[int(c)]] = sub_gain[src_slot == c]
            while len(cols) > _COLUMN_CACHE_ENTRIES:
                del cols[next(iter(cols))]
        full_slot = np.broadcast_to(slot, gain.shape)
        new = gain.copy()
        for c, k in keys.items():
            new[full_slot == c] = cols[k]
        return new, slot

    def _compute_gains(self, only_cells: NDArray[np.int32] | None
                       ) -> tuple[NDArray[np.float32], NDArray[np.int32]]:
        """Gains of all cells, or (``only_cells``) a matrix holding only those cells' slots."""
        net, ue = self.network, self.users
        cand = self.candidate_sites()
        if only_cells is not None and cand.shape[0] == 1:
            # shared layout: evaluate only the sites that host the changed cells
            cand = np.unique(net.cell_site[only_cells]).astype(np.int32)[None, :]
        gains, slots = [], []
        for k, car in enumerate(net.carriers):
            start, order, cps, slot_cell = self._site_layout(k, cand, only_cells)
            indoor = ue.indoor
            loss = np.where(indoor, o2i_loss_db(car.fc_ghz, ue.o2i_high, ue.d2d_in_m)
                            + o2i_std_db(ue.o2i_high) * ue.o2i_z, 0.0)
            out = np.empty((ue.n, cand.shape[1] * cps), dtype=np.float32)
            self._carrier_gains(out, cand, start, order, cps, slot_cell, car, k, loss, indoor)
            self._drone_gains(out, slot_cell, float(car.fc_ghz), loss)
            gains.append(out)
            slots.append(slot_cell)
        gain = gains[0] if len(gains) == 1 else np.ascontiguousarray(np.hstack(gains))
        slot = slots[0] if len(slots) == 1 else np.ascontiguousarray(np.hstack(slots))
        if self.link_adjustment is not None:
            extra_db = self.link_adjustment.extra_loss_db(self, slot)
            gain = np.ascontiguousarray(gain * (10.0 ** (-extra_db / 10.0)).astype(np.float32))
        return gain, slot

    def _carrier_gains(self, out: NDArray[np.float32], cand: NDArray[np.int32], start: Any,
                       order: Any, cps: int, slot_cell: NDArray[np.int32], car: Any, k: int,
                       loss: NDArray[np.float64], indoor: NDArray[np.bool_]) -> None:
        """Terrestrial link gains of carrier ``k`` into ``out`` ``[U, slots]`` (``loss``: each
        user's O2I loss [dB]). The twin's model is 38.901; a truth model may override it (a
        ray tracer over real geometry)."""
        with threads_for(out.size):
            self._gain_kernel(out, cand, start, order, cps, car, k, loss, indoor)

    def _gain_kernel(self, out: NDArray[np.float32], cand: NDArray[np.int32], start: Any,
                     order: Any, cps: int, car: Any, k: int, loss: NDArray[np.float64],
                     indoor: NDArray[np.bool_]) -> None:
        """The 38.901 link-gain kernel for one carrier, written into ``out``."""
        net, ue, sc = self.network, self.users, self.scenario
        prop = sc.propagation
        scen = SCENARIO_CODES[prop.scenario]
        s_los, s_nlos, s_o2i = _SF_STD_DB[prop.scenario]
        fl = self.fields
        f_dx = np.array([1.0 / f.spacing_m for f in fl.fields])
        f_r1 = np.array([f.rho1 for f in fl.fields])
        f_r2 = np.array([f.rho2 for f in fl.fields])
        ant = self._antenna_args()
        ids = self._user_ids if self._user_ids is not None else np.arange(ue.n, dtype=np.int64)
        link_gain_kernel(
            ids, ue.x_m, ue.y_m, ue.height_m, ue.d2d_in_m, loss, indoor.astype(np.uint8),
            net.site_x_m, net.site_y_m, net.site_height_m, net.wrap_shifts_m,
            cand, start, order, cps,
            net.cell_bearing_deg, net.cell_mech_tilt_deg,
            np.cos(np.radians(90.0 + net.cell_elec_tilt_deg)),
            *ant,
            scen, float(car.fc_ghz), s_los, s_nlos, s_o2i,
            1 if prop.shadowing else 0, 1 if prop.spatially_consistent else 0,
            int(sc.seed) * 7919 + k,
            fl.fields[0].values, fl.fields[1].values, fl.fields[2].values,
            fl.fields[3].values, f_dx, f_r1, f_r2, fl.offsets_x, fl.offsets_y,
            out,
        )

    def _drone_gains(self, out: NDArray[np.float32], slot_cell: NDArray[np.int32], fc_ghz: float,
                     o2i_db: NDArray[np.float64]) -> None:
        """Overwrite the slots of drone cells with air-to-ground gains: Al-Hourani mean path loss
        (urban) from the drone to each user, the user's O2I loss, omnidirectional antenna."""
        net = self.network
        drone = net.is_drone_site()
        if not drone.any():
            return
        cells = np.broadcast_to(slot_cell, out.shape)
        ue = self.users
        for k in np.flatnonzero((cells >= 0).any(axis=0)):
            col = cells[:, k]
            ok = col >= 0
            site = np.where(ok, net.cell_site[np.where(ok, col, 0)], 0)
            is_d = ok & drone[site]
            if not is_d.any():
                continue
            u = np.flatnonzero(is_d)
            s_ = site[u]
            r = np.hypot(ue.x_m[u] - net.site_x_m[s_], ue.y_m[u] - net.site_y_m[s_])
            h = np.maximum(net.site_height_m[s_] - ue.height_m[u], 1.0)
            pl = a2g_pathloss_db(r, h, fc_ghz) + o2i_db[u]
            out[u, k] = (10.0 ** (-pl / 10.0)).astype(np.float32)

    def _site_layout(self, carrier: int, cand: NDArray[np.int32],
                     only_cells: NDArray[np.int32] | None = None) -> tuple[Any, ...]:
        """Cells of one carrier grouped by site, and the cell of every output slot (cached:
        it depends only on which cells exist, not on their parameters)."""
        net = self.network
        sub = b"" if only_cells is None else only_cells.tobytes()
        # the slot cells are the cells of each user's candidate sites: keyed by those sets
        self.candidate_sites()
        key = (carrier, net.cell_site.tobytes() + net.cell_carrier.tobytes() + sub
               + self._cand_token.encode())
        hit = self._layout_cache.get(key)
        if hit is not None:
            return hit
        cells_k = np.flatnonzero(net.cell_carrier == carrier).astype(np.int32)
        if only_cells is not None:
            cells_k = np.intersect1d(cells_k, only_cells).astype(np.int32)
        order = cells_k[np.argsort(net.cell_site[cells_k], kind="stable")]
        counts = np.bincount(net.cell_site[order], minlength=net.n_sites)
        start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        cps = int(counts.max()) if counts.size else 1
        table = np.full((net.n_sites, cps), -1, dtype=np.int32)
        for s in range(net.n_sites):
            table[s, : counts[s]] = order[start[s]: start[s + 1]]
        slot_cell = np.ascontiguousarray(table[cand].reshape(cand.shape[0], -1))
        self._layout_cache[key] = (start, order, cps, slot_cell)
        return self._layout_cache[key]

    # ------------------------------------------------------------------ evaluation
    def demand_scale(self, hour: int | None = None) -> float:
        h = self.hour if hour is None else hour
        if h is None:
            return 1.0
        return float(self._profile[int(h) % 24])

    def noise_per_carrier_dbm(self) -> NDArray[np.float64]:
        sc = self.scenario
        bw = np.array([
            (c.n_prb * c.prb_hz) if sc.radio.noise_bandwidth == "occupied"
            else c.bandwidth_mhz * 1e6 for c in self.network.carriers
        ])
        return thermal_noise_dbm(bw, sc.radio.ue_noise_figure_db)

    def _solve(self, hour: int | None, rho0: NDArray[np.float64] | None = None,
               reject_above: float | None = None, reject_outage_above: float | None = None
               ) -> tuple[Any, ...]:
        """Association and load fixed point of the current state (shared by :meth:`evaluate`
        and :meth:`evaluate_load`)."""
        net, ue, sc = self.network, self.users, self.scenario
        gain, slot_cell = self.link_gains()
        tx_mw, srv_slot, srv_cell, signal = self._associate(gain, slot_cell)
        noise_car = 10.0 ** (self.noise_per_carrier_dbm() / 10.0)
        has = srv_cell >= 0
        noise = np.where(has, noise_car[net.cell_carrier[np.where(has, srv_cell, 0)]], 1.0)
        demand = ue.demand_mbps * self.demand_scale(hour)
        if self.demand_multiplier is not None:
            demand = demand * self.demand_multiplier
        n_prb = net.cell_n_prb_available  # after slice reservations and blanking
        res = solve_load(gain, slot_cell, srv_slot, srv_cell, signal, tx_mw, net.cell_carrier,
                         n_prb, net.cell_prb_hz, noise, demand, self.link, sc.link.overhead,
                         sc.link.interference, rho0=rho0, reject_above=reject_above,
                         reject_outage_above=reject_outage_above)
        return gain, slot_cell, srv_slot, srv_cell, has, demand, n_prb, res

    def evaluate_load(self, hour: int | None = None,
                      rho0: NDArray[np.float64] | None = None,
                      reject_above: float | None = None,
                      reject_outage_above: float | None = None) -> LoadSummary:
        """Only what a plan search scores: per-cell PRB utilisation, the peak over active
        cells and the outage ratio — :meth:`evaluate` without the KPI set and tables.
        ``rho0`` warm-starts the load fixed point; ``reject_above`` / ``reject_outage_above``
        stop it as soon as the state provably breaks them (``rejected``; the numbers are then
        lower bounds) — see :func:`~twinnet.traffic.load.solve_load`."""
        *_, has, _demand, _n_prb, res = self._solve(
            hour, rho0, reject_above=reject_above, reject_outage_above=reject_outage_above)
        act = self.network.cell_active
        util = res.prb_utilization
        if res.rejected:
            outage = ~has | (self.link(res.sinr_db) <= 0.0)
        else:
            outage = ~(np.isfinite(res.prb_need) & has)
        return LoadSummary(util, float(util[act].max()) if act.any() else 0.0,
                           float(outage.mean()) if outage.size else 0.0, res.iterations,
                           res.rejected, np.where(act, res.offered_load, 0.0),
                           None if res.rejected or not res.throughput_mbps.size
                           else float(np.percentile(res.throughput_mbps, 5)))

    def evaluate(self, hour: int | None = None, uplink: bool = True) -> Evaluation:
        """Evaluate the twin's current state (optionally at an hour of the diurnal profile)."""
        net, ue = self.network, self.users
        gain, slot_cell, srv_slot, srv_cell, has, demand, n_prb, res = self._solve(hour)
        n = ue.n
        sc_idx = np.where(has, srv_cell, 0)
        rows = np.arange(n)
        g_srv = gain[rows, np.where(has, srv_slot, 0)].astype(np.float64)
        cl_db = np.where(has, -10.0 * np.log10(np.maximum(g_srv, 1e-30)), np.inf)
        rsrp = net.cell_re_power_dbm[sc_idx] - cl_db
        outage = ~(np.isfinite(res.prb_need) & has)
        ul = self._uplink_sinr_db(gain, slot_cell, srv_slot, srv_cell, cl_db, res) if uplink \
            else np.full(n, np.nan)
        names = net.cell_names
        users = {
            "x_m": ue.x_m, "y_m": ue.y_m, "height_m": ue.height_m, "indoor": ue.indoor,
            "serving_cell": srv_cell,
            "coupling_loss_db": cl_db, "rsrp_dbm": np.where(has, rsrp, -np.inf),
            "sinr_db": res.sinr_db, "ul_sinr_db": ul,
            "spectral_efficiency": res.spectral_efficiency.astype(np.float64),
            "demand_mbps": demand, "throughput_mbps": res.throughput_mbps,
            "prbs": np.where(outage, 0.0, res.prb_need), "outage": outage,
        }
        cells = {
            "cell": np.arange(net.n_cells), "name": names,
            "site": [net.site_names[s] for s in net.cell_site],
            "sector": net.cell_sector, "carrier": [net.carriers[k].name for k in net.cell_carrier],
            "x_m": net.site_x_m[net.cell_site], "y_m": net.site_y_m[net.cell_site],
            "azimuth_deg": net.cell_bearing_deg, "mechanical_tilt_deg": net.cell_mech_tilt_deg,
            "electrical_tilt_deg": net.cell_elec_tilt_deg,
            "tx_power_dbm": net.cell_tx_power_dbm, "cio_db": net.cell_cio_db,
            "active": net.cell_active, "n_prb": n_prb, "users": res.cell_users,
            "prb_utilization": res.prb_utilization, "offered_load": res.offered_load,
            "throughput_mbps": res.cell_throughput_mbps,
            "unserved_mbps": res.cell_unserved_mbps,
        }
        kpis: dict[str, Any] = network_kpis(res.throughput_mbps, demand, outage,
                                            res.prb_utilization, net.cell_active, res.sinr_db)
        hot = int(np.argmax(np.where(net.cell_active, res.prb_utilization, -1.0)))
        kpis["hottest_cell"] = names[hot]
        kpis["load_iterations"] = res.iterations
        kpis["load_converged"] = res.converged
        if hour is not None or self.hour is not None:
            kpis["hour"] = int(hour if hour is not None else self.hour)  # type: ignore[arg-type]
        return Evaluation(users, cells, kpis, res)

    def _uplink_sinr_db(self, gain: NDArray[np.float32], slot_cell: NDArray[np.int32],
                        srv_slot: NDArray[np.int32], srv_cell: NDArray[np.int32],
                        cl_db: NDArray[np.float64], res: LoadResult) -> NDArray[np.float64]:
        """Uplink SINR per PRB (fractional power control; see :func:`twinnet.radio.sinr.ul_sinr_db`)
        evaluated on the twin's (possibly pruned) link matrix."""
        net, r = self.network, self.scenario.radio
        n = srv_cell.shape[0]
        has = srv_cell >= 0
        sc_idx = np.where(has, srv_cell, 0)
        n_prb = net.cell_n_prb_available
        counts = np.maximum(res.cell_users, 1)
        m_rb = np.maximum(n_prb[sc_idx] / counts[sc_idx], 1.0)
        cl_fin = np.where(has, cl_db, 0.0)
        p_dbm = np.minimum(r.ue_max_power_dbm - 10.0 * np.log10(m_rb), r.ul_p0_dbm + r.ul_alpha
                           * cl_fin)
        w = np.where(has, 10.0 ** (p_dbm / 10.0) * res.prb_utilization[sc_idx] / counts[sc_idx],
                     0.0)
        cells = slot_cell if slot_cell.shape[0] == n else np.broadcast_to(slot_cell, gain.shape)
        contrib = gain * w[:, None]
        valid = (cells >= 0) & (cells != srv_cell[:, None])
        same = net.cell_carrier[np.where(cells >= 0, cells, 0)] == \
            net.cell_carrier[sc_idx][:, None]
        valid &= same
        interf = np.bincount(np.where(valid, cells, 0).ravel(),
                             weights=np.where(valid, contrib, 0.0).ravel(),
                             minlength=net.n_cells)
        prb_hz = net.cell_prb_hz
        noise = 10.0 ** (thermal_noise_dbm(prb_hz, r.bs_noise_figure_db) / 10.0)
        sig = 10.0 ** ((p_dbm - cl_fin) / 10.0)
        out = 10.0 * np.log10(np.maximum(sig / (interf[sc_idx] + noise[sc_idx]), 1e-30))
        return np.where(has, out, -np.inf)

    def _associate(self, gain: NDArray[np.float32], slot_cell: NDArray[np.int32]
                   ) -> tuple[NDArray[np.float64], NDArray[np.int32], NDArray[np.int32],
                              NDArray[np.float64]]:
        """Cell transmit powers [mW] and each user's serving slot, cell and received power:
        the strongest RSRP plus offset among active cells (load-independent)."""
        net = self.network
        tx_mw = np.where(net.cell_active, 10.0 ** (net.cell_tx_power_dbm / 10.0), 0.0)
        n = self.users.n
        srv_slot = np.empty(n, np.int32)
        srv_cell = np.empty(n, np.int32)
        signal = np.empty(n, np.float64)
        with threads_for(int(gain.size)):
            serving_kernel(gain, slot_cell, tx_mw, 10.0 ** (net.cell_cio_db / 10.0), srv_slot,
                           srv_cell, signal)
        return tx_mw, srv_slot, srv_cell, signal

    def serving_cells(self) -> NDArray[np.int32]:
        """Serving cell of every user ``[U]`` (-1: none); independent of load, so cheaper than
        :meth:`evaluate`."""
        return self._associate(*self.link_gains())[2]

    def what_if(self, plan: Any, hour: int | None = None) -> Any:
        """Predicted KPIs and deltas of an :class:`~twinnet.actions.ActionPlan`, without
        changing this twin (see :mod:`twinnet.twin.whatif`)."""
        return what_if(self, plan, hour)

    # ------------------------------------------------------------------ per-link views
    def slot_cells(self) -> NDArray[np.int32]:
        """Cell of every slot ``[U, K]`` (-1: empty slot), broadcast to one row per user."""
        gain, slot = self.link_gains()
        return np.broadcast_to(slot, gain.shape)

    def link_rsrp_dbm(self) -> NDArray[np.float64]:
        """RSRP of every user–cell link ``[U, K]`` [dBm] (TS 38.215: per resource element,
        transmit power spread over ``12 · N_PRB`` subcarriers); ``-inf`` for empty slots and
        switched-off cells."""
        gain, _ = self.link_gains()
        cells = self.slot_cells()
        net = self.network
        c = np.where(cells >= 0, cells, 0)
        p_re = net.cell_re_power_dbm
        with np.errstate(divide="ignore"):
            out = p_re[c] + 10.0 * np.log10(gain.astype(np.float64))
        return np.where((cells >= 0) & net.cell_active[c], out, -np.inf)

    def link_geometry(self, cells: NDArray[np.int32], users: NDArray[np.int64] | None = None,
                      x_m: NDArray[np.float64] | None = None,
                      y_m: NDArray[np.float64] | None = None) -> dict[str, NDArray[np.float64]]:
        """Geometry of user–cell links (arrays shaped like ``cells``; rows are ``users`` or all
        users): horizontal distance [m] to the nearest wrap-around image of the site, azimuth
        off the boresight [deg, -180…180), elevation below the horizon minus the total downtilt
        [deg] (TR 38.901 §7.1 angles as seen from the cell), and the user position
        (``x_m``/``y_m`` per row: where the users were, e.g. a measurement report's position,
        instead of the twin's)."""
        net, ue = self.network, self.users
        rows = np.arange(ue.n) if users is None else users
        rows2 = np.broadcast_to(rows[:, None], cells.shape) if cells.ndim == 2 else rows
        c = np.where(cells >= 0, cells, 0)
        s = net.cell_site[c]
        if x_m is None or y_m is None:
            ux, uy = ue.x_m[rows2], ue.y_m[rows2]
        else:
            px, py = np.asarray(x_m, dtype=np.float64), np.asarray(y_m, dtype=np.float64)
            ux = np.broadcast_to(px[:, None], cells.shape) if cells.ndim == 2 else px
            uy = np.broadcast_to(py[:, None], cells.shape) if cells.ndim == 2 else py
        best = np.full(cells.shape, np.inf)
        dx_b = np.zeros(cells.shape)
        dy_b = np.zeros(cells.shape)
        for sx, sy in net.wrap_shifts_m:
            dx = ux - (net.site_x_m[s] + sx)
            dy = uy - (net.site_y_m[s] + sy)
            d = np.hypot(dx, dy)
            take = d < best
            best = np.where(take, d, best)
            dx_b = np.where(take, dx, dx_b)
            dy_b = np.where(take, dy, dy_b)
        d2d = np.maximum(best, 1.0)
        az = np.degrees(np.arctan2(dy_b, dx_b))
        off = (az - net.cell_bearing_deg[c] + 180.0) % 360.0 - 180.0
        dh = net.site_height_m[s] - ue.height_m[rows2]
        elev = np.degrees(np.arctan2(dh, d2d))
        tilt = net.cell_mech_tilt_deg[c] + net.cell_elec_tilt_deg[c]
        return {"distance_m": d2d, "azimuth_off_deg": off, "elevation_off_deg": elev - tilt,
                "x_m": np.asarray(ux, dtype=np.float64), "y_m": np.asarray(uy, dtype=np.float64)}

    def evaluate_day(self, hours: range | list[int] = range(24)) -> pd.DataFrame:
        """KPIs for each hour of the diurnal profile (one row per hour)."""
        rows = []
        for h in hours:
            k = self.evaluate(hour=h, uplink=False).kpis
            rows.append({"hour": h, "demand_scale": self.demand_scale(h), **k})
        return pd.DataFrame(rows)
