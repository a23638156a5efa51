"""The ray-traced truth (Sionna RT on a small built-in scene, CPU).

Radio maps against the path solver and free space, the cache (power is a shift, a tilt change
re-traces the changed cell only and equals a fresh trace), sites on rooftops and users on
streets and in buildings, and the emulator reporting a ray-traced world."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twinnet.network.scene import ensure_llvm

SCENE = "simple_street_canyon"
FC_GHZ = 3.5


@pytest.fixture(scope="module", autouse=True)
def rt_stack(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Sionna RT and an LLVM >= 17 library are part of the test install (``.[dev]`` pulls the
    ``rt`` extra; CI installs Debian's libllvm19): missing, the tests fail and say so."""
    if ensure_llvm() is None:
        pytest.fail("ray tracing on CPU needs an LLVM >= 17 library: apt-get install libllvm19 "
                    "(or set DRJIT_LIBLLVM_PATH)", pytrace=False)
    try:
        import sionna.rt  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"the rt extra is not installed ({exc}): pip install -e '.[dev]'",
                    pytrace=False)
    mp = pytest.MonkeyPatch()
    mp.setenv("TWINNET_CACHE", str(tmp_path_factory.mktemp("rtcache")))
    yield
    mp.undo()


def _scenario(**truth: object):
    from twinnet.scenario import Scenario

    return Scenario.from_dict({
        "name": "canyon", "seed": 3,
        "layout": {"type": "scene", "n_sites": 2, "isd_m": 60.0, "min_roof_m": 15.0,
                   "mast_m": 2.0, "electrical_tilt_deg": 10.0},
        "carriers": [{"name": "n78", "fc_ghz": FC_GHZ, "bandwidth_mhz": 20, "scs_khz": 30,
                      "tx_power_dbm": 40.0}],
        "propagation": {"scenario": "UMi"},
        "users": {"count": 300, "indoor_fraction": 0.5, "distribution": "scene"},
        "demand": {"per_user_mbps": 0.2, "diurnal": "flat"},
        "truth": {"model": "raytraced", "scene": SCENE, "rt_cell_m": 2.0, "rt_samples": 200_000,
                  "tilt_error_std_deg": 0.0, "gain_error_std_db": 0.0, "demand": "peak",
                  **truth},
    })


def test_los_radio_map_is_free_space() -> None:
    """Line of sight only (depth 0), isotropic antennas: the map is (λ/4πd)² within the
    averaging over a cell."""
    from twinnet.emulator.raytrace import MAP_HEIGHT_M, RadioMaps

    maps = RadioMaps(SCENE, FC_GHZ, cell_m=2.0, max_depth=0, samples=400_000,
                     diffraction=False, pattern="iso", disk_cache=False)
    tx = (0.0, 0.0, 10.0)
    g = maps.gain_map(*tx)
    geo = maps.geometry
    xs, ys = geo.centres(np.arange(g.size))
    d = np.sqrt((xs - tx[0]) ** 2 + (ys - tx[1]) ** 2 + (tx[2] - MAP_HEIGHT_M) ** 2)
    lam = 0.299792458 / FC_GHZ
    fs = (lam / (4 * np.pi * d)) ** 2
    sel = geo.street.ravel() & (d > 12) & (d < 40) & (g.ravel() > 0)
    assert sel.sum() > 50
    err = 10 * np.log10(g.ravel()[sel] / fs[sel])
    assert abs(np.median(err)) < 0.5
    assert np.percentile(np.abs(err), 90) < 1.5


