"""Drone (low-altitude platform, LAP) base-station placement for a demand surge.

Use case IV-B2 of the LLM-DTNet article: a stadium event overloads the fixed network and drones
carrying small cells are flown in. Where should they hover, how high, and how few are enough,
given user density, backhaul capacity and the drones' energy?

The module has two parts (the air-to-ground channel itself is :mod:`twinnet.radio.a2g`:
Al-Hourani path loss, coverage radius per altitude, radio capacity of a drone cell).

1. :class:`DronePlacementProblem` — demand points ``(x, y, Mbps)`` (e.g. a stadium crowd,
   :func:`stadium_demand`), candidate drone sites = horizontal grid × altitudes, per-candidate
   coverage radius, capacity ``min(radio, backhaul)``, power draw (hover + payload) with a fleet
   power budget, an endurance check (battery vs mission time), a drone count limit and a cost.

2. Solvers: an exact MILP (:func:`solve_placement_milp`, Pyomo + HiGHS), a greedy baseline
   (:func:`greedy_placement`) and an exhaustive check for tiny instances
   (:func:`brute_force_placement`).

MILP (minimum-cost set cover with capacities; cf. Kalantari et al. 2016, Mozaffari et al. 2016):

    minimise    Σ_s c_s y_s
    subject to  Σ_s x_sj ≤ 1                         every demand point j
                x_sj = 0 unless r_sj ≤ R_s (variable absent); optionally x_sj ≤ y_s
                Σ_j D_j x_sj ≤ min(C_s, B_s) y_s    every site s   (radio capacity, backhaul)
                Σ_sj D_j x_sj ≥ α Σ_j D_j           served-demand target
                Σ_s P_s y_s ≤ P_max ;  Σ_s y_s ≤ N_max ;  Σ_{s at one (x, y)} y_s ≤ 1
                y_s ∈ {0, 1};  x_sj ∈ [0, 1]  (or {0, 1} for unsplittable demand)

A second stage (``polish=True``) fixes the chosen sites and maximises the served demand, so the
reported loads are not just "exactly the target". Interference between drones is not modelled
(orthogonal carriers per drone), as in the placement literature cited.

References
----------
* A. Al-Hourani, S. Kandeepan and S. Lardner, "Optimal LAP altitude for maximum coverage,"
  IEEE Wireless Commun. Lett., 3(6):569–572, 2014.
* E. Kalantari, H. Yanikomeroglu and A. Yongacoglu, "On the number and 3-D placement of drone
  base stations in wireless cellular networks," IEEE VTC-Fall, 2016.
* M. Mozaffari, W. Saad, M. Bennis and M. Debbah, "Efficient deployment of multiple unmanned
  aerial vehicles for optimal wireless coverage," IEEE Commun. Lett., 20(8):1647–1650, 2016.
* Y. Zeng, J. Xu and R. Zhang, "Energy minimization for wireless communication with rotary-wing
  UAV," IEEE Trans. Wireless Commun., 18(4):2329–2345, 2019 (hover power ≈ 168 W).
* 3GPP TR 36.942 Annex A.2 (attenuated Shannon bound).

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> xy, mbps = stadium_demand(rng, n_points=12, total_mbps=600.0)
>>> prob = DronePlacementProblem.from_link_budget(
...     xy, mbps, candidate_grid((-150, 150), (-150, 150), 150.0), altitudes_m=[100, 200],
...     backhaul_mbps=300.0)
>>> plan = solve_placement_milp(prob)
>>> plan.status, plan.n_drones >= 2, prob.violations(plan)
('optimal', True, [])
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linprog

from twinnet.errors import InputError
from twinnet.radio.a2g import A2GLinkBudget
from twinnet.rrm.solvers import solve

FloatArray = NDArray[np.float64]
Assignment = Literal["fractional", "binary"]

__all__ = [
    "DronePlacement",
    "DronePlacementProblem",
    "brute_force_placement",
    "candidate_grid",
    "greedy_placement",
    "solve_placement_milp",
    "stadium_demand",
]

_TOL = 1e-6


# ============================================================================================
# demand and candidates


def stadium_demand(
    rng: np.random.Generator,
    n_points: int = 40,
    total_mbps: float = 2000.0,
    center_xy_m: tuple[float, float] = (0.0, 0.0),
    stand_radii_m: tuple[float, float] = (60.0, 130.0),
    outside_fraction: float = 0.2,
    outside_radius_m: float = 250.0,
) -> tuple[FloatArray, FloatArray]:
    """Demand points of a stadium event: ``(xy_m [J, 2], demand_mbps [J])``.

    A fraction ``1 − outside_fraction`` of the points lies uniformly on the stands (an annulus
    between ``stand_radii_m``), the rest around the stadium (concourse, car parks) up to
    ``outside_radius_m``. Point demands are Gamma(2)-distributed and sum to ``total_mbps``.
    """
    if n_points < 1:
        raise InputError("n_points", n_points, "at least one demand point")
    if not (total_mbps > 0 and np.isfinite(total_mbps)):
        raise InputError("total_mbps", total_mbps, "a positive finite demand [Mbps]")
    r_in, r_out = stand_radii_m
    if not 0 <= r_in < r_out:
        raise InputError("stand_radii_m", stand_radii_m, "0 ≤ inner < outer radius [m]")
    if not 0.0 <= outside_fraction <= 1.0:
        raise InputError("outside_fraction", outside_fraction, "a fraction in [0, 1]")
    n_out = round(outside_fraction * n_points)
    n_in = n_points - n_out
    r = np.concatenate([
        np.sqrt(rng.uniform(r_in**2, r_out**2, n_in)),
        np.sqrt(rng.uniform(r_out**2, max(outside_radius_m, r_out) ** 2, n_out)),
    ])
    phi = rng.uniform(0.0, 2.0 * math.pi, n_points)
    xy = np.column_stack([center_xy_m[0] + r * np.cos(phi), center_xy_m[1] + r * np.sin(phi)])
    w = rng.gamma(2.0, 1.0, n_points)
    return xy, total_mbps * w / w.sum()


def candidate_grid(
    x_range_m: tuple[float, float], y_range_m: tuple[float, float], step_m: float
) -> FloatArray:
    """Horizontal candidate positions ``[P, 2]`` on a regular grid covering the ranges
    (inclusive ends)."""
    if not step_m > 0:
        raise InputError("step_m", step_m, "a positive grid step [m]")
    if x_range_m[1] < x_range_m[0] or y_range_m[1] < y_range_m[0]:
        raise InputError("x_range_m/y_range_m", (x_range_m, y_range_m), "(min, max) with min ≤ max")
    xs = np.arange(x_range_m[0], x_range_m[1] + 1e-9 * max(1.0, step_m), step_m)
    ys = np.arange(y_range_m[0], y_range_m[1] + 1e-9 * max(1.0, step_m), step_m)
    gx, gy = np.meshgrid(xs, ys, indexing="xy")
    return np.column_stack([gx.ravel(), gy.ravel()]).astype(np.float64)


# ============================================================================================
# problem


def _vec(value: ArrayLike, n: int, name: str, *, positive: bool = False,
         allow_inf: bool = False) -> FloatArray:
    v = np.asarray(value, dtype=np.float64)
    if v.ndim > 1 or (v.ndim == 1 and v.shape[0] != n):
        raise InputError(name, v.shape, f"a scalar or a vector of length {n}")
    v = np.broadcast_to(v, (n,)).astype(np.float64)
    if np.any(np.isnan(v)) or (not allow_inf and not np.all(np.isfinite(v))):
        raise InputError(name, value, "finite numbers")
    if np.any(v < 0) or (positive and np.any(v <= 0)):
        raise InputError(name, value, "positive values" if positive else "non-negative values")
    return v


def _xy(value: ArrayLike, name: str) -> FloatArray:
    a = np.asarray(value, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2 or a.shape[0] == 0:
        raise InputError(name, a.shape, "an array of (x, y) positions [m] with shape [N, 2]")
    if not np.all(np.isfinite(a)):
        raise InputError(name, value, "finite coordinates [m]")
    return a


@dataclass(frozen=True)
class DronePlacementProblem:
    """A drone base-station placement instance (arrays; see :meth:`from_link_budget`).

    Shapes: ``J`` demand points, ``S`` candidate sites (a horizontal position and an altitude).

    Attributes
    ----------
    demand_xy_m : [J, 2] demand-point positions [m].
    demand_mbps : [J] offered traffic [Mbps] (≥ 0).
    site_xy_m : [S, 2] candidate horizontal positions [m].
    site_altitude_m : [S] candidate altitudes [m] (> 0).
    coverage_radius_m : [S] horizontal coverage radius [m]; a demand point may only be served
        by a site within this radius.
    radio_capacity_mbps : [S] air-interface capacity [Mbps].
    backhaul_mbps : [S] backhaul limit [Mbps]; the usable capacity is the minimum of both.
    power_w : [S] electrical power a drone draws at the site (hover + payload) [W].
    cost : [S] deployment cost (1 per drone = minimise the count).
    target_fraction : served demand must reach this fraction of the total, in (0, 1].
    max_total_power_w : fleet power budget [W] (``inf`` = none).
    max_drones : at most this many drones (``None`` = no limit).
    battery_wh : [S] battery energy [Wh]; a site is usable only if
        ``power_w · mission_h ≤ battery_wh`` (``inf`` = tethered / no endurance limit).
    mission_h : mission duration [h].
    one_per_position : at most one drone per horizontal position (over all altitudes).
    """

    demand_xy_m: FloatArray
    demand_mbps: FloatArray
    site_xy_m: FloatArray
    site_altitude_m: FloatArray
    coverage_radius_m: FloatArray
    radio_capacity_mbps: FloatArray
    backhaul_mbps: FloatArray
    power_w: FloatArray
    cost: FloatArray
    target_fraction: float = 1.0
    max_total_power_w: float = math.inf
    max_drones: int | None = None
    battery_wh: FloatArray = field(default_factory=lambda: np.array(np.inf))
    mission_h: float = 1.0
    one_per_position: bool = True

    def __post_init__(self) -> None:
        dxy = _xy(self.demand_xy_m, "demand_xy_m")
        j = dxy.shape[0]
        sxy = _xy(self.site_xy_m, "site_xy_m")
        s = sxy.shape[0]
        setattr_ = object.__setattr__
        setattr_(self, "demand_xy_m", dxy)
        setattr_(self, "demand_mbps", _vec(self.demand_mbps, j, "demand_mbps"))
        setattr_(self, "site_xy_m", sxy)
        setattr_(self, "site_altitude_m",
                 _vec(self.site_altitude_m, s, "site_altitude_m", positive=True))
        setattr_(self, "coverage_radius_m", _vec(self.coverage_radius_m, s, "coverage_radius_m"))
        setattr_(self, "radio_capacity_mbps",
                 _vec(self.radio_capacity_mbps, s, "radio_capacity_mbps"))
        setattr_(self, "backhaul_mbps", _vec(self.backhaul_mbps, s, "backhaul_mbps",
                                             allow_inf=True))
        setattr_(self, "power_w", _vec(self.power_w, s, "power_w"))
        setattr_(self, "cost", _vec(self.cost, s, "cost", positive=True))
        setattr_(self, "battery_wh", _vec(self.battery_wh, s, "battery_wh", allow_inf=True))
        if not (0.0 < self.target_fraction <= 1.0):
            raise InputError("target_fraction", self.target_fraction, "a fraction in (0, 1]")
        if math.isnan(self.max_total_power_w) or self.max_total_power_w < 0:
            raise InputError("max_total_power_w", self.max_total_power_w, "≥ 0 [W] or inf")
        if self.max_drones is not None and (int(self.max_drones) != self.max_drones
                                            or self.max_drones < 0):
            raise InputError("max_drones", self.max_drones, "a non-negative integer or None")
        if not (self.mission_h >= 0 and math.isfinite(self.mission_h)):
            raise InputError("mission_h", self.mission_h, "a non-negative finite duration [h]")
        if float(self.demand_mbps.sum()) <= 0:
            raise InputError("demand_mbps", self.demand_mbps, "a positive total demand")

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_link_budget(
        cls,
        demand_xy_m: ArrayLike,
        demand_mbps: ArrayLike,
        ground_xy_m: ArrayLike,
        altitudes_m: Sequence[float] | ArrayLike = (50.0, 100.0, 150.0, 200.0, 300.0),
        link: A2GLinkBudget | None = None,
        backhaul_mbps: float | ArrayLike = 500.0,
        hover_power_w: float = 168.5,
        payload_power_w: float = 20.0,
        cost_per_drone: float = 1.0,
        target_fraction: float = 1.0,
        max_total_power_w: float = math.inf,
        max_drones: int | None = None,
        battery_wh: float = math.inf,
        mission_h: float = 1.0,
        one_per_position: bool = True,
    ) -> DronePlacementProblem:
        """Candidates = every ground position × every altitude (position-major order).

        Coverage radius and radio capacity per altitude come from ``link``
        (:class:`A2GLinkBudget`); power per drone is ``hover_power_w + payload_power_w``
        (168.5 W rotary-wing hover, Zeng et al. 2019). ``backhaul_mbps`` is a scalar or one
        value per candidate ``[P · A]``.
        """
        link = link or A2GLinkBudget()
        g = _xy(ground_xy_m, "ground_xy_m")
        alt = np.atleast_1d(np.asarray(altitudes_m, dtype=np.float64))
        if alt.ndim != 1 or alt.size == 0 or np.any(alt <= 0) or not np.all(np.isfinite(alt)):
            raise InputError("altitudes_m", altitudes_m, "positive finite altitudes [m]")
        n_p, n_a = g.shape[0], alt.size
        radius = link.coverage_radius_m(alt)
        cap = link.radio_capacity_mbps(alt)
        for name, v in (("hover_power_w", hover_power_w), ("payload_power_w", payload_power_w)):
            if not (np.isfinite(v) and v >= 0):
                raise InputError(name, v, "a non-negative power [W]")
        return cls(
            demand_xy_m=np.asarray(demand_xy_m, dtype=np.float64),
            demand_mbps=np.asarray(demand_mbps, dtype=np.float64),
            site_xy_m=np.repeat(g, n_a, axis=0),
            site_altitude_m=np.tile(alt, n_p),
            coverage_radius_m=np.tile(radius, n_p),
            radio_capacity_mbps=np.tile(cap, n_p),
            backhaul_mbps=np.asarray(backhaul_mbps, dtype=np.float64),
            power_w=np.asarray(hover_power_w + payload_power_w, dtype=np.float64),
            cost=np.asarray(cost_per_drone, dtype=np.float64),
            target_fraction=target_fraction,
            max_total_power_w=max_total_power_w,
            max_drones=max_drones,
            battery_wh=np.asarray(battery_wh, dtype=np.float64),
            mission_h=mission_h,
            one_per_position=one_per_position,
        )

    # ---------------------------------------------------------------- derived quantities
    @property
    def n_demand(self) -> int:
        return int(self.demand_mbps.shape[0])

    @property
    def n_sites(self) -> int:
        return int(self.site_altitude_m.shape[0])

    @property
    def total_demand_mbps(self) -> float:
        return float(self.demand_mbps.sum())

    @property
    def target_mbps(self) -> float:
        """Demand that must be served [Mbps]."""
        return self.target_fraction * self.total_demand_mbps

    @property
    def capacity_mbps(self) -> FloatArray:
        """[S] usable capacity ``min(radio, backhaul)`` [Mbps]."""
        return np.minimum(self.radio_capacity_mbps, self.backhaul_mbps)

    @property
    def horizontal_distance_m(self) -> FloatArray:
        """[S, J] horizontal distance between sites and demand points [m]."""
        diff = self.site_xy_m[:, None, :] - self.demand_xy_m[None, :, :]
        return np.asarray(np.hypot(diff[..., 0], diff[..., 1]), dtype=np.float64)

    @property
    def coverage(self) -> NDArray[np.bool_]:
        """[S, J] true where demand point ``j`` lies inside site ``s``'s coverage disc."""
        return np.asarray(
            self.horizontal_distance_m <= self.coverage_radius_m[:, None] * (1 + 1e-12),
            dtype=bool)

    @property
    def endurance_ok(self) -> NDArray[np.bool_]:
        """[S] the battery lasts the mission (``power_w · mission_h ≤ battery_wh``)."""
        return np.asarray(self.power_w * self.mission_h <= self.battery_wh * (1 + 1e-12),
                          dtype=bool)

    @property
    def usable(self) -> NDArray[np.bool_]:
        """[S] sites a drone may occupy: endurance holds, fits the power budget alone, has
        capacity and covers some demand."""
        return np.asarray(
            self.endurance_ok
            & (self.power_w <= self.max_total_power_w * (1 + 1e-12))
            & (self.capacity_mbps > 0)
            & (self.coverage & (self.demand_mbps > 0)[None, :]).any(axis=1),
            dtype=bool)

    @property
    def position_group(self) -> NDArray[np.int64]:
        """[S] index of the distinct horizontal position of each site."""
        _, inv = np.unique(np.round(self.site_xy_m, 6), axis=0, return_inverse=True)
        return np.asarray(inv.reshape(-1), dtype=np.int64)

    # ---------------------------------------------------------------- checks
    def violations(self, plan: DronePlacement, tol: float = _TOL) -> list[str]:
        """Every constraint ``plan`` breaks, as readable strings (empty = valid)."""
        out: list[str] = []
        chosen = np.asarray(plan.chosen, dtype=np.int64)
        if chosen.size and (chosen.min() < 0 or chosen.max() >= self.n_sites):
            return [f"chosen site index out of range: {plan.chosen}"]
        if len(set(chosen.tolist())) != chosen.size:
            out.append("a site is chosen twice")
        usable = self.usable
        for s in chosen:
            if not self.endurance_ok[s]:
                out.append(f"site {s}: endurance {self.power_w[s] * self.mission_h:.4g} Wh "
                           f"> battery {self.battery_wh[s]:.4g} Wh")
            elif not usable[s]:
                out.append(f"site {s} is not usable")
        if self.one_per_position and chosen.size:
            groups = self.position_group[chosen]
            if np.unique(groups).size != groups.size:
                out.append("two drones at the same horizontal position")
        if self.max_drones is not None and chosen.size > self.max_drones:
            out.append(f"{chosen.size} drones > max_drones = {self.max_drones}")
        power = float(self.power_w[chosen].sum())
        if power > self.max_total_power_w * (1 + tol) + tol:
            out.append(f"total power {power:.6g} W > budget {self.max_total_power_w:.6g} W")
        x = np.asarray(plan.assignment, dtype=np.float64)
        if x.shape != (chosen.size, self.n_demand):
            return [*out, f"assignment shape {x.shape} != {(chosen.size, self.n_demand)}"]
        if np.any(x < -tol) or np.any(x > 1 + tol):
            out.append("assignment fractions outside [0, 1]")
        if chosen.size:
            cov = self.coverage[chosen]
            if np.any(x[~cov] > tol):
                out.append("demand assigned to a drone that does not cover it")
            total = x.sum(axis=0)
            if np.any(total > 1 + tol):
                over = np.flatnonzero(total > 1 + tol).tolist()
                out.append(f"demand points served more than once: {over}")
            load = x @ self.demand_mbps
            cap = self.capacity_mbps[chosen]
            for k in np.flatnonzero(load > cap * (1 + tol) + tol):
                kind = ("backhaul" if self.backhaul_mbps[chosen[k]] < self.radio_capacity_mbps[
                    chosen[k]] else "radio capacity")
                out.append(f"site {chosen[k]}: load {load[k]:.6g} Mbps > {kind} {cap[k]:.6g} Mbps")
        if plan.assignment_kind == "binary" and np.any(np.minimum(np.abs(x), np.abs(1 - x)) > tol):
            out.append("binary assignment is fractional")
        served = float((x @ self.demand_mbps).sum()) if chosen.size else 0.0
        if plan.feasible and served < self.target_mbps * (1 - tol) - tol:
            out.append(f"served {served:.6g} Mbps < target {self.target_mbps:.6g} Mbps")
        if abs(float(self.cost[chosen].sum()) - plan.cost) > tol * max(1.0, plan.cost):
            out.append("reported cost differs from the chosen sites' cost")
        return out


