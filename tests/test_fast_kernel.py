"""The fused link kernel against the NumPy reference functions, and the spatial fields."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from twinnet.network.topology import hex_site_positions, wrap_shifts_m
from twinnet.radio import antenna, los, o2i, pathloss
from twinnet.radio.fields import SpatialField, site_offsets_m
from twinnet.scenario import Scenario
from twinnet.twin import DigitalTwin

#: geometry per scenario (TR 38.901 Table 7.2-1 / 7.8-1): BS height, ISD and UE height. InH
#: users are in the office with the BS (no O2I penetration): indoor_fraction 0, hUT = 1 m
_GEOMETRY = {
    "UMa": {"bs_height_m": 25.0, "isd_m": 300.0},
    "UMi": {"bs_height_m": 10.0, "isd_m": 300.0},
    "RMa": {"bs_height_m": 25.0, "isd_m": 300.0},
    "InH-Office-Mixed": {"bs_height_m": 3.0, "isd_m": 20.0},
    "InH-Office-Open": {"bs_height_m": 3.0, "isd_m": 40.0},
}


def _scenario(name: str = "UMa", shadowing: bool = False, wrap: bool = False, n: int = 400,
              mech_tilt: float = 0.0, consistent: bool = True,
              floors: tuple[int, int] = (4, 8)) -> Scenario:
    inh = name.startswith("InH")
    return Scenario.from_dict({
        "seed": 5,
        "layout": {"type": "hex", "n_sites": 7, **_GEOMETRY[name], "wrap_around": wrap,
                   "electrical_tilt_deg": 9.0, "mechanical_tilt_deg": mech_tilt},
        "carriers": [{"fc_ghz": 3.5, "bandwidth_mhz": 20, "scs_khz": 30}],
        "propagation": {"scenario": name, "shadowing": shadowing,
                        "spatially_consistent": consistent},
        "users": {"count": n, "indoor_fraction": 0.0 if inh else 0.5, "floors": list(floors),
                  "outdoor_height_m": 1.0 if inh else 1.5},
    })


def _link_geometry(twin: DigitalTwin) -> dict[str, np.ndarray]:
    """Per (user, cell) geometry of the links, without wrap-around: 2D/3D distance, height
    difference, horizontal offsets, and the outdoor part of the 2D distance."""
    net, ue = twin.network, twin.users
    sx, sy = net.site_x_m[net.cell_site], net.site_y_m[net.cell_site]
    dx = ue.x_m[:, None] - sx[None, :]
    dy = ue.y_m[:, None] - sy[None, :]
    d2d = np.maximum(np.hypot(dx, dy), 1.0)
    dh = ue.height_m[:, None] - net.site_height_m[net.cell_site][None, :]
    d_out = d2d - np.where(ue.indoor, ue.d2d_in_m, 0.0)[:, None]
    return {"dx": dx, "dy": dy, "d2d": d2d, "dh": dh, "d3d": np.hypot(d2d, dh), "d_out": d_out}


def _reference_gain_db(twin: DigitalTwin, los_state: bool, h_e_m: float = 1.0) -> np.ndarray:
    """Coupling gain [dB] per (user, cell) from the reference NumPy functions (no shadowing),
    assuming every link is LOS (``los_state``) or NLOS, with effective environment height
    ``h_e_m`` (UMa, Table 7.4.1-1 note 1)."""
    net, ue = twin.network, twin.users
    scen = twin.scenario.propagation.scenario
    geo = _link_geometry(twin)
    sh = net.site_height_m[net.cell_site]
    fc = net.carriers[0].fc_ghz
    pl = pathloss.pathloss_db(scen, los_state, geo["d2d"], geo["d3d"], fc, sh[None, :],
                              ue.height_m[:, None], h_e_m)
    loss = pl + np.where(ue.indoor, o2i.o2i_loss_db(fc, ue.o2i_high, ue.d2d_in_m)
                         + o2i.o2i_std_db(ue.o2i_high) * ue.o2i_z, 0.0)[:, None]
    theta = np.degrees(np.arctan2(geo["d2d"], geo["dh"]))
    phi = np.degrees(np.arctan2(geo["dy"], geo["dx"]))
    g = antenna.antenna_gain_dbi(theta, phi, net.cell_bearing_deg[None, :],
                                 net.cell_mech_tilt_deg[None, :], net.cell_elec_tilt_deg[None, :])
    return g - loss


#: the values h_E takes in UMa (Table 7.4.1-1 note 1): 1 m, or 12, 15, ..., hUT - 1.5 m
_H_E = (1.0, 12.0, 15.0, 18.0, 21.0)


def _reference_hypotheses(twin: DigitalTwin) -> dict[tuple[bool, float], np.ndarray]:
    """Reference gains [dB] for every (LOS state, h_E) a link may have drawn; NaN where the
    h_E value is not allowed for the user's height (only UMa users above 13 m have h_E > 1)."""
    h = twin.users.height_m[:, None]
    uma = twin.scenario.propagation.scenario == "UMa"
    out = {}
    for state in (True, False):
        for h_e in _H_E if uma else (1.0,):
            ref = _reference_gain_db(twin, state, h_e)
            ok = (h_e == 1.0) | ((h > 13.0) & (h_e <= h - 1.5))
            out[(state, h_e)] = np.where(ok, ref, np.nan)
    return out


