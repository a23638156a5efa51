"""Mobility models: pedestrians (random waypoint), cars (Manhattan grid), recorded tracks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from twinnet.errors import InputError, ScenarioError
from twinnet.network import (
    ManhattanVehicles,
    RandomWaypoint,
    StaticMobility,
    Trajectory,
    make_mobility,
    read_trajectories,
)
from twinnet.scenario import Mobility, Scenario

DATA = Path(__file__).parent / "data"
GPX = DATA / "mobility_tracks.gpx"


def _drop(n: int, bounds: tuple[float, float, float, float], seed: int = 0,
          indoor_fraction: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(bounds[0], bounds[2], n)
    y = rng.uniform(bounds[1], bounds[3], n)
    return x, y, rng.random(n) < indoor_fraction


def _pedestrians(n: int, bounds: tuple[float, float, float, float], seed: int = 1,
                 indoor_fraction: float = 0.0, **cfg: object
                 ) -> tuple[RandomWaypoint, np.ndarray, np.ndarray, np.ndarray]:
    x, y, indoor = _drop(n, bounds, seed=100 + seed, indoor_fraction=indoor_fraction)
    model = make_mobility(Mobility(model="random_waypoint", **cfg), np.arange(n), x, y,
                          indoor, bounds, np.random.default_rng(seed))
    assert isinstance(model, RandomWaypoint)
    return model, x, y, indoor


def _cars(n: int, bounds: tuple[float, float, float, float], seed: int = 1, **cfg: object
          ) -> tuple[ManhattanVehicles, np.ndarray, np.ndarray]:
    x, y, indoor = _drop(n, bounds, seed=100 + seed)
    model = make_mobility(Mobility(model="vehicles", **cfg), np.arange(n), x, y, indoor,
                          bounds, np.random.default_rng(seed))
    assert isinstance(model, ManhattanVehicles)
    return model, x, y


def _on_road(x: np.ndarray, y: np.ndarray, x0: float, y0: float, s: float) -> np.ndarray:
    gx, gy = (x - x0) / s, (y - y0) / s
    return (np.abs(gx - np.rint(gx)) < 1e-7) | (np.abs(gy - np.rint(gy)) < 1e-7)


# ============================================================================ static
def test_static_users_do_not_move() -> None:
    x, y, indoor = _drop(50, (0, 0, 100, 100))
    x0, y0 = x.copy(), y.copy()
    model = make_mobility(Mobility(), np.arange(10, 40), x, y, indoor, (0, 0, 100, 100),
                          np.random.default_rng(0))
    assert isinstance(model, StaticMobility)
    model.advance(x, y, 0.0, 3600.0)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)
    assert model.max_speed_mps == 0.0


# ============================================================================ random waypoint
def test_pedestrian_speeds_stay_in_the_configured_range() -> None:
    lo, hi = 0.8, 1.6
    model, x, y, _ = _pedestrians(400, (0, 0, 300, 200), speed_mps=(lo, hi), pause_s=(2, 8))
    assert model.max_speed_mps == hi
    dt, whole_step_movers = 0.5, 0
    for k in range(400):
        xb, yb = x.copy(), y.copy()
        arrived, paused_before = model.arrivals.copy(), model.paused.copy()
        model.advance(x, y, k * dt, dt)
        v = np.hypot(x - xb, y - yb) / dt
        assert v.max() <= hi + 1e-9
        # users that walked the whole step (no arrival, no pause): speed within the range
        walked = (model.arrivals == arrived) & ~paused_before & ~model.paused
        whole_step_movers += int(walked.sum())
        assert np.all(v[walked] >= lo - 1e-9)
        assert np.all(v[walked] <= hi + 1e-9)
        # no-one stands still while walking
        assert np.all(v[walked] > 0.0)
    assert whole_step_movers > 100_000


def test_pedestrians_stay_in_the_area_and_indoor_users_in_their_building() -> None:
    bounds = (-400.0, 100.0, 200.0, 500.0)
    radius = 25.0
    model, x, y, indoor = _pedestrians(600, bounds, indoor_fraction=0.5, pause_s=(0, 30),
                                       indoor_radius_m=radius)
    home_x, home_y = x.copy(), y.copy()
    t = 0.0
    for dt in [1.0] * 200 + [37.0] * 30 + [600.0] * 6 + [3600.0]:
        model.advance(x, y, t, dt)
        t += dt
        assert np.all((x >= bounds[0]) & (x <= bounds[2]))
        assert np.all((y >= bounds[1]) & (y <= bounds[3]))
        d = np.hypot(x[indoor] - home_x[indoor], y[indoor] - home_y[indoor])
        assert np.all(d <= radius + 1e-9)
    # they do move: indoor users walk around their building, outdoor users cross the area
    assert np.mean(np.hypot(x - home_x, y - home_y)[indoor]) > 0.2 * radius
    assert np.mean(np.hypot(x - home_x, y - home_y)[~indoor]) > 50.0
    # indoor users near the area's edge exist, and still stayed inside (checked above)
    near_edge = indoor & ((home_x - bounds[0] < radius) | (bounds[2] - home_x < radius))
    assert near_edge.sum() > 5


def test_waypoints_are_uniform_in_the_area_and_in_the_building() -> None:
    bounds = (0.0, 0.0, 2000.0, 1000.0)
    radius = 20.0
    model, x, y, indoor = _pedestrians(8000, bounds, indoor_fraction=0.5,
                                       indoor_radius_m=radius)
    inner = indoor & (x > 100) & (x < 1900) & (y > 100) & (y < 900)  # discs inside the area
    r = np.hypot(model.target_x_m - x, model.target_y_m - y)[inner]
    # uniform in a disc: P(r < R/2) = 1/4, P(r < R/√2) = 1/2
    n = r.size
    assert abs(np.mean(r < radius / 2) - 0.25) < 4 * math.sqrt(0.25 * 0.75 / n)
    assert abs(np.mean(r < radius / math.sqrt(2)) - 0.5) < 4 * math.sqrt(0.25 / n)
    tx, ty = model.target_x_m[~indoor], model.target_y_m[~indoor]
    m = tx.size
    # uniform in the rectangle: each coordinate's mean and quartiles
    assert abs(tx.mean() - 1000.0) < 4 * 2000.0 / math.sqrt(12 * m)
    assert abs(ty.mean() - 500.0) < 4 * 1000.0 / math.sqrt(12 * m)
    assert abs(np.mean(tx < 500.0) - 0.25) < 4 * math.sqrt(0.25 * 0.75 / m)
    assert abs(np.mean(ty > 750.0) - 0.25) < 4 * math.sqrt(0.25 * 0.75 / m)


def test_waypoint_pauses_last_the_configured_time() -> None:
    """With 1 s steps a pause of P seconds shows as between ⌊P⌋ − 1 and P steps without
    displacement (the pause starts and ends inside steps)."""
    p_lo, p_hi = 20.0, 40.0
    model, x, y, _ = _pedestrians(200, (0, 0, 200, 200), speed_mps=(1.0, 1.5),
                                  pause_s=(p_lo, p_hi))
    n_steps = 1500
    still = np.zeros((n_steps, 200), dtype=bool)
    for k in range(n_steps):
        xb, yb = x.copy(), y.copy()
        model.advance(x, y, float(k), 1.0)
        still[k] = (x == xb) & (y == yb)
    runs = []
    for u in range(200):
        s = np.concatenate([[0], still[:, u].astype(np.int8), [0]])
        edges = np.flatnonzero(np.diff(s))
        starts, ends = edges[::2], edges[1::2]
        complete = (starts > 0) & (ends < n_steps)  # seen from start to end
        runs.extend((ends - starts)[complete].tolist())
    runs_arr = np.array(runs)
    assert runs_arr.size > 1000  # pauses happen, many of them
    assert runs_arr.min() >= math.floor(p_lo) - 1
    assert runs_arr.max() <= p_hi
    # uniform pauses: the mean run is E[P] − 1 (a step is lost half at each end) ± noise
    assert abs(runs_arr.mean() - ((p_lo + p_hi) / 2 - 1.0)) < 1.0


def test_one_long_step_equals_many_short_ones_for_one_pedestrian() -> None:
    """One user draws its legs in the same order however the clock is cut."""
    ends = []
    for steps in ([1.0] * 3000, [3000.0], [0.3] * 10 + [997.0, 0.5, 1500.0, 499.5]):
        model, x, y, _ = _pedestrians(1, (0, 0, 400, 400), seed=5, pause_s=(0, 60))
        t = 0.0
        for dt in steps:
            model.advance(x, y, t, dt)
            t += dt
        assert t == pytest.approx(3000.0)
        ends.append((x[0], y[0], int(model.arrivals[0])))
    assert ends[0][2] >= 5  # several legs and pauses inside the long step
    for xe, ye, legs in ends[1:]:
        assert legs == ends[0][2]
        assert xe == pytest.approx(ends[0][0], abs=1e-6)
        assert ye == pytest.approx(ends[0][1], abs=1e-6)


def test_one_long_step_equals_many_short_ones_in_distribution() -> None:
    n, horizon = 1500, 1800.0
    stats = []
    for seed, steps in ((11, [1.0] * int(horizon)), (12, [horizon])):
        model, x, y, _ = _pedestrians(n, (0, 0, 300, 300), seed=seed, pause_s=(0, 20))
        t = 0.0
        for dt in steps:
            model.advance(x, y, t, dt)
            t += dt
        stats.append((model.arrivals.astype(float), model.paused.astype(float)))
    (a_short, p_short), (a_long, p_long) = stats
    se = math.sqrt(a_short.var() / n + a_long.var() / n)
    assert a_short.mean() > 5
    assert abs(a_short.mean() - a_long.mean()) < 4 * se
    se_p = math.sqrt(p_short.var() / n + p_long.var() / n)
    assert abs(p_short.mean() - p_long.mean()) < 4 * se_p + 1e-9


def test_pedestrians_are_deterministic_for_a_seed() -> None:
    def run(seed: int) -> tuple[np.ndarray, np.ndarray]:
        model, x, y, _ = _pedestrians(300, (0, 0, 500, 500), seed=seed, indoor_fraction=0.3)
        for k in range(50):
            model.advance(x, y, 10.0 * k, 10.0)
        return x, y

    xa, ya = run(3)
    xb, yb = run(3)
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(ya, yb)
    xc, _ = run(4)
    assert not np.array_equal(xa, xc)


def test_only_the_group_moves() -> None:
    x, y, indoor = _drop(100, (0, 0, 500, 500))
    x0, y0 = x.copy(), y.copy()
    group = np.arange(20, 60, 2)
    for cfg in (Mobility(model="random_waypoint"), Mobility(model="vehicles")):
        xx, yy = x.copy(), y.copy()
        model = make_mobility(cfg, group, xx, yy, indoor, (0, 0, 500, 500),
                              np.random.default_rng(0))
        for k in range(20):
            model.advance(xx, yy, float(k), 1.0)
        others = np.setdiff1d(np.arange(100), group)
        np.testing.assert_array_equal(xx[others], x0[others])
        np.testing.assert_array_equal(yy[others], y0[others])
        assert np.all(np.hypot(xx[group] - x0[group], yy[group] - y0[group]) > 0)


# ============================================================================ vehicles
def test_cars_are_snapped_to_the_nearest_road_point() -> None:
    bounds = (0.0, 0.0, 950.0, 950.0)  # roads at 0, 200, …, 800 (the grid stops at 800)
    x = np.array([130.0, 1500.0, 900.0, 599.5, -30.0])
    y = np.array([410.0, 50.0, 330.0, 601.0, -40.0])
    model = make_mobility(Mobility(model="vehicles", road_spacing_m=200.0), np.arange(5), x,
                          y, np.zeros(5, dtype=bool), bounds, np.random.default_rng(0))
    assert isinstance(model, ManhattanVehicles)
    # (130, 410): road y = 400 is 10 m away, road x = 200 is 70 m away
    # (1500, 50): east of the grid; nearest road point on x = 800
    # (900, 330): in the strip beyond the last road; onto x = 800
    # (599.5, 601): road x = 600 is 0.5 m away, road y = 600 is 1 m away
    # (-30, -40): south-west of the grid: the corner
    np.testing.assert_allclose(x, [130.0, 800.0, 800.0, 600.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(y, [400.0, 50.0, 330.0, 601.0, 0.0], atol=1e-9)


def test_cars_stay_on_the_roads_and_drive_speed_times_dt() -> None:
    bounds = (-730.5, 211.0, 1270.0, 1711.0)
    s = 150.0
    model, x, y = _cars(500, bounds, road_spacing_m=s, speed_mps=(8.0, 14.0))
    assert model.max_speed_mps == 14.0
    assert np.all(_on_road(x, y, bounds[0], bounds[1], s))
    path = []
    for k in range(600):
        xb, yb, hb = x.copy(), y.copy(), model.heading.copy()
        model.advance(x, y, float(k), 1.0)
        assert np.all(_on_road(x, y, bounds[0], bounds[1], s))
        assert np.all((x >= bounds[0]) & (x <= bounds[2]) & (y >= bounds[1]) & (y <= bounds[3]))
        # no U-turns on a real grid
        assert not np.any((model.heading - hb) % 4 == 2)
        # v·dt < s: at most one intersection per step, so the Manhattan displacement is the
        # path length (straight on, or one right-angle turn)
        path.append(np.abs(x - xb) + np.abs(y - yb))
    per_step = np.array(path)
    # every car drives the same distance each step, inside the speed range
    np.testing.assert_allclose(per_step, per_step[:1].repeat(600, axis=0), atol=1e-6)
    assert np.all((per_step[0] >= 8.0 - 1e-9) & (per_step[0] <= 14.0 + 1e-9))
    assert model.turns.sum() > 500  # intersections were crossed and turns taken


def test_cars_cross_many_intersections_in_one_step() -> None:
    """One car draws one choice per intersection in order however the clock is cut, so one
    long step equals many short ones; the straight-line displacement never exceeds v·dt."""
    bounds = (0.0, 0.0, 1000.0, 800.0)
    ends = []
    for steps in ([1.0] * 2000, [2000.0], [333.0, 0.5, 1000.0, 666.5]):
        model, x, y = _cars(1, bounds, seed=9, road_spacing_m=100.0)
        v = float(model.speed_mps[0])
        t = 0.0
        for dt in steps:
            xb, yb = x[0], y[0]
            model.advance(x, y, t, dt)
            t += dt
            assert abs(x[0] - xb) + abs(y[0] - yb) <= v * dt + 1e-6
            assert _on_road(x, y, 0.0, 0.0, 100.0)[0]
        ends.append((x[0], y[0], int(model.turns[0])))
    assert ends[0][2] > 50  # 2000 s at 8–14 m/s crosses 160–280 intersections
    for xe, ye, turns in ends[1:]:
        assert turns == ends[0][2]
        assert xe == pytest.approx(ends[0][0], abs=1e-6)
        assert ye == pytest.approx(ends[0][1], abs=1e-6)


def test_cars_long_steps_match_short_steps_in_distribution() -> None:
    n, horizon = 1000, 1200.0
    turns, positions = [], []
    for seed, steps in ((21, [1.0] * int(horizon)), (22, [horizon])):
        model, x, y = _cars(n, (0, 0, 2000, 2000), seed=seed, road_spacing_m=200.0)
        t = 0.0
        for dt in steps:
            model.advance(x, y, t, dt)
            t += dt
        turns.append(model.turns.astype(float))
        positions.append(x)
    se = math.sqrt(turns[0].var() / n + turns[1].var() / n)
    assert abs(turns[0].mean() - turns[1].mean()) < 4 * se
    # at an interior intersection two of three choices turn; at the edges more of them do
    crossings = 11.0 * horizon / 200.0  # mean speed 11 m/s
    assert 0.6 < turns[0].mean() / crossings < 0.8


def test_single_road_grid_turns_back_at_its_ends() -> None:
    # 150 m high: with 200 m spacing only the road y = 0 exists, from x = 0 to 1000
    model, x, y = _cars(20, (0, 0, 1000, 150), road_spacing_m=200.0)
    assert np.all(y == 0.0)
    for k in range(300):
        model.advance(x, y, float(k), 5.0)
        assert np.all(y == 0.0)
        assert np.all((x >= 0.0) & (x <= 1000.0))


def test_cars_are_deterministic_for_a_seed() -> None:
    def run(seed: int) -> np.ndarray:
        model, x, y = _cars(200, (0, 0, 1500, 1500), seed=seed)
        for k in range(30):
            model.advance(x, y, 20.0 * k, 20.0)
        return np.concatenate([x, y])

    np.testing.assert_array_equal(run(2), run(2))
    assert not np.array_equal(run(2), run(3))


def test_a_road_spacing_larger_than_the_area_is_refused() -> None:
    x, y, indoor = _drop(5, (0, 0, 100, 100))
    with pytest.raises(InputError, match="road_spacing_m"):
        make_mobility(Mobility(model="vehicles", road_spacing_m=500.0), np.arange(5), x, y,
                      indoor, (0, 0, 100, 100), np.random.default_rng(0))


# ============================================================================ trajectories
CSV_TRACKS = """user,t_s,x_m,y_m
b,10,0.1,0
a,0,100,200
b,20,0.7,-20
a,30,160,260
a,15,130,200
"""


def test_csv_tracks_are_interpolated_exactly(tmp_path: Path) -> None:
    path = tmp_path / "tracks.csv"
    path.write_text(CSV_TRACKS)
    x = np.array([-1.0, -2.0, -3.0, -4.0])
    y = np.array([-1.0, -2.0, -3.0, -4.0])
    group = np.array([3, 0, 2])  # k-th distinct id (b, then a) drives the k-th group user
    model = make_mobility(Mobility(model="trajectory", path=str(path)), group, x, y,
                          np.zeros(4, dtype=bool), (-1e3, -1e3, 1e3, 1e3),
                          np.random.default_rng(0))
    assert isinstance(model, Trajectory)
    # t = 0: b has not started (its first point), a is at its first point; user 2 is static
    assert (x[3], y[3]) == (0.1, 0.0)
    assert (x[0], y[0]) == (100.0, 200.0)
    assert (x[2], y[2], x[1], y[1]) == (-3.0, -3.0, -2.0, -2.0)
    expected = {  # t: (b, a), by hand from the rows above (a's rows are out of order)
        7.5: ((0.1, 0.0), (115.0, 200.0)),
        10.0: ((0.1, 0.0), (120.0, 200.0)),
        15.0: ((0.4, -10.0), (130.0, 200.0)),
        20.0: ((0.7, -20.0), (140.0, 220.0)),
        22.5: ((0.7, -20.0), (145.0, 230.0)),
        30.0: ((0.7, -20.0), (160.0, 260.0)),
        99.0: ((0.7, -20.0), (160.0, 260.0)),
    }
    t = 0.0
    for t_next in (7.5, 10.0, 15.0, 20.0, 22.5, 30.0, 99.0):
        model.advance(x, y, t, t_next - t)
        (bx, by), (ax, ay) = expected[t_next]
        if t_next in (10.0, 20.0, 30.0, 99.0):  # b's given times, or after its last: exact
            assert (x[3], y[3]) == (bx, by)
        if t_next in (15.0, 30.0, 99.0):  # a's
            assert (x[0], y[0]) == (ax, ay)
        assert x[3] == pytest.approx(bx, abs=1e-12)
        assert y[3] == pytest.approx(by, abs=1e-12)
        assert x[0] == pytest.approx(ax, abs=1e-12)
        assert y[0] == pytest.approx(ay, abs=1e-12)
        assert (x[2], y[2], x[1], y[1]) == (-3.0, -3.0, -2.0, -2.0)
        t = t_next
    # the clock may also be set back
    model.advance(x, y, 0.0, 7.5)
    assert (x[0], y[0]) == pytest.approx((115.0, 200.0))
    # fastest segment: a from (130, 200) to (160, 260) in 15 s
    assert model.max_speed_mps == pytest.approx(math.hypot(30.0, 60.0) / 15.0)


def _haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def test_gpx_tracks_are_projected_to_metres() -> None:
    data = read_trajectories(GPX)
    assert data.n_tracks == 2
    # times count from the file's earliest point (the cyclist's, 07:59:00)
    walker = slice(int(data.start[0]), int(data.stop[0]))
    np.testing.assert_array_equal(data.t_s[walker], [60.0, 160.0, 260.0])
    wx, wy = data.x_m[walker], data.y_m[walker]
    # the walker starts at the mean of all points (45.4640 N, 9.1900 E): the origin
    assert wx[0] == pytest.approx(0.0, abs=1e-6)
    assert wy[0] == pytest.approx(0.0, abs=1e-6)
    # 0.001° north: 6 371 008.8 m · 0.001 · π/180 = 111.195 m
    assert math.hypot(wx[1] - wx[0], wy[1] - wy[0]) == pytest.approx(111.195, abs=1e-3)
    # 0.001° east at 45.464° N: 111.195 m · cos 45.464° = 111.195 · 0.70136 = 77.987 m
    assert wx[2] - wx[1] == pytest.approx(77.987, abs=1e-3)
    assert wy[2] - wy[1] == pytest.approx(0.0, abs=1e-9)
    # and against the great-circle distance, corner to corner
    d = math.hypot(wx[2] - wx[0], wy[2] - wy[0])
    assert d == pytest.approx(_haversine_m(45.4640, 9.1900, 45.4650, 9.1910), rel=1e-4)


def test_gpx_users_follow_their_tracks() -> None:
    x = np.full(3, 500.0)
    y = np.full(3, 500.0)
    model = make_mobility(Mobility(model="trajectory", path=GPX.name), np.arange(3), x, y,
                          np.zeros(3, dtype=bool), (-1e3, -1e3, 1e3, 1e3),
                          np.random.default_rng(0), base_dir=str(DATA))
    # t = 0: the walker waits at its first point (it starts at 60 s), the cyclist starts
    assert (x[0], y[0]) == pytest.approx((0.0, 0.0), abs=1e-6)
    assert (x[1], y[1]) == pytest.approx((-77.987, -111.195), abs=1e-3)
    assert (x[2], y[2]) == (500.0, 500.0)
    model.advance(x, y, 0.0, 110.0)  # halfway along the walker's first leg; cyclist done
    assert (x[0], y[0]) == pytest.approx((0.0, 111.195 / 2), abs=1e-3)
    assert (x[1], y[1]) == pytest.approx((0.0, -111.195), abs=1e-3)
    assert model.max_speed_mps == pytest.approx(77.987 / 60.0, rel=1e-4)


def test_a_scenario_group_reads_its_track_file_next_to_the_scenario() -> None:
    text = f"""