# ============================================================================================
# results


@dataclass(frozen=True)
class DronePlacement:
    """A placement: chosen candidate sites and who they serve.

    Attributes
    ----------
    method : ``"milp"``, ``"greedy"`` or ``"brute_force"``.
    status : ``"optimal"``, ``"feasible"`` (time limit with an incumbent), ``"infeasible"``
        (no placement meets the target), ``"target_not_met"`` (greedy stopped short), or the
        solver's termination condition.
    feasible : the placement meets every constraint including the served-demand target.
    chosen : indices of the chosen candidates ``[K]``.
    positions_xy_m : [K, 2] horizontal positions [m].
    altitudes_m : [K] altitudes [m].
    assignment : [K, J] fraction of each demand point served by each drone.
    load_mbps : [K] traffic carried per drone [Mbps].
    capacity_mbps : [K] usable capacity ``min(radio, backhaul)`` per drone [Mbps].
    served_mbps, total_demand_mbps : [Mbps].
    cost : total cost of the chosen drones.
    total_power_w : fleet power draw [W].
    solve_time_s : wall time [s]; mip_gap : relative gap reported by the solver (MILP only).
    """

    method: str
    status: str
    feasible: bool
    chosen: tuple[int, ...]
    positions_xy_m: FloatArray
    altitudes_m: FloatArray
    assignment: FloatArray
    load_mbps: FloatArray
    capacity_mbps: FloatArray
    served_mbps: float
    total_demand_mbps: float
    cost: float
    total_power_w: float
    solve_time_s: float
    assignment_kind: Assignment = "fractional"
    mip_gap: float | None = None
    message: str = ""

    @property
    def n_drones(self) -> int:
        return len(self.chosen)

    @property
    def served_fraction(self) -> float:
        return self.served_mbps / self.total_demand_mbps if self.total_demand_mbps else 0.0

    def drones_frame(self) -> pd.DataFrame:
        """One row per drone: site index, x, y, altitude, load, capacity, utilisation."""
        return pd.DataFrame({
            "site": np.asarray(self.chosen, dtype=np.int64),
            "x_m": self.positions_xy_m[:, 0] if self.n_drones else np.zeros(0),
            "y_m": self.positions_xy_m[:, 1] if self.n_drones else np.zeros(0),
            "altitude_m": self.altitudes_m,
            "load_mbps": self.load_mbps,
            "capacity_mbps": self.capacity_mbps,
            "utilisation": np.divide(self.load_mbps, self.capacity_mbps,
                                     out=np.zeros_like(self.load_mbps),
                                     where=self.capacity_mbps > 0),
        })