def _kernel_gain_db(twin: DigitalTwin) -> np.ndarray:
    gain, slot_cell = twin.link_gains()
    out = np.full((twin.users.n, twin.network.n_cells), -np.inf)
    cells = slot_cell[0]
    out[:, cells[cells >= 0]] = 10 * np.log10(gain[:, cells >= 0].astype(np.float64))
    return out


def _array_factor_db(twin: DigitalTwin) -> np.ndarray:
    """Array factor [dB] of every (user, cell) link: in its deep nulls (< -30 dB) the dB value
    of a float32 gain is ill-conditioned."""
    net = twin.network
    geo = _link_geometry(twin)
    th_l, _ = antenna.local_angles_deg(np.degrees(np.arctan2(geo["d2d"], geo["dh"])),
                                       np.degrees(np.arctan2(geo["dy"], geo["dx"])),
                                       net.cell_bearing_deg, net.cell_mech_tilt_deg)
    return antenna.array_factor_db(th_l, 10, 0.5, net.cell_elec_tilt_deg)


def _matches(got: np.ndarray, hyp: dict[tuple[bool, float], np.ndarray]
             ) -> dict[tuple[bool, float], np.ndarray]:
    """Per hypothesis: whether it is (one of) the nearest to the kernel's gain. Hypotheses
    more than 0.1 dB apart are told apart (:func:`_distinct`)."""
    err = {k: np.abs(got - ref) for k, ref in hyp.items()}
    best = np.nanmin(np.stack(list(err.values())), axis=0)
    return {k: e <= best + 0.05 for k, e in err.items()}


