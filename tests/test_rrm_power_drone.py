"""Power control for SINR targets and drone base-station placement (twinnet.rrm)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from twinnet.errors import InputError
from twinnet.radio.a2g import (
    A2G_URBAN,
    A2GLinkBudget,
    a2g_pathloss_db,
    coverage_radius_m,
    los_probability_a2g,
    optimal_elevation_deg,
)
from twinnet.rrm.drone import (
    DronePlacementProblem,
    brute_force_placement,
    candidate_grid,
    greedy_placement,
    solve_placement_milp,
    stadium_demand,
)
from twinnet.rrm.power_control import (
    feasible,
    foschini_miljanic,
    min_power_lp,
    normalised_gain_matrix,
    sinr,
)

# ============================================================================================
# power control


def _random_links(rng: np.random.Generator, n: int, rho: float) -> tuple[np.ndarray, float,
                                                                          np.ndarray]:
    """Gains from path losses of 70–100 dB (own) and 100–130 dB (cross), noise −100 dBm, and
    SINR targets scaled so that ρ(F) equals ``rho``."""
    pl_db = rng.uniform(100.0, 130.0, (n, n))
    pl_db[np.diag_indices(n)] = rng.uniform(70.0, 100.0, n)
    G = 10.0 ** (-pl_db / 10.0)
    noise_w = 1e-13
    gamma0 = 10.0 ** (rng.uniform(0.0, 10.0, n) / 10.0)
    F, _ = normalised_gain_matrix(G, noise_w, gamma0)
    rho0 = float(np.max(np.abs(np.linalg.eigvals(F))))
    return G, noise_w, gamma0 * rho / rho0


def test_two_link_hand_example() -> None:
    # G = [[1, .1], [.2, 1]], N = 0.01 W, γ = 2:  F = [[0, .2], [.4, 0]], u = [.02, .02] W,
    # ρ(F) = √0.08, p* = (I − F)^{-1} u = [.024, .028] / 0.92 W.
    G = np.array([[1.0, 0.1], [0.2, 1.0]])
    expected = np.array([0.024, 0.028]) / 0.92
    rep = feasible(G, 0.01, 2.0)
    assert rep.feasible and rep.infeasible_links == ()
    assert rep.spectral_radius == pytest.approx(math.sqrt(0.08), rel=1e-12)
    assert rep.min_power_w is not None
    np.testing.assert_allclose(rep.min_power_w, expected, rtol=1e-12)
    fm = foschini_miljanic(G, 0.01, 2.0, p_max_w=1.0)
    assert fm.feasible and fm.converged and fm.status == "converged"
    np.testing.assert_allclose(fm.power_w, expected, rtol=1e-8)
    np.testing.assert_allclose(fm.sinr, [2.0, 2.0], rtol=1e-8)
    lp = min_power_lp(G, 0.01, 2.0, p_max_w=1.0)
    assert lp.feasible and lp.status == "optimal"
    np.testing.assert_allclose(lp.power_w, expected, rtol=1e-6)
    np.testing.assert_allclose(sinr(G, expected, 0.01), [2.0, 2.0], rtol=1e-12)
    np.testing.assert_allclose(fm.sinr_db, 10 * np.log10(2.0), rtol=1e-8)


@pytest.mark.parametrize("seed", range(12))
def test_fm_lp_and_closed_form_agree_on_random_feasible_instances(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 9))
    G, noise_w, gamma = _random_links(rng, n, rho=float(rng.uniform(0.2, 0.9)))
    rep = feasible(G, noise_w, gamma)
    assert rep.feasible and rep.min_power_w is not None
    p_star = rep.min_power_w
    p_max = 3.0 * p_star.max() if seed % 2 else np.inf
    p0 = rng.uniform(0.0, 2.0 * p_star.max(), n) if seed % 3 == 0 else None
    fm = foschini_miljanic(G, noise_w, gamma, p_max_w=p_max, p0=p0)
    lp = min_power_lp(G, noise_w, gamma, p_max_w=p_max)
    assert fm.feasible and fm.converged
    assert lp.feasible and lp.status == "optimal"
    np.testing.assert_allclose(fm.power_w, lp.power_w, rtol=1e-3)
    np.testing.assert_allclose(fm.power_w, p_star, rtol=1e-6)
    np.testing.assert_allclose(lp.power_w, p_star, rtol=1e-3)
    assert np.all(fm.sinr >= gamma * (1 - 1e-6))
    assert np.all(lp.sinr >= gamma * (1 - 1e-3))
    assert lp.spectral_radius == pytest.approx(rep.spectral_radius)


def test_spectral_radius_at_least_one_is_flagged() -> None:
    # F = [[0, 2], [2, 0]]: ρ = 2, no finite powers reach SINR 2 on either link
    G = np.array([[1.0, 1.0], [1.0, 1.0]])
    rep = feasible(G, 0.01, 2.0)
    assert not rep.feasible and rep.min_power_w is None
    assert rep.spectral_radius == pytest.approx(2.0)
    assert rep.infeasible_links == (0, 1)
    lp = min_power_lp(G, 0.01, 2.0)
    assert not lp.feasible and lp.status == "infeasible"
    assert lp.infeasible_links == (0, 1) and "spectral radius" in lp.message
    fm = foschini_miljanic(G, 0.01, 2.0, max_iter=5000)
    assert not fm.feasible and fm.status == "diverged" and fm.infeasible_links == (0, 1)
    # with power limits FM settles at p_max, both links below target
    capped = foschini_miljanic(G, 0.01, 2.0, p_max_w=1.0)
    assert capped.converged and not capped.feasible
    np.testing.assert_allclose(capped.power_w, [1.0, 1.0])
    assert capped.infeasible_links == (0, 1)
    lp_capped = min_power_lp(G, 0.01, 2.0, p_max_w=1.0)
    assert not lp_capped.feasible and lp_capped.infeasible_links == (0, 1)


def test_reducible_gain_matrix_names_only_the_unbounded_links() -> None:
    # links 0, 1 interfere strongly with each other (ρ of that class = 2); link 2 is isolated;
    # link 3 hears link 0, so its minimal power is unbounded too.
    G = np.array([
        [1.0, 1.0, 0.0, 0.0],
        [1.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [0.1, 0.0, 0.0, 1.0],
    ])
    rep = feasible(G, 0.01, 2.0)
    assert not rep.feasible and rep.infeasible_links == (0, 1, 3)
    lp = min_power_lp(G, 0.01, 2.0)
    assert lp.infeasible_links == (0, 1, 3)


def test_power_limit_too_low_names_the_link() -> None:
    G = np.array([
        [1.0, 0.05, 0.02],
        [0.04, 1.0, 0.03],
        [0.002, 0.002, 0.01],  # link 2: weak own gain
    ])
    noise_w, gamma = 1e-3, 3.0
    rep = feasible(G, noise_w, gamma)
    assert rep.feasible and rep.min_power_w is not None
    p_max = np.array([1.0, 1.0, 0.5 * rep.min_power_w[2]])
    limited = feasible(G, noise_w, gamma, p_max_w=p_max)
    assert not limited.feasible and limited.infeasible_links == (2,)
    lp = min_power_lp(G, noise_w, gamma, p_max_w=p_max)
    assert not lp.feasible and lp.status == "infeasible"
    assert lp.infeasible_links == (2,) and "2" in lp.message
    fm = foschini_miljanic(G, noise_w, gamma, p_max_w=p_max)
    assert fm.converged and not fm.feasible and fm.infeasible_links == (2,)
    assert fm.power_w[2] == pytest.approx(p_max[2])
    assert np.all(fm.sinr[:2] >= gamma * (1 - 1e-6))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"G": np.ones((2, 3))}, "G"),
        ({"G": np.array([[1.0, -0.1], [0.1, 1.0]])}, "G"),
        ({"G": np.array([[0.0, 0.1], [0.1, 1.0]])}, "G"),
        ({"noise_w": -1.0}, "noise_w"),
        ({"noise_w": [1.0, 1.0, 1.0]}, "noise_w"),
        ({"target_sinr": [1.0, 2.0, 3.0]}, "target_sinr"),
        ({"target_sinr": 0.0}, "target_sinr"),
        ({"p_max_w": 0.0}, "p_max_w"),
    ],
)
def test_power_control_bad_inputs_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"G": np.array([[1.0, 0.1], [0.2, 1.0]]), "noise_w": 0.01,
                            "target_sinr": 2.0, "p_max_w": 1.0}
    args.update(kwargs)
    for fn in (foschini_miljanic, min_power_lp):
        with pytest.raises(InputError) as err:
            fn(**args)
        assert err.value.field == field
    if field != "p_max_w":
        with pytest.raises(InputError) as err2:
            feasible(args["G"], args["noise_w"], args["target_sinr"])
        assert err2.value.field == field


# ============================================================================================
# air-to-ground channel


def test_a2g_pathloss_matches_hand_computation_at_45_degrees() -> None:
    # h = r = 100 m → θ = 45°, d = 141.421 m, urban (a = 9.61, b = 0.16, η = 1 / 20 dB), 2 GHz:
    # P_LoS = 1 / (1 + 9.61 e^{−0.16 · 35.39}) = 1 / (1 + 9.61 · 0.0034742) = 0.967692
    # FSPL  = 20 log10(4π · 141.421 · 2e9 / 3e8) = 20 log10(11847.69) = 81.4727 dB
    # PL    = 81.4727 + 1 · 0.967692 + 20 · 0.032308 = 83.0865 dB
    assert float(los_probability_a2g(45.0, A2G_URBAN)) == pytest.approx(0.967692, abs=1e-6)
    assert float(a2g_pathloss_db(100.0, 100.0, 2.0, A2G_URBAN)) == pytest.approx(83.0865,
                                                                                abs=1e-3)


def test_coverage_radius_and_optimal_elevation() -> None:
    # Al-Hourani et al. 2014: the optimal edge elevation in urban environments is 42.44°
    assert optimal_elevation_deg(A2G_URBAN) == pytest.approx(42.44, abs=0.01)
    pl_max = 110.0
    alt = np.array([50.0, 200.0, 1000.0, 3000.0])
    r = coverage_radius_m(alt, pl_max)
    np.testing.assert_allclose(a2g_pathloss_db(r, alt), pl_max, atol=1e-6)
    assert np.all(a2g_pathloss_db(r * 1.01, alt) > pl_max)
    # the radius is largest near h = R tan θ_opt
    hs = np.linspace(100.0, 4000.0, 400)
    rs = coverage_radius_m(hs, pl_max)
    h_best = hs[np.argmax(rs)]
    assert math.degrees(math.atan2(h_best, rs.max())) == pytest.approx(42.44, abs=0.5)
    # out of range even overhead → zero radius
    assert float(coverage_radius_m(50.0, 60.0)[0]) == 0.0
    link = A2GLinkBudget()
    cap = link.radio_capacity_mbps(np.array([100.0, 200.0]))
    assert np.all(cap > 0) and np.all(cap <= link.bandwidth_mhz * link.se_max)


# ============================================================================================
# drone placement


def _tiny_problem(rng: np.random.Generator, n_pos: int = 4, n_alt: int = 2,
                  n_demand: int = 6) -> DronePlacementProblem:
    pos = rng.uniform(0.0, 300.0, (n_pos, 2))
    s = n_pos * n_alt
    radio = rng.uniform(30.0, 120.0, s)
    return DronePlacementProblem(
        demand_xy_m=rng.uniform(0.0, 300.0, (n_demand, 2)),
        demand_mbps=rng.uniform(5.0, 60.0, n_demand),
        site_xy_m=np.repeat(pos, n_alt, axis=0),
        site_altitude_m=np.tile(np.linspace(50.0, 300.0, n_alt), n_pos),
        coverage_radius_m=rng.uniform(100.0, 350.0, s),
        radio_capacity_mbps=radio,
        backhaul_mbps=np.where(rng.random(s) < 0.3, 0.5 * radio, np.inf),
        power_w=rng.uniform(150.0, 250.0, s),
        cost=rng.choice([1.0, 1.0, 1.5, 2.0], s),
        target_fraction=float(rng.choice([0.5, 0.8, 1.0])),
        max_total_power_w=float(rng.choice([np.inf, 600.0])),
        max_drones=[None, 3][int(rng.integers(0, 2))],
        battery_wh=np.where(rng.random(s) < 0.15, 50.0, np.inf),
        mission_h=1.0,
    )


def _random_instances(assignment: str, n: int, seed0: int) -> list[DronePlacementProblem]:
    probs = [_tiny_problem(np.random.default_rng(seed0 + k),
                           n_demand=6 if assignment == "fractional" else 5) for k in range(n)]
    return probs


@pytest.mark.parametrize("assignment", ["fractional", "binary"])
def test_milp_equals_brute_force_and_greedy_is_never_cheaper(assignment: str) -> None:
    n = 14 if assignment == "fractional" else 8
    n_feasible = 0
    for prob in _random_instances(assignment, n, seed0=100):
        strong = bool(n_feasible % 2)
        milp = solve_placement_milp(prob, assignment=assignment,  # type: ignore[arg-type]
                                    strong_links=strong, warm_start=not strong)
        brute = brute_force_placement(prob, assignment=assignment)  # type: ignore[arg-type]
        greedy = greedy_placement(prob, assignment=assignment)  # type: ignore[arg-type]
        assert milp.feasible == brute.feasible, (milp.message, brute.message)
        for plan in (milp, brute, greedy):
            assert prob.violations(plan) == [], (plan.method, prob.violations(plan))
        if not milp.feasible:
            assert milp.status == "infeasible" and not greedy.feasible
            continue
        n_feasible += 1
        assert milp.status == "optimal"
        assert milp.cost == pytest.approx(brute.cost, abs=1e-9)
        assert milp.served_mbps >= prob.target_mbps * (1 - 1e-6)
        if greedy.feasible:
            assert greedy.cost >= milp.cost - 1e-9
        if assignment == "binary":
            assert set(np.unique(milp.assignment)) <= {0.0, 1.0}
    assert n_feasible >= 5


def test_milp_beats_greedy_on_the_set_cover_trap() -> None:
    # six 10 Mbps points at x = 0 … 50 m; site L (x = 10, R = 10.5) covers 0–20, site R (x = 40)
    # covers 30–50, site C (x = 25, R = 15.5) covers 10–40. Greedy takes C first (40 Mbps) and
    # then needs both L and R; the optimum is {L, R}.
    prob = DronePlacementProblem(
        demand_xy_m=np.column_stack([np.arange(6) * 10.0, np.zeros(6)]),
        demand_mbps=np.full(6, 10.0),
        site_xy_m=np.array([[10.0, 0.0], [40.0, 0.0], [25.0, 0.0]]),
        site_altitude_m=np.array([100.0, 100.0, 100.0]),
        coverage_radius_m=np.array([10.5, 10.5, 15.5]),
        radio_capacity_mbps=np.array([100.0, 100.0, 100.0]),
        backhaul_mbps=np.array(np.inf), power_w=np.array(200.0), cost=np.array(1.0))
    greedy = greedy_placement(prob)
    milp = solve_placement_milp(prob, warm_start=True)
    assert greedy.feasible and 2 in greedy.chosen
    assert greedy.n_drones == 3 and milp.n_drones == 2 and set(milp.chosen) == {0, 1}
    assert milp.served_mbps == pytest.approx(60.0)
    assert brute_force_placement(prob).cost == 2.0


def test_polish_maximises_served_demand_for_the_chosen_drones() -> None:
    rng = np.random.default_rng(7)
    prob = _tiny_problem(rng)
    prob = DronePlacementProblem(**{**prob.__dict__, "target_fraction": 0.5,
                                    "max_total_power_w": np.inf, "max_drones": None,
                                    "battery_wh": np.inf})
    plan = solve_placement_milp(prob)
    assert plan.feasible
    # no other assignment to the same drones serves more: restrict the candidates to the
    # chosen ones, ask for everything they can carry, and compare with brute force
    k = list(plan.chosen)
    only = DronePlacementProblem(**{
        **prob.__dict__, "site_xy_m": prob.site_xy_m[k], "site_altitude_m": prob.site_altitude_m[k],
        "coverage_radius_m": prob.coverage_radius_m[k],
        "radio_capacity_mbps": prob.radio_capacity_mbps[k], "backhaul_mbps": prob.backhaul_mbps[k],
        "power_w": prob.power_w[k], "cost": prob.cost[k], "battery_wh": prob.battery_wh[k],
        "target_fraction": plan.served_fraction * (1 - 1e-9)})
    assert brute_force_placement(only).feasible
    more = DronePlacementProblem(**{**only.__dict__,
                                    "target_fraction": min(1.0, plan.served_fraction + 1e-4)})
    if plan.served_fraction < 1.0 - 1e-4:
        assert not brute_force_placement(more).feasible


def _line_problem(**overrides: object) -> DronePlacementProblem:
    """Three demand points of 50 Mbps on a line; three positions × one altitude, each covering
    everything."""
    base: dict[str, object] = dict(
        demand_xy_m=np.array([[0.0, 0.0], [100.0, 0.0], [200.0, 0.0]]),
        demand_mbps=np.array([50.0, 50.0, 50.0]),
        site_xy_m=np.array([[0.0, 0.0], [100.0, 0.0], [200.0, 0.0]]),
        site_altitude_m=np.array([100.0, 100.0, 100.0]),
        coverage_radius_m=np.array([500.0, 500.0, 500.0]),
        radio_capacity_mbps=np.array([200.0, 200.0, 200.0]),
        backhaul_mbps=np.inf,
        power_w=200.0,
        cost=1.0,
    )
    base.update(overrides)
    return DronePlacementProblem(**base)  # type: ignore[arg-type]


def test_capacity_backhaul_and_energy_limits_are_respected() -> None:
    # enough capacity: one drone
    assert solve_placement_milp(_line_problem()).n_drones == 1
    # radio capacity 80 Mbps → two drones, each loaded ≤ 80
    plan = solve_placement_milp(_line_problem(radio_capacity_mbps=np.array([80.0] * 3)))
    assert plan.n_drones == 2 and np.all(plan.load_mbps <= 80.0 + 1e-6)
    # backhaul 60 Mbps binds below radio capacity → three drones, loads ≤ 60
    prob = _line_problem(backhaul_mbps=60.0)
    plan = solve_placement_milp(prob)
    assert plan.n_drones == 3 and np.all(plan.load_mbps <= 60.0 + 1e-6)
    np.testing.assert_allclose(plan.capacity_mbps, 60.0)
    # fleet power budget for two drones only → infeasible at full target, feasible at 2/3
    prob = _line_problem(backhaul_mbps=60.0, max_total_power_w=450.0)
    for plan in (solve_placement_milp(prob), brute_force_placement(prob)):
        assert not plan.feasible and plan.status == "infeasible" and plan.n_drones == 0
    assert greedy_placement(prob).status == "target_not_met"
    prob = _line_problem(backhaul_mbps=60.0, max_total_power_w=450.0, target_fraction=0.75)
    plan = solve_placement_milp(prob)
    assert plan.feasible and plan.n_drones == 2 and plan.total_power_w <= 450.0
    assert plan.served_mbps == pytest.approx(120.0, rel=1e-6)  # 2 × 60 Mbps backhaul
    # endurance: the cheap site's battery does not last the mission → not used
    prob = _line_problem(cost=np.array([1.0, 5.0, 5.0]), battery_wh=np.array([100.0, 1e3, 1e3]),
                         mission_h=1.0)
    plan = solve_placement_milp(prob)
    assert plan.chosen in ((1,), (2,)) and plan.cost == 5.0
    assert prob.violations(plan) == []
    # max_drones = 1 with 80 Mbps drones → infeasible
    plan = solve_placement_milp(_line_problem(radio_capacity_mbps=np.array([80.0] * 3),
                                              max_drones=1))
    assert plan.status == "infeasible"
    # one drone per horizontal position (two altitudes at the same spot)
    prob = DronePlacementProblem(
        demand_xy_m=np.array([[0.0, 0.0]]), demand_mbps=np.array([150.0]),
        site_xy_m=np.array([[0.0, 0.0], [0.0, 0.0], [50.0, 0.0]]),
        site_altitude_m=np.array([100.0, 200.0, 100.0]),
        coverage_radius_m=np.array([300.0, 300.0, 300.0]),
        radio_capacity_mbps=np.array([100.0, 100.0, 100.0]), backhaul_mbps=np.array(np.inf),
        power_w=np.array(200.0), cost=np.array([1.0, 1.0, 3.0]))
    plan = solve_placement_milp(prob)
    assert set(plan.chosen) in ({0, 2}, {1, 2}) and plan.cost == 4.0
    assert brute_force_placement(prob).cost == 4.0


def test_stadium_surge_instance() -> None:
    rng = np.random.default_rng(3)
    xy, mbps = stadium_demand(rng, n_points=30, total_mbps=900.0)
    link = A2GLinkBudget(min_snr_db=15.0)
    prob = DronePlacementProblem.from_link_budget(
        xy, mbps, candidate_grid((-300.0, 300.0), (-300.0, 300.0), 100.0),
        altitudes_m=[50.0, 150.0, 300.0], link=link, backhaul_mbps=150.0,
        max_total_power_w=20 * 188.5, target_fraction=0.95)
    assert prob.n_sites == 49 * 3
    milp = solve_placement_milp(prob, time_limit_s=20.0)
    greedy = greedy_placement(prob)
    assert milp.feasible and milp.status == "optimal"
    assert prob.violations(milp) == [] and prob.violations(greedy) == []
    assert milp.n_drones >= math.ceil(0.95 * 900.0 / 150.0)
    assert np.all(milp.load_mbps <= np.minimum(milp.capacity_mbps, 150.0) + 1e-6)
    assert milp.total_power_w <= prob.max_total_power_w
    if greedy.feasible:
        assert greedy.cost >= milp.cost
    frame = milp.drones_frame()
    assert list(frame.columns)[:4] == ["site", "x_m", "y_m", "altitude_m"]
    assert len(frame) == milp.n_drones


def test_drone_bad_inputs_name_the_field() -> None:
    good = _line_problem().__dict__
    cases: list[tuple[dict[str, object], str]] = [
        ({"demand_xy_m": np.zeros((3, 3))}, "demand_xy_m"),
        ({"demand_mbps": np.array([50.0, -1.0, 50.0])}, "demand_mbps"),
        ({"demand_mbps": np.array([50.0, 50.0])}, "demand_mbps"),
        ({"site_altitude_m": np.array([100.0, 0.0, 100.0])}, "site_altitude_m"),
        ({"cost": 0.0}, "cost"),
        ({"target_fraction": 1.5}, "target_fraction"),
        ({"max_drones": -1}, "max_drones"),
        ({"power_w": np.nan}, "power_w"),
    ]
    for override, field in cases:
        with pytest.raises(InputError) as err:
            DronePlacementProblem(**{**good, **override})
        assert err.value.field == field
    with pytest.raises(InputError) as err:
        solve_placement_milp(_line_problem(), assignment="whole")  # type: ignore[arg-type]
    assert err.value.field == "assignment"
    with pytest.raises(InputError) as err:
        brute_force_placement(_line_problem(), max_candidates=2)
    assert err.value.field == "prob"
    with pytest.raises(InputError) as err:
        DronePlacementProblem.from_link_budget(np.zeros((1, 2)), [1.0], np.zeros((1, 2)),
                                               altitudes_m=[-10.0])
    assert err.value.field == "altitudes_m"
    with pytest.raises(InputError) as err:
        coverage_radius_m(np.array([0.0]), 100.0)
    assert err.value.field == "altitude_m"