def _placement(
    prob: DronePlacementProblem,
    chosen: Sequence[int],
    assignment: FloatArray,
    *,
    method: str,
    status: str,
    feasible: bool,
    solve_time_s: float,
    kind: Assignment,
    mip_gap: float | None = None,
    message: str = "",
) -> DronePlacement:
    idx = np.asarray(sorted(int(s) for s in chosen), dtype=np.int64)
    order = np.argsort(np.asarray(list(chosen), dtype=np.int64)) if len(chosen) else idx
    x = np.clip(np.asarray(assignment, dtype=np.float64).reshape(len(chosen), prob.n_demand),
                0.0, 1.0)[order]
    if kind == "binary":
        x = np.round(x)
    load = x @ prob.demand_mbps if idx.size else np.zeros(0)
    served = float(load.sum())
    if not message:
        message = (f"{method}: {idx.size} drones, cost {float(prob.cost[idx].sum()):.6g}, "
                   f"served {served:.6g} of {prob.total_demand_mbps:.6g} Mbps "
                   f"({served / prob.total_demand_mbps:.1%}; target "
                   f"{prob.target_fraction:.1%})")
    return DronePlacement(
        method=method, status=status, feasible=feasible, chosen=tuple(int(s) for s in idx),
        positions_xy_m=prob.site_xy_m[idx], altitudes_m=prob.site_altitude_m[idx],
        assignment=x, load_mbps=load, capacity_mbps=prob.capacity_mbps[idx],
        served_mbps=served, total_demand_mbps=prob.total_demand_mbps,
        cost=float(prob.cost[idx].sum()), total_power_w=float(prob.power_w[idx].sum()),
        solve_time_s=solve_time_s, assignment_kind=kind, mip_gap=mip_gap, message=message,
    )