def test_radio_map_matches_path_solver() -> None:
    """At sampled street points, the map's gain equals the power sum of the paths the path
    solver finds to a receiver there (same scene, depth, antennas), within the map's cell."""
    from twinnet.emulator.raytrace import MAP_HEIGHT_M, RadioMaps
    from twinnet.network.scene import import_rt

    rt = import_rt()
    import mitsuba as mi

    maps = RadioMaps(SCENE, FC_GHZ, cell_m=2.0, max_depth=2, samples=2_000_000,
                     diffraction=False, pattern="iso", disk_cache=False)
    tx = (-20.0, 0.0, 12.0)
    g = maps.gain_map(*tx)
    geo = maps.geometry
    rng = np.random.default_rng(0)
    xs, ys = geo.centres(np.arange(g.size))
    d = np.hypot(xs - tx[0], ys - tx[1])
    cand = np.flatnonzero(geo.street.ravel() & (d > 15) & (d < 70) & (g.ravel() > 0))
    pick = rng.choice(cand, 12, replace=False)
    scene = maps._load_scene()
    for name in list(scene.transmitters):
        scene.remove(name)
    scene.add(rt.Transmitter("tx", position=mi.Point3f(*tx), orientation=mi.Point3f(0, 0, 0)))
    for i, k in enumerate(pick):
        scene.add(rt.Receiver(f"rx{i}", position=mi.Point3f(float(xs[k]), float(ys[k]),
                                                            MAP_HEIGHT_M)))
    paths = rt.PathSolver()(scene, max_depth=2, samples_per_src=1_000_000,
                            diffraction=False)
    a_re, a_im = (np.asarray(x.numpy()) for x in paths.a)
    power = (a_re ** 2 + a_im ** 2).reshape(len(pick), -1).sum(axis=1)
    for i in range(len(pick)):
        scene.remove(f"rx{i}")
    err = 10 * np.log10(g.ravel()[pick] / power)
    assert abs(np.median(err)) < 2.0, err
    assert np.max(np.abs(err)) < 6.0, err


def test_sites_on_roofs_users_on_streets_and_in_buildings() -> None:
    from twinnet.network.scene import scene_geometry
    from twinnet.twin.twin import DigitalTwin

    sc = _scenario()
    twin = DigitalTwin(sc)
    geo = scene_geometry(SCENE, 2.0)
    net = twin.network
    iy, ix, inside = geo.cell_of(net.site_x_m, net.site_y_m)
    assert inside.all()
    roof = geo.height_m[iy, ix]
    assert (roof >= 15.0).all()
    np.testing.assert_allclose(net.site_height_m, roof + 2.0)
    ue = twin.users
    uy, ux, ok = geo.cell_of(ue.x_m, ue.y_m)
    assert ok.all()
    assert geo.building[uy[ue.indoor], ux[ue.indoor]].all()
    assert geo.street[uy[~ue.indoor], ux[~ue.indoor]].all()
    assert 0.35 < ue.indoor.mean() < 0.65


def test_power_change_reuses_maps_tilt_change_retraces_one_cell() -> None:
    """A power change is a shift of RSRP with no trace; a tilt change re-traces that cell
    only, and the result equals a fresh trace of the new configuration."""
    from twinnet.actions import ActionPlan, SetElectricalTilt, SetTxPower
    from twinnet.emulator.raytrace import RadioMaps, RayTracedTwin

    sc = _scenario()
    truth = RayTracedTwin(sc, sc.truth)
    maps = truth.maps[0]
    rsrp0 = truth.link_rsrp_dbm()
    n_cells = truth.network.n_cells
    assert maps.traces == n_cells
    cell = truth.network.cell_names[1]
    ActionPlan(actions=[SetTxPower(cell=cell, tx_power_dbm=37.0)]).apply(truth.network)
    rsrp1 = truth.link_rsrp_dbm()
    assert maps.traces == n_cells  # no re-trace for power
    slot = np.broadcast_to(truth.slot_cells(), rsrp0.shape)
    moved = slot == 1
    np.testing.assert_allclose(rsrp1[moved] - rsrp0[moved], -3.0, atol=1e-3)
    np.testing.assert_array_equal(rsrp1[~moved], rsrp0[~moved])

    ActionPlan(actions=[SetElectricalTilt(cell=cell, tilt_deg=4.0)]).apply(truth.network)
    new = truth.cell_gain_map(1)
    assert maps.traces == n_cells + 1  # one cell re-traced
    rsrp2 = truth.link_rsrp_dbm()
    np.testing.assert_array_equal(rsrp2[~moved], rsrp0[~moved])
    assert np.abs(rsrp2[moved] - rsrp1[moved]).max() > 1.0  # the tilt changed the cell
    net = truth.network
    s = int(net.cell_site[1])
    fresh = RadioMaps(SCENE, FC_GHZ, cell_m=2.0, max_depth=sc.truth.rt_max_depth,
                      samples=sc.truth.rt_samples, diffraction=True,
                      n_vertical=sc.antenna.n_vertical, disk_cache=False)
    again = fresh.gain_map(float(net.site_x_m[s]), float(net.site_y_m[s]),
                           float(net.site_height_m[s]), float(net.cell_bearing_deg[1]),
                           float(net.cell_mech_tilt_deg[1] + net.cell_elec_tilt_deg[1]))
    assert fresh.traces == 1
    # same rays (the seed comes from the configuration); parallel float32 accumulation
    # leaves differences of a few ulp
    np.testing.assert_allclose(again, new, rtol=1e-5, atol=0)
    # the disk cache serves a new process's twin without tracing
    other = RayTracedTwin(sc, sc.truth)
    other.link_gains()
    assert other.maps[0].traces == 0


