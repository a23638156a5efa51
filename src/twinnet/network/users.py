"""User equipment: where users are, whether they are indoors, and what they demand."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from twinnet.network.raster import load_raster, sample_raster
from twinnet.network.topology import Network
from twinnet.radio.o2i import indoor_distance_m, indoor_ue_height_m
from twinnet.scenario import Scenario

__all__ = ["UserSet", "drop_users", "uniform_in_network"]


@dataclass
class UserSet:
    """Per-user arrays (length ``n``). ``o2i_z`` is the standard-normal draw of the random part
    of the building penetration loss (scaled by sigma_P of the user's building type)."""

    x_m: NDArray[np.float64]
    y_m: NDArray[np.float64]
    height_m: NDArray[np.float64]
    indoor: NDArray[np.bool_]
    d2d_in_m: NDArray[np.float64]
    o2i_high: NDArray[np.bool_]
    o2i_z: NDArray[np.float64]
    demand_mbps: NDArray[np.float64]

    @property
    def n(self) -> int:
        return int(self.x_m.shape[0])

    def take(self, idx: NDArray[np.int64]) -> UserSet:
        return UserSet(**{k: getattr(self, k)[idx] for k in self.__dataclass_fields__})


def _in_site_hexagon(dx: NDArray[np.float64], dy: NDArray[np.float64], isd: float,
                     orientation_deg: float) -> NDArray[np.bool_]:
    """Inside the Voronoi hexagon of a site whose neighbours lie at ``orientation + k·60°``."""
    inside = np.ones(dx.shape, dtype=bool)
    for k in range(6):
        a = math.radians(orientation_deg) + k * math.pi / 3.0
        inside &= dx * math.cos(a) + dy * math.sin(a) <= isd / 2.0 + 1e-9
    return inside


def uniform_in_network(network: Network, n: int, rng: np.random.Generator,
                       min_distance_m: float = 0.0) -> NDArray[np.float64]:
    """``n`` points uniform over the network area: the union of the sites' hexagons for a
    hexagonal grid, else the sites' bounding box plus a margin; no point closer than
    ``min_distance_m`` to a site."""
    sx, sy = network.site_x_m, network.site_y_m
    tree = cKDTree(np.column_stack([sx, sy]))
    if network.isd_m:
        margin = network.isd_m / math.sqrt(3.0)
    else:
        if network.n_sites > 1:
            nn, _ = tree.query(np.column_stack([sx, sy]), k=2)
            margin = float(np.median(nn[:, 1]))
        else:
            margin = 500.0
    lo = np.array([sx.min() - margin, sy.min() - margin])
    hi = np.array([sx.max() + margin, sy.max() + margin])
    out = np.empty((0, 2))
    while out.shape[0] < n:
        m = max(2 * (n - out.shape[0]), 64)
        pts = rng.uniform(lo, hi, (m, 2))
        dist, idx = tree.query(pts)
        ok = dist >= min_distance_m
        if network.isd_m:
            ok &= _in_site_hexagon(pts[:, 0] - sx[idx], pts[:, 1] - sy[idx], network.isd_m,
                                   network.lattice_orientation_deg)
        out = np.vstack([out, pts[ok]])
    return out[:n]


def _push_away(pts: NDArray[np.float64], network: Network, min_distance_m: float,
               rng: np.random.Generator) -> NDArray[np.float64]:
    """Move points closer than ``min_distance_m`` to a site out to a random point at that
    distance (keeps clusters where they are)."""
    if min_distance_m <= 0:
        return pts
    tree = cKDTree(np.column_stack([network.site_x_m, network.site_y_m]))
    dist, idx = tree.query(pts)
    bad = dist < min_distance_m
    if bad.any():
        ang = rng.uniform(0, 2 * math.pi, bad.sum())
        r = rng.uniform(min_distance_m, 1.5 * min_distance_m, bad.sum())
        pts = pts.copy()
        pts[bad, 0] = network.site_x_m[idx[bad]] + r * np.cos(ang)
        pts[bad, 1] = network.site_y_m[idx[bad]] + r * np.sin(ang)
    return pts


def _spread_bits(v: NDArray[np.uint64]) -> NDArray[np.uint64]:
    v = v & np.uint64(0xFFFFFFFF)
    for shift, mask in ((16, 0x0000FFFF0000FFFF), (8, 0x00FF00FF00FF00FF),
                        (4, 0x0F0F0F0F0F0F0F0F), (2, 0x3333333333333333),
                        (1, 0x5555555555555555)):
        v = (v | (v << np.uint64(shift))) & np.uint64(mask)
    return v


def spatial_order(x: NDArray[np.float64], y: NDArray[np.float64], resolution_m: float = 1.0
                  ) -> NDArray[np.int64]:
    """Z-order (Morton) permutation of points: consecutive users are neighbours at every scale,
    so the link kernel reads the shadowing fields with cache locality."""
    if x.size == 0:
        return np.zeros(0, dtype=np.int64)
    ix = np.floor((x - x.min()) / resolution_m).astype(np.uint64)
    iy = np.floor((y - y.min()) / resolution_m).astype(np.uint64)
    key = _spread_bits(ix) | (_spread_bits(iy) << np.uint64(1))
    return np.argsort(key, kind="stable")


def _scene_points(scenario: Scenario, network: Network, indoor: NDArray[np.bool_],
                  rng: np.random.Generator) -> NDArray[np.float64]:
    """Users of a city scene: outdoor users on its streets, indoor users in its buildings,
    uniform over the sites' bounding box plus half a site spacing."""
    from twinnet.network.scene import scenario_geometry

    geo = scenario_geometry(scenario)
    margin = 0.5 * (network.isd_m or 300.0)
    box = (float(network.site_x_m.min()) - margin, float(network.site_y_m.min()) - margin,
           float(network.site_x_m.max()) + margin, float(network.site_y_m.max()) + margin)
    pts = np.empty((indoor.size, 2))
    pts[indoor] = geo.sample(int(indoor.sum()), True, rng, box)
    pts[~indoor] = geo.sample(int((~indoor).sum()), False, rng, box)
    return pts


def drop_users(scenario: Scenario, network: Network, rng: np.random.Generator) -> UserSet:
    """Place ``scenario.users.count`` users and draw their indoor state and demand."""
    cfg = scenario.users
    n = cfg.count
    min_d = scenario.propagation.min_distance
    demand_factor = np.ones(n)
    if cfg.distribution == "uniform":
        pts = uniform_in_network(network, n, rng, min_d)
    elif cfg.distribution == "hotspots":
        parts, factors = [], []
        used = 0
        for h in cfg.hotspots:
            k = round(h.fraction * n)
            k = min(k, n - used)
            used += k
            parts.append(rng.normal([h.x_m, h.y_m], h.radius_m, (k, 2)))
            factors.append(np.full(k, h.demand_factor))
        parts.append(uniform_in_network(network, n - used, rng, min_d))
        factors.append(np.ones(n - used))
        pts = _push_away(np.vstack(parts), network, min_d, rng)
        demand_factor = np.concatenate(factors)
    elif cfg.distribution == "scene":
        indoor = rng.uniform(size=n) < cfg.indoor_fraction
        pts = _scene_points(scenario, network, indoor, rng)
    else:
        assert cfg.raster is not None
        raster = load_raster(cfg.raster, scenario.base_dir)
        pts = _push_away(sample_raster(raster, n, rng), network, min_d, rng)

    if cfg.distribution != "scene":
        indoor = rng.uniform(size=n) < cfg.indoor_fraction
    height = np.full(n, cfg.outdoor_height_m)
    n_in = int(indoor.sum())
    height[indoor] = indoor_ue_height_m(rng, n_in, *cfg.floors)
    d2d_in = np.zeros(n)
    d2d_in[indoor] = indoor_distance_m(rng, n_in, scenario.propagation.scenario)
    high = indoor & (rng.uniform(size=n) < scenario.propagation.o2i_high_loss_fraction)
    o2i_z = np.where(indoor, rng.standard_normal(n), 0.0)
    d = scenario.demand
    if d.distribution == "lognormal":
        s = d.lognormal_sigma
        demand = d.per_user_mbps * np.exp(s * rng.standard_normal(n) - 0.5 * s * s)
    else:
        demand = np.full(n, d.per_user_mbps)
    users = UserSet(pts[:, 0].copy(), pts[:, 1].copy(), height, indoor, d2d_in, high, o2i_z,
                    demand * demand_factor)
    return users.take(spatial_order(users.x_m, users.y_m))