def _check_kind(assignment: str) -> Assignment:
    if assignment not in ("fractional", "binary"):
        raise InputError("assignment", assignment, "'fractional' or 'binary'")
    return "fractional" if assignment == "fractional" else "binary"


def _meets_target(prob: DronePlacementProblem, served: float) -> bool:
    return served >= prob.target_mbps * (1 - 1e-7) - 1e-9


# ============================================================================================
# exact MILP


def solve_placement_milp(
    prob: DronePlacementProblem,
    assignment: Assignment = "fractional",
    polish: bool = True,
    solver: str | None = None,
    time_limit_s: float | None = None,
    mip_gap: float | None = 1e-6,
    warm_start: bool = True,
    strong_links: bool = False,
) -> DronePlacement:
    """Minimum-cost drone placement meeting the served-demand target (Pyomo + HiGHS MILP).

    See the module docstring for the formulation. Only usable sites and covered
    (site, demand) pairs get variables. With ``polish`` a second solve keeps the chosen sites
    and maximises the served demand. ``assignment="binary"`` makes every demand point
    unsplittable (served whole by one drone or not at all). With ``warm_start`` the greedy
    placement (when it meets the target) is handed to the solver as a MIP start, so that a run
    stopped by ``time_limit_s`` is never worse than the greedy baseline.
    ``strong_links`` adds the disaggregated linking constraints ``x_sj ≤ y_s`` (a tighter LP
    relaxation but a model with one row per covered pair; the capacity rows
    ``Σ_j D_j x_sj ≤ C_s y_s`` already force ``x = 0`` at closed sites, and on stadium-size
    instances HiGHS was 2–7× faster without them). A valid cut
    ``Σ_s y_s ≥ ⌈target / max_s C_s⌉`` is always added.

    Returns a :class:`DronePlacement` (``status="infeasible"`` with no drones when no placement
    can meet the target under the energy, count and capacity limits).
    """
    kind = _check_kind(assignment)
    t0 = time.perf_counter()
    usable = np.flatnonzero(prob.usable)
    cover = prob.coverage & (prob.demand_mbps > 0)[None, :]
    cap = prob.capacity_mbps
    d = prob.demand_mbps
    pairs = [(int(s), int(j)) for s in usable for j in np.flatnonzero(cover[s])]
    by_site: dict[int, list[int]] = {int(s): [] for s in usable}
    by_demand: dict[int, list[int]] = {}
    for s, j in pairs:
        by_site[s].append(j)
        by_demand.setdefault(j, []).append(s)

    # quick infeasibility: even every usable site together cannot reach the target
    servable = [j for j in by_demand
                if kind == "fractional" or d[j] <= float(cap[by_demand[j]].max()) * (1 + 1e-9)]
    reachable = float(d[servable].sum()) if servable else 0.0
    if not _meets_target(prob, min(reachable, float(cap[usable].sum()))):
        return _placement(
            prob, [], np.zeros((0, prob.n_demand)), method="milp", status="infeasible",
            feasible=False, solve_time_s=time.perf_counter() - t0, kind=kind,
            message=(f"infeasible: usable drones can reach at most "
                     f"{min(reachable, float(cap[usable].sum())):.6g} Mbps < target "
                     f"{prob.target_mbps:.6g} Mbps"))

    m = pyo.ConcreteModel(name="drone_placement")
    m.S = pyo.Set(initialize=[int(s) for s in usable], ordered=True)
    m.P = pyo.Set(initialize=pairs, dimen=2, ordered=True)
    m.y = pyo.Var(m.S, domain=pyo.Binary)
    m.x = pyo.Var(m.P, domain=pyo.Binary if kind == "binary" else pyo.UnitInterval)

    m.once = pyo.Constraint(list(by_demand), rule=lambda _m, j: sum(
        _m.x[s, j] for s in by_demand[j]) <= 1)
    if strong_links:
        m.link = pyo.Constraint(m.P, rule=lambda _m, s, j: _m.x[s, j] <= _m.y[s])
    m.capacity = pyo.Constraint(m.S, rule=lambda _m, s: sum(
        float(d[j]) * _m.x[s, j] for j in by_site[s]) <= float(cap[s]) * _m.y[s])
    served_expr = sum(float(d[j]) * m.x[s, j] for s, j in pairs)
    m.target = pyo.Constraint(expr=served_expr >= prob.target_mbps)
    if math.isfinite(prob.max_total_power_w):
        m.energy = pyo.Constraint(expr=sum(float(prob.power_w[s]) * m.y[s] for s in m.S)
                                  <= prob.max_total_power_w)
    if prob.max_drones is not None:
        m.count = pyo.Constraint(expr=sum(m.y[s] for s in m.S) <= int(prob.max_drones))
    if prob.one_per_position:
        groups: dict[int, list[int]] = {}
        for site in usable:
            groups.setdefault(int(prob.position_group[site]), []).append(int(site))
        multi = {g: v for g, v in groups.items() if len(v) > 1}
        if multi:
            m.one_per_position = pyo.Constraint(list(multi), rule=lambda _m, g: sum(
                _m.y[s] for s in multi[g]) <= 1)
    # valid cut: served ≤ Σ cap_s y_s, so at least ⌈target / max cap⌉ drones; with equal costs
    # this lifts the root bound to an integer and lets the solver stop at a matching incumbent
    n_min = math.ceil(prob.target_mbps / float(cap[usable].max()) - 1e-9)
    if n_min > 1:
        m.count_lb = pyo.Constraint(expr=sum(m.y[s] for s in m.S) >= n_min)
    m.cost = pyo.Objective(expr=sum(float(prob.cost[s]) * m.y[s] for s in m.S),
                           sense=pyo.minimize)

    started = False
    if warm_start:
        start = greedy_placement(prob, assignment=kind)
        if start.feasible:
            rows = {s: k for k, s in enumerate(start.chosen)}
            for s in m.S:
                m.y[s].set_value(1 if s in rows else 0)
            for s, j in pairs:
                m.x[s, j].set_value(float(start.assignment[rows[s], j]) if s in rows else 0.0)
            started = True
    info = solve(m, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap,
                 warmstart=started)
    if not info.has_solution:
        status = info.status
        return _placement(
            prob, [], np.zeros((0, prob.n_demand)), method="milp", status=status,
            feasible=False, solve_time_s=time.perf_counter() - t0, kind=kind,
            message=(f"{status}: no placement meets the target of {prob.target_mbps:.6g} Mbps "
                     "under the capacity, backhaul, energy and count limits"
                     if status == "infeasible" else f"solver ended with {status}"))
    status = "optimal" if info.optimal else "feasible"
    gap = info.mip_gap

    def _read() -> tuple[list[int], FloatArray]:
        chosen = [s for s in usable if (pyo.value(m.y[int(s)]) or 0.0) > 0.5]
        x = np.zeros((len(chosen), prob.n_demand))
        for k, s in enumerate(chosen):
            for j in by_site[int(s)]:
                x[k, j] = pyo.value(m.x[int(s), j]) or 0.0
        return [int(s) for s in chosen], x

    chosen, x = _read()
    if polish and chosen:
        for s in m.S:
            m.y[s].fix(1 if s in chosen else 0)
        m.cost.deactivate()
        m.served = pyo.Objective(expr=served_expr, sense=pyo.maximize)
        info2 = solve(m, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap)
        if info2.has_solution:
            chosen2, x2 = _read()
            if chosen2 == chosen and float((x2 @ d).sum()) >= float((x @ d).sum()) - 1e-9:
                x = x2
    return _placement(prob, chosen, x, method="milp", status=status, feasible=True,
                      solve_time_s=time.perf_counter() - t0, kind=kind, mip_gap=gap)