def test_emulator_reports_a_raytraced_world() -> None:
    from twinnet.emulator.network import NetworkEmulator
    from twinnet.twin.twin import DigitalTwin

    sc = _scenario()
    emu = NetworkEmulator(sc)
    assert emu.truth_cfg.model == "raytraced"
    assert emu.areas == []
    tel = emu.step()
    assert len(tel.kpis) == emu.recorded.n_cells
    mr = tel.reports
    assert len(mr) > 0 and mr["rsrp_dbm"].between(-156, -31).all()
    twin = DigitalTwin(sc)
    truth_rsrp = emu.twin.link_rsrp_dbm()
    model_rsrp = twin.link_rsrp_dbm()
    ok = truth_rsrp > -150
    # an independent world: the 38.901 twin does not reproduce the traced gains
    assert np.sqrt(np.mean((truth_rsrp[ok] - model_rsrp[ok]) ** 2)) > 3.0


def test_scene_errors_name_the_field(tmp_path: Path) -> None:
    from twinnet.errors import InputError, ScenarioError
    from twinnet.network.scene import scene_path
    from twinnet.scenario import Scenario

    with pytest.raises(ScenarioError, match=r"truth\.scene"):
        Scenario.from_dict({"truth": {"model": "raytraced"}})
    with pytest.raises(ScenarioError, match=r"truth\.scene"):
        Scenario.from_dict({"layout": {"type": "scene"}})
    with pytest.raises(InputError, match=r"truth\.scene.*no_such_city"):
        scene_path("no_such_city")
    with pytest.raises(InputError, match=r"truth\.scene"):
        scene_path(str(tmp_path / "missing.xml"))


def test_sync_learns_a_raytraced_city(tmp_path: Path) -> None:
    """``twinnet sync SCENARIO --json`` on a ray-traced city: the summary says so and the
    calibrated twin's RSRP error on the reports is at most half the uncalibrated one."""
    import json
    import os
    import subprocess
    import sys

    toml = tmp_path / "canyon.toml"
    toml.write_text(f'''
name = "canyon"
seed = 3
[layout]
type = "scene"
n_sites = 2
isd_m = 60.0
min_roof_m = 15.0
mast_m = 2.0
electrical_tilt_deg = 10.0
[[carriers]]
name = "n78"
fc_ghz = {FC_GHZ}
bandwidth_mhz = 20
scs_khz = 30
tx_power_dbm = 40.0
[propagation]
scenario = "UMi"
[users]
count = 300
indoor_fraction = 0.5
distribution = "scene"
[demand]
per_user_mbps = 0.2
diurnal = "milan"
[truth]
model = "raytraced"
scene = "{SCENE}"
rt_cell_m = 2.0
rt_samples = 200000
''')
    p = subprocess.run([sys.executable, "-m", "twinnet.cli", "sync", str(toml), "--store",
                        str(tmp_path / "s.duckdb"), "--intervals", "10", "--warmup", "6",
                        "--json"], capture_output=True, text=True, timeout=600,
                       env={**os.environ})
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout)
    assert out["truth"] == "raytraced"
    rmse = out["rsrp_rmse_db"]
    assert rmse["before"] > 3.0
    assert rmse["after"] <= rmse["before"] / 2
    assert set(out["prb_util_mae"]) == {"before", "after"}