[[groups]]
name = "tracked"
fraction = 1.0
mobility = {{ model = "trajectory", path = "{GPX.name}" }}
"""
    sc = Scenario.from_toml_text(text, base_dir=str(DATA))
    x, y = np.zeros(2), np.zeros(2)
    model = make_mobility(sc.groups[0].mobility, np.arange(2), x, y, np.zeros(2, dtype=bool),
                          (-1e3, -1e3, 1e3, 1e3), np.random.default_rng(0),
                          base_dir=sc.base_dir)
    model.advance(x, y, 0.0, 260.0)
    assert (x[0], y[0]) == pytest.approx((77.987, 111.195), abs=1e-3)


@pytest.mark.parametrize(("text", "where", "value"), [
    ("user,t_s,x_m,y_m\nb,0,1,2\nb,abc,0,0\n", "line 3, column t_s", "'abc'"),
    ("user,t_s,x_m,y_m\nb,0,1,2\nb,5,nan,0\n", "line 3, column x_m", "'nan'"),
    ("user,t,x_m,y_m\nb,0,1,2\n", "line 1 (header)", "missing t_s"),
    ("user,t_s,x_m,y_m\nb,0,1,2\nb,4,1\n", "line 3", "'b,4,1'"),
    ("user,t_s,x_m,y_m\nb,0,1,2\nc,0,1,2\n\nb,0,5,5\n", "line 5, column t_s", "0.0"),
    ("user,t_s,x_m,y_m\n", "<file>", "at least one track point"),
])
def test_a_malformed_csv_is_named_with_line_and_value(tmp_path: Path, text: str, where: str,
                                                      value: str) -> None:
    path = tmp_path / "bad_tracks.csv"
    path.write_text(text)
    with pytest.raises(ScenarioError) as err:
        read_trajectories(path)
    message = str(err.value)
    assert "bad_tracks.csv" in message
    assert where in message
    assert value in message


def test_a_malformed_gpx_is_named_with_the_element(tmp_path: Path) -> None:
    path = tmp_path / "bad.gpx"
    path.write_text('<gpx><trk><trkseg><trkpt lat="45" lon="9"><time>2024-05-01T08:00:00Z'
                    '</time></trkpt><trkpt lat="45.1" lon="9"></trkpt></trkseg></trk></gpx>')
    with pytest.raises(ScenarioError, match=r"bad\.gpx(.|\n)*trk\[1\]/trkpt\[2\]/time"):
        read_trajectories(path)
    path.write_text('<gpx><trk><trkseg><trkpt lat="north" lon="9"/></trkseg></trk></gpx>')
    with pytest.raises(ScenarioError, match=r"trk\[1\]/trkpt\[1\]@lat = 'north'"):
        read_trajectories(path)
    path.write_text("<gpx>\n<trk>\n</gpx>")
    with pytest.raises(ScenarioError, match=r"line 3"):
        read_trajectories(path)


def test_a_missing_track_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"mobility\.path = 'nowhere\.csv'"):
        make_mobility(Mobility(model="trajectory", path="nowhere.csv"), np.arange(1),
                      np.zeros(1), np.zeros(1), np.zeros(1, dtype=bool), (0, 0, 1, 1),
                      np.random.default_rng(0), base_dir=str(tmp_path))


# ============================================================================ arguments
def test_bad_arguments_name_the_field() -> None:
    x, y, indoor = _drop(10, (0, 0, 100, 100))
    rng = np.random.default_rng(0)
    walk = Mobility(model="random_waypoint")
    with pytest.raises(InputError, match="bounds_m"):
        make_mobility(walk, np.arange(10), x, y, indoor, (0, 0, 0, 100), rng)
    with pytest.raises(InputError, match="users = 10"):
        make_mobility(walk, np.arange(11), x, y, indoor, (0, 0, 100, 100), rng)
    with pytest.raises(InputError, match="indoor"):
        make_mobility(walk, np.arange(5), x, y, indoor[:5], (0, 0, 100, 100), rng)
    model = make_mobility(walk, np.arange(10), x, y, indoor, (0, 0, 100, 100), rng)
    with pytest.raises(InputError, match=r"dt_s = -1\.0"):
        model.advance(x, y, 0.0, -1.0)


def test_an_empty_group_is_fine() -> None:
    x, y, indoor = _drop(10, (0, 0, 500, 500))
    x0 = x.copy()
    empty = np.zeros(0, dtype=np.int64)
    for cfg in (Mobility(), Mobility(model="random_waypoint"), Mobility(model="vehicles"),
                Mobility(model="trajectory", path=str(GPX))):
        model = make_mobility(cfg, empty, x, y, indoor, (0, 0, 500, 500),
                              np.random.default_rng(0))
        model.advance(x, y, 0.0, 60.0)
        np.testing.assert_array_equal(x, x0)