# ============================================================================================
# greedy baseline


def _fill(
    d_res: FloatArray, whole: NDArray[np.bool_], cov: NDArray[np.bool_], cap: float,
    order: NDArray[np.int64], kind: Assignment,
) -> FloatArray:
    """Amount [Mbps] a drone takes from each demand point, in ``order``, up to ``cap``."""
    take = np.zeros_like(d_res)
    room = cap
    for j in order:
        if not cov[j] or d_res[j] <= 0 or room <= 0:
            continue
        if kind == "binary":
            if whole[j] and d_res[j] <= room + 1e-12:
                take[j] = d_res[j]
                room -= d_res[j]
        else:
            a = min(d_res[j], room)
            take[j] = a
            room -= a
    return take


def greedy_placement(
    prob: DronePlacementProblem, assignment: Assignment = "fractional"
) -> DronePlacement:
    """Greedy baseline: repeatedly add the drone with the largest marginal served demand per
    unit cost until the target is met.

    A candidate's marginal gain is the unserved demand it can take within its coverage and
    capacity — filled nearest-first for splittable demand, largest-first (first-fit decreasing)
    for unsplittable demand. Candidates that would break the power budget, the drone count or
    the one-drone-per-position rule are skipped. The classic ``ln``-factor set-cover greedy; it
    may use more drones than the MILP, or stop short of the target (``status="target_not_met"``).
    """
    kind = _check_kind(assignment)
    t0 = time.perf_counter()
    usable = prob.usable.copy()
    cover = prob.coverage & (prob.demand_mbps > 0)[None, :]
    dist = prob.horizontal_distance_m
    cap = prob.capacity_mbps
    groups = prob.position_group
    d_res = prob.demand_mbps.copy()
    whole = np.ones(prob.n_demand, dtype=bool)
    chosen: list[int] = []
    rows: list[FloatArray] = []
    served, power = 0.0, 0.0
    big_first = np.argsort(-prob.demand_mbps, kind="stable").astype(np.int64)
    while not _meets_target(prob, served):
        if prob.max_drones is not None and len(chosen) >= prob.max_drones:
            break
        best, best_score, best_take = -1, 0.0, np.zeros(0)
        for s in np.flatnonzero(usable):
            if power + prob.power_w[s] > prob.max_total_power_w * (1 + 1e-12):
                continue
            order = (big_first if kind == "binary"
                     else np.argsort(dist[s], kind="stable").astype(np.int64))
            take = _fill(d_res, whole, cover[s], float(cap[s]), order, kind)
            gain = float(take.sum())
            score = gain / float(prob.cost[s])
            if gain > 1e-12 and score > best_score * (1 + 1e-12):
                best, best_score, best_take = int(s), score, take
        if best < 0:
            break
        chosen.append(best)
        rows.append(np.divide(best_take, prob.demand_mbps, out=np.zeros_like(best_take),
                              where=prob.demand_mbps > 0))
        d_res = np.maximum(d_res - best_take, 0.0)
        whole &= best_take <= 0
        served += float(best_take.sum())
        power += float(prob.power_w[best])
        usable[best] = False
        if prob.one_per_position:
            usable[groups == groups[best]] = False
    ok = _meets_target(prob, served)
    x = np.vstack(rows) if rows else np.zeros((0, prob.n_demand))
    return _placement(prob, chosen, x, method="greedy",
                      status="feasible" if ok else "target_not_met", feasible=ok,
                      solve_time_s=time.perf_counter() - t0, kind=kind)