def test_moving_users_look_the_maps_up() -> None:
    """A user's gains at a new position (a simulation step, a report's position) are the
    maps' values there: the same as a twin whose users stand at that position, no trace."""
    from dataclasses import replace

    from twinnet.emulator.raytrace import RayTracedTwin
    from twinnet.network.scene import scene_geometry

    sc = _scenario()
    truth = RayTracedTwin(sc, sc.truth)
    truth.link_gains()
    traces = truth.maps[0].traces
    geo = scene_geometry(SCENE, 2.0)
    rows = np.flatnonzero(~truth.users.indoor)[:20]
    street = np.flatnonzero(geo.street.ravel())
    x, y = geo.centres(street[np.random.default_rng(1).choice(street.size, rows.size)])
    moved = truth.link_gains_of(rows, x, y)
    other = RayTracedTwin(sc, sc.truth, users=replace(truth.users.take(rows), x_m=x, y_m=y))
    np.testing.assert_array_equal(moved, other.link_gains()[0])
    assert not np.array_equal(moved, truth.link_gains()[0][rows])
    assert truth.maps[0].traces == traces


def test_street_walkers_stay_on_the_streets() -> None:
    """The streets model: every position of every walker or car is a street cell, each step
    is at most speed × dt, and they turn (where a street ends or at random)."""
    from twinnet.network.mobility import StreetWalk
    from twinnet.network.scene import scene_geometry
    from twinnet.twin.twin import DigitalTwin

    geo = scene_geometry(SCENE, 2.0)
    twin = DigitalTwin(_scenario())
    x, y = twin.users.x_m.copy(), twin.users.y_m.copy()
    users = np.arange(0, x.size, 2, dtype=np.int64)
    rest = np.setdiff1d(np.arange(x.size), users)
    x_rest = x[rest].copy()
    ny, nx = geo.shape
    bounds = (geo.x0, geo.y0, geo.x0 + (nx - 1) * geo.cell_m, geo.y0 + (ny - 1) * geo.cell_m)
    walk = StreetWalk(users, x, y, geo, bounds, (1.0, 3.0), np.random.default_rng(0))
    for t in range(300):
        px, py = x[users].copy(), y[users].copy()
        walk.advance(x, y, float(t), 1.0)
        iy, ix, inside = geo.cell_of(x[users], y[users])
        assert inside.all() and geo.street[iy, ix].all()
        assert (np.hypot(x[users] - px, y[users] - py) <= walk.speed_mps + 1e-9).all()
    assert (walk.turns > 0).mean() > 0.9
    np.testing.assert_array_equal(x[rest], x_rest)  # the other users were not touched


def test_living_network_on_a_raytraced_city() -> None:
    """A scenario in time on the ray-traced truth: street users move, their gains follow the
    maps, and the simulation reports as usual."""
    from twinnet.emulator.network import NetworkEmulator
    from twinnet.network.scene import scene_geometry
    from twinnet.scenario import Scenario

    base = _scenario().model_dump()
    base.pop("base_dir", None)
    base["simulation"] = {"step_s": 1.0, "report_s": 60.0}
    base["groups"] = [
        {"name": "walkers", "fraction": 0.5, "mobility": {"model": "streets"},
         "traffic": {"model": "ftp3", "file_size_mbit": 2.0}},
        {"name": "static", "fraction": 0.5}]
    emu = NetworkEmulator(Scenario.from_dict(base))
    assert emu.sim is not None
    x0, y0 = emu.sim.x_m.copy(), emu.sim.y_m.copy()
    tel = emu.step()
    assert len(tel.kpis) == emu.recorded.n_cells
    moved = np.hypot(emu.sim.x_m - x0, emu.sim.y_m - y0) > 0
    assert moved.sum() > 0
    geo = scene_geometry(SCENE, 2.0)
    iy, ix, _ = geo.cell_of(emu.sim.x_m[moved], emu.sim.y_m[moved])
    assert geo.street[iy, ix].all()
    with pytest.raises(Exception, match="truth"):
        Scenario.from_dict({"groups": [{"name": "w", "fraction": 1.0,
                                        "mobility": {"model": "streets"}}],
                            "simulation": {}})
