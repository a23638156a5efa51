"""The fused link kernel against the NumPy reference functions, and the spatial fields."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twinnet.network.topology import hex_site_positions, wrap_shifts_m
from twinnet.radio import antenna, los, o2i, pathloss
from twinnet.radio.fields import SpatialField, site_offsets_m
from twinnet.scenario import Scenario
from twinnet.twin import DigitalTwin


def _scenario(name: str = "UMa", shadowing: bool = False, wrap: bool = False, n: int = 400,
              mech_tilt: float = 0.0, consistent: bool = True) -> Scenario:
    return Scenario.from_dict({
        "seed": 5,
        "layout": {"type": "hex", "n_sites": 7, "isd_m": 300.0,
                   "bs_height_m": 25.0 if name != "UMi" else 10.0, "wrap_around": wrap,
                   "electrical_tilt_deg": 9.0, "mechanical_tilt_deg": mech_tilt},
        "carriers": [{"fc_ghz": 3.5, "bandwidth_mhz": 20, "scs_khz": 30}],
        "propagation": {"scenario": name, "shadowing": shadowing,
                        "spatially_consistent": consistent},
        "users": {"count": n, "indoor_fraction": 0.5},
    })


def _reference_gain_db(twin: DigitalTwin, los_state: bool) -> np.ndarray:
    """Coupling gain [dB] per (user, cell) from the reference NumPy functions (no shadowing),
    assuming every link is LOS (``los_state``) or NLOS."""
    net, ue = twin.network, twin.users
    scen = twin.scenario.propagation.scenario
    sx, sy, sh = (net.site_x_m[net.cell_site], net.site_y_m[net.cell_site],
                  net.site_height_m[net.cell_site])
    dx = ue.x_m[:, None] - sx[None, :]
    dy = ue.y_m[:, None] - sy[None, :]
    d2d = np.maximum(np.hypot(dx, dy), 1.0)
    dh = ue.height_m[:, None] - sh[None, :]
    d3d = np.hypot(d2d, dh)
    fc = net.carriers[0].fc_ghz
    pl = pathloss.pathloss_db(scen, los_state, d2d, d3d, fc, sh[None, :], ue.height_m[:, None])
    loss = pl + np.where(ue.indoor, o2i.o2i_loss_db(fc, ue.o2i_high, ue.d2d_in_m)
                         + o2i.o2i_std_db(ue.o2i_high) * ue.o2i_z, 0.0)[:, None]
    theta = np.degrees(np.arctan2(d2d, dh))
    phi = np.degrees(np.arctan2(dy, dx))
    g = antenna.antenna_gain_dbi(theta, phi, net.cell_bearing_deg[None, :],
                                 net.cell_mech_tilt_deg[None, :], net.cell_elec_tilt_deg[None, :])
    return g - loss


def _kernel_gain_db(twin: DigitalTwin) -> np.ndarray:
    gain, slot_cell = twin.link_gains()
    out = np.full((twin.users.n, twin.network.n_cells), -np.inf)
    cells = slot_cell[0]
    out[:, cells[cells >= 0]] = 10 * np.log10(gain[:, cells >= 0].astype(np.float64))
    return out


@pytest.mark.parametrize("name", ["UMa", "UMi", "RMa"])
@pytest.mark.parametrize(("mech_tilt", "consistent"), [(0.0, False), (6.0, True)])
def test_kernel_matches_reference_chain(name, mech_tilt, consistent):
    twin = DigitalTwin(_scenario(name, mech_tilt=mech_tilt, consistent=consistent, n=1500))
    got = _kernel_gain_db(twin)
    # UMa users above 13 m may draw h_E > 1 m (note 1 of Table 7.4.1-1); compare the others
    keep = twin.users.height_m < 13.0 if name == "UMa" else np.ones(twin.users.n, bool)
    ref_los = _reference_gain_db(twin, True)[keep]
    ref_nlos = _reference_gain_db(twin, False)[keep]
    got = got[keep]
    err = np.minimum(np.abs(got - ref_los), np.abs(got - ref_nlos))
    # float32 storage of gains; in the array factor's deep nulls (< -30 dB) the dB value is
    # ill-conditioned, so there the two evaluations agree to 0.1 dB
    net, ue = twin.network, twin.users
    sx, sy = net.site_x_m[net.cell_site], net.site_y_m[net.cell_site]
    dx = (ue.x_m[:, None] - sx[None, :])[keep]
    dy = (ue.y_m[:, None] - sy[None, :])[keep]
    dh = (ue.height_m[:, None] - net.site_height_m[net.cell_site][None, :])[keep]
    th_l, _ = antenna.local_angles_deg(np.degrees(np.arctan2(np.hypot(dx, dy), dh)),
                                       np.degrees(np.arctan2(dy, dx)), net.cell_bearing_deg,
                                       net.cell_mech_tilt_deg)
    deep = antenna.array_factor_db(th_l, 10, 0.5, net.cell_elec_tilt_deg) < -30.0
    assert err[~deep].max() < 2e-3
    assert err[deep].max(initial=0.0) < 0.1
    # LOS is chosen with the Table 7.4.2-1 probability: close links are always LOS
    d2d = np.hypot(ue.x_m[:, None] - net.site_x_m[net.cell_site][None, :],
                   ue.y_m[:, None] - net.site_y_m[net.cell_site][None, :])[keep]
    d_out = d2d - np.where(ue.indoor, ue.d2d_in_m, 0.0)[keep, None]
    is_los = np.abs(got - ref_los) <= np.abs(got - ref_nlos)
    distinct = np.abs(ref_los - ref_nlos) > 0.1
    p = los.los_probability(name, d_out, ue.height_m[keep, None])
    sure = (p >= 1.0) & distinct
    assert np.all(is_los[sure])
    # and the LOS fraction over links where it matters follows the mean probability (i.i.d.
    # draws: tight; spatially consistent draws are correlated over 50-60 m: fewer samples)
    m = distinct & (p < 1.0)
    assert is_los[m].mean() == pytest.approx(p[m].mean(), abs=0.1 if consistent else 0.03)


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