# ============================================================================================
# brute force (tiny instances)


def _max_served_fractional(
    d: FloatArray, cov: NDArray[np.bool_], cap: FloatArray
) -> tuple[float, FloatArray]:
    """Max served demand for fixed drones (splittable): an LP ``[K, J]`` solved by SciPy."""
    k, j = cov.shape
    pairs = np.argwhere(cov)
    if pairs.size == 0:
        return 0.0, np.zeros((k, j))
    n = pairs.shape[0]
    c = -d[pairs[:, 1]]
    rows_d = np.zeros((j, n))
    rows_d[pairs[:, 1], np.arange(n)] = 1.0
    rows_c = np.zeros((k, n))
    rows_c[pairs[:, 0], np.arange(n)] = d[pairs[:, 1]]
    res = linprog(c, A_ub=np.vstack([rows_d, rows_c]), b_ub=np.concatenate([np.ones(j), cap]),
                  bounds=(0.0, 1.0), method="highs")
    if res.status != 0:  # pragma: no cover - the LP is always feasible (x = 0) and bounded
        raise RuntimeError(f"max-served LP failed: {res.message}")
    x = np.zeros((k, j))
    x[pairs[:, 0], pairs[:, 1]] = res.x
    return float(-res.fun), x


def _max_served_binary(
    d: FloatArray, cov: NDArray[np.bool_], cap: FloatArray
) -> tuple[float, FloatArray]:
    """Max served demand for fixed drones (unsplittable): depth-first enumeration."""
    k, j = cov.shape
    order = [int(i) for i in np.argsort(-d, kind="stable") if cov[:, i].any() and d[i] > 0]
    suffix = np.concatenate([np.cumsum(d[order][::-1])[::-1], [0.0]]) if order else np.zeros(1)
    best_val, best_assign = -1.0, [-1] * j
    room = cap.astype(np.float64).copy()
    assign = [-1] * j

    def dfs(pos: int, val: float) -> None:
        nonlocal best_val, best_assign
        if val + suffix[pos] <= best_val + 1e-12:
            return
        if pos == len(order):
            best_val, best_assign = val, assign.copy()
            return
        i = order[pos]
        for s in range(k):
            if cov[s, i] and d[i] <= room[s] + 1e-12:
                room[s] -= d[i]
                assign[i] = s
                dfs(pos + 1, val + float(d[i]))
                assign[i] = -1
                room[s] += d[i]
        dfs(pos + 1, val)

    dfs(0, 0.0)
    x = np.zeros((k, j))
    for i, s in enumerate(best_assign):
        if s >= 0:
            x[s, i] = 1.0
    return max(best_val, 0.0), x