def _distinct(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Where two hypotheses give clearly different gains (NaN: not a hypothesis, so distinct)."""
    return ~(np.abs(a - b) <= 0.1)


SCENARIOS = ["UMa", "UMi", "RMa", "InH-Office-Mixed", "InH-Office-Open"]


@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize(("mech_tilt", "consistent"), [(0.0, False), (6.0, True)])
def test_kernel_matches_reference_chain(name, mech_tilt, consistent):
    twin = DigitalTwin(_scenario(name, mech_tilt=mech_tilt, consistent=consistent, n=1500))
    got = _kernel_gain_db(twin)
    hyp = _reference_hypotheses(twin)
    err = np.nanmin(np.stack([np.abs(got - ref) for ref in hyp.values()]), axis=0)
    # float32 storage of gains; in the array factor's deep nulls the two evaluations agree to
    # 0.1 dB (0.5 dB in nulls below -60 dB, met by the InH links right under a tilted panel)
    af = _array_factor_db(twin)
    assert err[af >= -30.0].max() < 2e-3
    assert err[(af < -30.0) & (af >= -60.0)].max(initial=0.0) < 0.1
    assert err[af < -60.0].max(initial=0.0) < 0.5
    # the LOS state, where the two states give different gains whatever h_E was drawn
    los_keys = [k for k in hyp if k[0]]
    nlos_keys = [k for k in hyp if not k[0]]
    distinct = np.ones(got.shape, bool)
    for a in los_keys:
        for b in nlos_keys:
            distinct &= _distinct(hyp[a], hyp[b])
    is_los = np.any([m for k, m in _matches(got, hyp).items() if k[0]], axis=0)
    geo = _link_geometry(twin)
    # Table 7.4.2-1 with d2D-out (all of d2D for InH, whose users are in the office) and, for
    # UMa, the C'(hUT) factor of users above 13 m
    p = los.los_probability(name, geo["d_out"], twin.users.height_m[:, None])
    sure = (p >= 1.0) & distinct
    assert np.all(is_los[sure])
    # the LOS fraction follows the probability, on each branch of Table 7.4.2-1 for i.i.d.
    # draws; spatially consistent draws are correlated over 10-60 m, which leaves a few
    # independent samples per site on the short InH branches: there the whole set, loosely
    if consistent:
        m = distinct & (p < 1.0)
        assert is_los[m].mean() == pytest.approx(p[m].mean(), abs=0.1)
        return
    branches = {"InH-Office-Mixed": (1.2, 6.5), "InH-Office-Open": (5.0, 49.0)}.get(name, ())
    for lo, hi in itertools.pairwise([0.0, *branches, np.inf]):
        m = distinct & (p < 1.0) & (geo["d_out"] > lo) & (geo["d_out"] <= hi)
        if branches and lo == 0.0:
            assert not m.any()  # d <= 1.2 m (mixed), 5 m (open): p = 1, checked above
            continue
        assert m.sum() > 300, (lo, hi)
        assert is_los[m].mean() == pytest.approx(p[m].mean(), abs=0.03), (lo, hi)


def test_uma_users_above_13_m_draw_h_e_and_see_more_los():
    """TR 38.901 Table 7.4.1-1 note 1 and Table 7.4.2-1 for UMa users above 13 m: h_E = 1 m
    with probability 1/(1 + C(d2D, hUT)), else uniform over {12, 15, ..., hUT - 1.5} m, with
    C = ((hUT - 13)/10)^1.5 g(d2D), g = (5/4)(d2D/100)^3 exp(-d2D/150) beyond 18 m; and the LOS
    probability grows by the factor 1 + C'(hUT) g(d2D-out)."""
    # every user indoors in an 8-floor building: half of them above 13 m (hUT up to 22.5 m)
    twin = DigitalTwin(_scenario("UMa", consistent=False, n=5000, floors=(8, 8)))
    h = twin.users.height_m[:, None]
    assert h.max() == 22.5
    got = _kernel_gain_db(twin)
    hyp = _reference_hypotheses(twin)
    geo = _link_geometry(twin)
    high = np.broadcast_to(h > 13.0, got.shape)
    err = np.nanmin(np.stack([np.abs(got - ref) for ref in hyp.values()]), axis=0)
    assert err[_array_factor_db(twin) >= -30.0].max() < 2e-3
    matches = _matches(got, hyp)
    # LOS where the states are distinguishable whatever h_E is
    distinct = np.ones(got.shape, bool)
    for a in [k for k in hyp if k[0]]:
        for b in [k for k in hyp if not k[0]]:
            distinct &= _distinct(hyp[a], hyp[b])
    is_los = np.any([m for k, m in matches.items() if k[0]], axis=0)
    p = los.los_probability("UMa", geo["d_out"], h)
    p_low = los.los_probability("UMa", geo["d_out"], 1.5)  # without the height factor
    m = high & distinct & (p < 1.0)
    assert m.sum() > 5000
    assert p[m].mean() - p_low[m].mean() > 0.08  # the factor matters on these links
    assert is_los[m].mean() == pytest.approx(p[m].mean(), abs=0.03)
    # h_E: only beyond the breakpoint of a LOS link does it change the gain. On LOS links whose
    # gain tells h_E = 1 from at least one allowed h_E > 1, the probability that the gain is
    # the h_E = 1 one is P1 + (1 - P1) * (allowed values indistinguishable from 1) / (allowed)
    d2d = geo["d2d"]
    c = np.where(d2d > 18.0, (np.maximum(h - 13.0, 0.0) / 10.0) ** 1.5 * 1.25 * (d2d / 100.0) ** 3
                 * np.exp(-d2d / 150.0), 0.0)
    p1 = 1.0 / (1.0 + c)
    ref1 = hyp[(True, 1.0)]
    allowed = np.zeros(got.shape)
    same = np.zeros(got.shape)
    for h_e in _H_E[1:]:
        ok = ~np.isnan(hyp[(True, h_e)])
        allowed += ok
        same += ok & ~_distinct(hyp[(True, h_e)], ref1)
    sel = high & distinct & is_los & (same < allowed)
    expected = p1 + (1.0 - p1) * same / np.maximum(allowed, 1.0)
    assert sel.sum() > 1000
    assert expected[sel].mean() < 0.85  # h_E = 21 m (hUT = 22.5 m) is drawn often enough
    assert matches[(True, 1.0)][sel].mean() == pytest.approx(expected[sel].mean(), abs=0.05)
    # every h_E > 1 that shows is allowed for the user's height, and the largest one is drawn
    for h_e in _H_E[1:]:
        only = matches[(True, h_e)] & ~matches[(True, 1.0)]
        assert np.all(h[np.nonzero(only)[0], 0] - 1.5 >= h_e)
    assert (matches[(True, 21.0)] & ~matches[(True, 18.0)] & sel).sum() > 50


def test_shadowing_statistics_per_state():
    twin = DigitalTwin(_scenario("UMi", shadowing=True, n=3000))
    twin_ns = DigitalTwin(_scenario("UMi", shadowing=False, n=3000))
    diff = _kernel_gain_db(twin_ns) - _kernel_gain_db(twin)  # = shadow fading (same LOS draw)
    outdoor = ~twin.users.indoor
    # outdoor links: mixture of sigma 4 (LOS) and 7.82 (NLOS); indoor links: sigma 7
    assert np.std(diff[~outdoor]) == pytest.approx(7.0, rel=0.1)
    assert 4.0 * 0.9 < np.std(diff[outdoor]) < 7.82 * 1.1
    assert abs(np.mean(diff)) < 0.6
    # co-sited cells share the shadowing value (per-site, 38.901 §7.5)
    cs = twin.network.cell_site
    same_site = np.flatnonzero(cs == cs[0])
    assert np.allclose(diff[:, same_site[0]], diff[:, same_site[1]], atol=1e-3)


def test_wrap_around_uses_nearest_image():
    sc = _scenario("UMa", wrap=True)
    twin = DigitalTwin(sc)
    got = _kernel_gain_db(twin)
    shifts = wrap_shifts_m(7, 300.0)
    # every one of the 7 images is distinct and at sqrt(7) ISD from the origin
    assert np.allclose(np.hypot(shifts[1:, 0], shifts[1:, 1]), math.sqrt(7) * 300.0)
    # the wrapped network has no "edge": the best gain per user is statistically the same for
    # users near the centre and near the edge
    r = np.hypot(twin.users.x_m, twin.users.y_m)
    best = got.max(axis=1)
    assert abs(np.median(best[r < 300]) - np.median(best[r > 350])) < 6.0


def test_hex_positions():
    pos = hex_site_positions(19, 500.0)
    assert pos.shape == (19, 2) and np.allclose(pos[0], 0.0)
    d = np.hypot(*(pos[:, None, :] - pos[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    assert np.allclose(d.min(axis=1), 500.0)


def test_spatial_field_is_unit_variance_with_exponential_correlation():
    rng = np.random.default_rng(0)
    f = SpatialField.generate(20.0, rng, extent_m=2000.0, points_per_corr=6.0)  # as the twin
    x = rng.uniform(0, f.period_m, 20000)
    y = rng.uniform(0, f.period_m, 20000)
    v = f.sample(x, y)
    assert np.mean(v) == pytest.approx(0.0, abs=0.1)
    assert np.std(v) == pytest.approx(1.0, abs=0.1)
    # grid nodes carry the exact exponential ACF ...
    g = f.values.astype(np.float64)
    for k in (1, 4, 8):
        assert np.mean(g * np.roll(g, k, axis=0)) == pytest.approx(
            math.exp(-k * f.spacing_m / 20.0), abs=0.03)
    # ... and interpolated values stay within 0.06 of it (normalising the variance of the
    # bilinear interpolation raises the correlation slightly between nodes)
    for lag in (10.0, 20.0, 40.0):
        ang = rng.uniform(0, 2 * np.pi, x.size)
        w = f.sample(x + lag * np.cos(ang), y + lag * np.sin(ang))
        assert np.corrcoef(v, w)[0, 1] == pytest.approx(math.exp(-lag / 20.0), abs=0.06)
    # different sites read the field at offsets far apart: practically independent
    off = site_offsets_m(16, f.period_m, 20.0, rng)
    a = f.sample(x, y, *off[0])
    b = f.sample(x, y, *off[1])
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.05