def brute_force_placement(
    prob: DronePlacementProblem,
    assignment: Assignment = "fractional",
    max_candidates: int = 14,
) -> DronePlacement:
    """Exhaustive minimum-cost placement for tiny instances (a check on the MILP).

    Enumerates every subset of usable sites that respects the power budget, count limit and
    one-per-position rule, in increasing cost, and returns the first whose maximum served demand
    (an LP for splittable, a depth-first search for unsplittable demand) meets the target.
    Raises :class:`InputError` when there are more than ``max_candidates`` usable sites.
    """
    kind = _check_kind(assignment)
    t0 = time.perf_counter()
    usable = [int(s) for s in np.flatnonzero(prob.usable)]
    if len(usable) > max_candidates:
        raise InputError("prob", f"{len(usable)} usable sites",
                         f"at most max_candidates = {max_candidates} for brute force")
    cover = prob.coverage & (prob.demand_mbps > 0)[None, :]
    cap = prob.capacity_mbps
    d = prob.demand_mbps
    groups = prob.position_group
    n_max = len(usable) if prob.max_drones is None else min(len(usable), int(prob.max_drones))
    subsets: list[tuple[float, tuple[int, ...]]] = []
    for size in range(n_max + 1):
        for sub in itertools.combinations(usable, size):
            if prob.one_per_position and len({int(groups[s]) for s in sub}) < size:
                continue
            if float(prob.power_w[list(sub)].sum()) > prob.max_total_power_w * (1 + 1e-12):
                continue
            subsets.append((float(prob.cost[list(sub)].sum()), sub))
    subsets.sort(key=lambda t: (t[0], len(t[1])))
    max_served = _max_served_binary if kind == "binary" else _max_served_fractional
    for _cost, sub in subsets:
        idx = list(sub)
        bound = min(float(cap[idx].sum()), float(d[cover[idx].any(axis=0)].sum())) if idx else 0.0
        if not _meets_target(prob, bound):
            continue
        served, x = max_served(d, cover[idx], cap[idx])
        if _meets_target(prob, served):
            return _placement(prob, idx, x, method="brute_force", status="optimal",
                              feasible=True, solve_time_s=time.perf_counter() - t0, kind=kind)
    return _placement(prob, [], np.zeros((0, prob.n_demand)), method="brute_force",
                      status="infeasible", feasible=False,
                      solve_time_s=time.perf_counter() - t0, kind=kind,
                      message=f"infeasible: no subset of the {len(usable)} usable sites meets "
                              f"the target of {prob.target_mbps:.6g} Mbps")

