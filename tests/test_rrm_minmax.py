"""RRM engine: LINKs' min-max IoT uplink delay (paper (3)–(7)), solvers and reflexion loop."""

from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo
import pytest

from twinnet.errors import InputError, TwinNetError
from twinnet.radio.channel import channel_gains, free_space_kappa
from twinnet.rrm import (
    Adjustment,
    Attempt,
    IoTUplinkProblem,
    ReflexionError,
    SolverError,
    Violation,
    add_resource_blocks,
    brute_force_minmax,
    diagnose_infeasibility,
    evaluate_allocation,
    greedy_allocation,
    minimize_power,
    minmax_delay_reflexion,
    random_allocation,
    relax_beta,
    run_reflexion,
    solve,
    solve_minmax_delay,
    widen_candidate_set,
)

N0 = 1e-12  # W per RB in the hand-made instances


def _sinr_problem(sinr_db: list[list[float]], data_bits: list[float], beta_db: float,
                  bandwidth: float = 1e6, **kw: object) -> IoTUplinkProblem:
    """Instance whose SINR at p_max = 1 W is ``sinr_db`` (no external interference)."""
    g = 10.0 ** (np.asarray(sinr_db, dtype=float) / 10.0) * N0
    return IoTUplinkProblem(data_bits=np.asarray(data_bits, dtype=float), gains=g,
                            rb_bandwidth_hz=bandwidth, noise_w=np.asarray(N0),
                            p_max_w=np.asarray(1.0), beta_db=beta_db, **kw)  # type: ignore[arg-type]


def _random_problem(rng: np.random.Generator, n: int, m: int, beta_db: float,
                    multi_rb: bool = True) -> IoTUplinkProblem:
    d = rng.uniform(20.0, 250.0, n)
    interf = rng.uniform(0.0, 3.0, m) * 2.6e-15  # up to ~5 dB above noise on some RBs
    return IoTUplinkProblem.from_distances(d, rng.uniform(2e4, 5e5, n), m, beta_db=beta_db,
                                           interference_w=interf, rng=rng, multi_rb=multi_rb)


def _instances() -> list[IoTUplinkProblem]:
    """36 feasible instances (several seeds, N = 1..3, M = 1..6) plus a few infeasible ones."""
    feasible: list[IoTUplinkProblem] = []
    infeasible: list[IoTUplinkProblem] = []
    for seed in range(1, 200):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(1, 4))
        m = int(rng.integers(n, 7))
        beta = float(rng.uniform(-5.0, 12.0))
        prob = _random_problem(rng, n, m, beta, multi_rb=bool(rng.random() < 0.8))
        if diagnose_infeasibility(prob):
            if len(infeasible) < 6:
                infeasible.append(prob)
        elif len(feasible) < 36:
            feasible.append(prob)
        if len(feasible) == 36 and len(infeasible) == 6:
            break
    return feasible + infeasible


# --------------------------------------------------------------------------- exactness
def test_milp_matches_brute_force_on_random_small_instances():
    probs = _instances()
    n_feasible = n_partial = 0
    for prob in probs:
        bf = brute_force_minmax(prob)
        for method in ("bisection", "milp"):
            exact = solve_minmax_delay(prob, method=method)
            assert exact.status in ("optimal", "infeasible")
            assert exact.status == bf.status, (method, prob.summary())
            if bf.status == "infeasible":
                assert not exact.has_allocation and exact.diagnosis
                continue
            assert exact.max_delay_pmax_s == pytest.approx(bf.max_delay_pmax_s, rel=1e-6)
            assert exact.mip_gap is not None and exact.mip_gap <= 1e-6
            assert exact.lower_bound_s is not None
            assert exact.lower_bound_s <= exact.max_delay_pmax_s * (1 + 1e-9)
            assert exact.lower_bound_s >= bf.max_delay_pmax_s * (1 - 2e-6)
            assert exact.check(prob) == []
            # the heuristic and the random baseline never beat the exact optimum
            for base in (greedy_allocation(prob), random_allocation(prob, rng=7)):
                assert base.max_delay_pmax_s >= exact.max_delay_pmax_s * (1 - 1e-9)
        if bf.status == "optimal":
            n_feasible += 1
            n_partial += int(not prob.admissible.all())
    assert n_feasible >= 30 and len(probs) - n_feasible >= 3
    assert n_partial >= 10  # instances where some (device, RB) pairs fail β


def test_heuristics_never_beat_milp_on_larger_instances():
    rng = np.random.default_rng(11)
    done = 0
    while done < 4:
        prob = _random_problem(rng, 8, 16, beta_db=-5.0)
        if diagnose_infeasibility(prob):
            continue
        done += 1
        exact = solve_minmax_delay(prob)
        assert exact.status == "optimal"
        g = greedy_allocation(prob)
        r = random_allocation(prob, rng=3)
        assert g.max_delay_pmax_s >= exact.max_delay_pmax_s * (1 - 1e-7)
        assert r.max_delay_pmax_s >= exact.max_delay_pmax_s * (1 - 1e-7)
        assert g.check(prob) == [] and r.check(prob) == []


def test_time_limit_returns_incumbent_with_gap():
    rng = np.random.default_rng(50)
    prob = _random_problem(rng, 40, 80, beta_db=-10.0)
    assert not diagnose_infeasibility(prob)
    for method in ("bisection", "milp"):
        res = solve_minmax_delay(prob, method=method, time_limit_s=0.02)  # type: ignore[arg-type]
        assert res.status in ("feasible", "optimal") and res.has_allocation
        assert res.check(prob) == []
        assert res.lower_bound_s is not None and res.mip_gap is not None
        assert res.lower_bound_s <= res.max_delay_pmax_s * (1 + 1e-9)
        if res.status == "feasible":
            assert res.mip_gap > 0
    with pytest.raises(InputError, match="method"):
        solve_minmax_delay(prob, method="simplex")  # type: ignore[arg-type]


def test_hand_computed_one_device_two_rbs():
    # SINR at p_max: RB0 3 (I = 0), RB1 g/(I + N0) = 14e-12 / 2e-12 = 7; B = 1 MHz, D = 5 Mbit
    g = np.array([[3e-12, 14e-12]])
    prob = IoTUplinkProblem(data_bits=np.array([5e6]), gains=g, rb_bandwidth_hz=1e6,
                            noise_w=np.array(N0), p_max_w=np.array(1.0), beta_db=0.0,
                            interference_w=np.array([0.0, 1e-12]))
    np.testing.assert_allclose(prob.sinr_at_pmax, [[3.0, 7.0]])
    np.testing.assert_allclose(prob.rate_at_pmax_bps, [[2e6, 3e6]])  # 1e6·log2(4), 1e6·log2(8)
    res = solve_minmax_delay(prob)
    assert res.status == "optimal"
    np.testing.assert_array_equal(res.assignment, [[1, 1]])
    assert res.max_delay_s == pytest.approx(1.0, rel=1e-9)  # 5 Mbit / 5 Mbit/s
    np.testing.assert_allclose(res.power_w, [[1.0, 1.0]], rtol=1e-9)  # the bottleneck: p_max
    # β = 5 dB (3.16) excludes RB0: only RB1, delay 5/3 s
    res5 = solve_minmax_delay(prob.with_beta_db(5.0))
    np.testing.assert_array_equal(res5.assignment, [[0, 1]])
    assert res5.max_delay_s == pytest.approx(5.0 / 3.0, rel=1e-9)
    assert prob.with_beta_db(5.0).beta_linear == pytest.approx(10 ** 0.5)
    # one RB per device: the better RB
    single = IoTUplinkProblem(data_bits=np.array([5e6]), gains=g, rb_bandwidth_hz=1e6,
                              noise_w=np.array(N0), p_max_w=np.array(1.0), beta_db=0.0,
                              interference_w=np.array([0.0, 1e-12]), multi_rb=False)
    assert solve_minmax_delay(single).max_delay_s == pytest.approx(5.0 / 3.0, rel=1e-9)


def test_two_devices_share_rbs_optimally():
    # device 0 is far better everywhere; min-max must give device 1 the RBs it needs
    prob = _sinr_problem([[30.0, 30.0, 30.0], [10.0, 5.0, 0.0]], [1e6, 1e6], beta_db=-10.0)
    res = solve_minmax_delay(prob)
    bf = brute_force_minmax(prob)
    assert res.max_delay_s == pytest.approx(bf.max_delay_s, rel=1e-6)
    assert res.assignment[1].sum() >= 1 and res.assignment[0].sum() >= 1
    assert res.assignment.sum(axis=0).max() <= 1


# --------------------------------------------------------------------------- power stage
def test_second_stage_power_respects_pmax_and_keeps_delay():
    rng = np.random.default_rng(21)
    reduced = 0
    for _ in range(12):
        prob = _random_problem(rng, 4, 8, beta_db=float(rng.uniform(-3.0, 6.0)))
        if diagnose_infeasibility(prob):
            continue
        for mode in ("per_rb", "per_device"):
            res = solve_minmax_delay(prob, power_mode=mode)  # type: ignore[arg-type]
            t_star = res.max_delay_pmax_s
            assert np.all(res.power_w <= prob.p_max_w[:, None] * (1 + 1e-9))
            assert np.all(res.power_w >= 0)
            assert np.all(res.power_w[res.assignment == 0] == 0)
            assert np.all(res.delay_s <= t_star * (1 + 1e-6))
            assert res.max_delay_s <= t_star * (1 + 1e-6)
            assert res.check(prob) == []  # (5) still holds on every used RB
            full = (prob.p_max_w[:, None] * res.assignment).sum()
            assert res.total_power_w <= full * (1 + 1e-12)
            reduced += int(res.total_power_w < 0.99 * full)
        # water-filling per RB is never worse than one power per device
        p_rb = minimize_power(prob, res.assignment, t_star, mode="per_rb")
        p_dev = minimize_power(prob, res.assignment, t_star, mode="per_device")
        assert p_rb.sum() <= p_dev.sum() * (1 + 1e-6)
    assert reduced > 0


def test_water_filling_matches_a_generic_convex_solver():
    from scipy.optimize import minimize

    prob = _sinr_problem([[12.0, 6.0, 3.0]], [2.5e6], beta_db=-3.0)
    b = np.ones((1, 3))
    t_target = 1.0  # needs 2.5 bit/s/Hz, below the p_max total
    p = minimize_power(prob, b, t_target, mode="per_rb")[0]
    a = prob.snr_per_watt[0]
    lo = prob.beta_linear / a
    cons = {"type": "ineq", "fun": lambda x: np.log2(1 + a * x).sum() - 2.5}
    ref = minimize(lambda x: x.sum(), np.ones(3), bounds=[(lo_j, 1.0) for lo_j in lo],
                   constraints=[cons], method="SLSQP", options={"ftol": 1e-12})
    assert ref.success
    assert p.sum() <= ref.fun * (1 + 1e-5)
    assert np.log2(1 + a * p).sum() >= 2.5 * (1 - 1e-9)


# --------------------------------------------------------------------------- check()
def test_check_names_each_violated_constraint():
    prob = _sinr_problem([[20.0, 15.0, -5.0], [10.0, 18.0, 12.0]], [1e6, 1e6], beta_db=0.0)
    ok = solve_minmax_delay(prob)
    assert ok.check(prob) == []

    def names(b, p=None, problem=prob):
        return {v.constraint for v in evaluate_allocation(problem, b, p).check(problem)}

    assert "oma" in names([[1, 0, 0], [1, 1, 0]])  # RB0 to both devices
    assert "sinr" in names([[0, 0, 1], [1, 1, 0]])  # device 0 at −5 dB on RB2 < β = 0 dB
    assert "served" in names([[1, 1, 1], [0, 0, 0]])  # device 1 has nothing
    power = np.array([[2.0, 0, 0], [0, 1.0, 0]])
    vios = evaluate_allocation(prob, [[1, 0, 0], [0, 1, 0]], power).check(prob)
    assert [v.constraint for v in vios] == ["power"] and vios[0].device == 0
    assert "p_max" in vios[0].message
    stray = np.array([[1.0, 0.5, 0], [0, 1.0, 0]])  # device 0 radiates on RB1 it does not hold
    assert names([[1, 0, 0], [0, 1, 0]], stray) == {"power"}
    frac = ok.check(prob)
    assert frac == []
    from twinnet.rrm import check_allocation

    b_half = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 1.0]])
    assert "binary" in {v.constraint for v in check_allocation(prob, b_half, b_half)}
    single = IoTUplinkProblem(data_bits=prob.data_bits, gains=prob.gains, rb_bandwidth_hz=1e6,
                              noise_w=prob.noise_w, p_max_w=prob.p_max_w, beta_db=0.0,
                              multi_rb=False)
    assert "single_rb" in names([[1, 1, 0], [0, 0, 1]], problem=single)
    tight = IoTUplinkProblem(data_bits=prob.data_bits, gains=prob.gains, rb_bandwidth_hz=1e6,
                             noise_w=prob.noise_w, p_max_w=prob.p_max_w, beta_db=0.0,
                             deadline_s=1e-3)
    vio = solve_minmax_delay(tight).check(tight)
    assert [v.constraint for v in vio] == ["deadline"]
    assert "shape" in {v.constraint for v in check_allocation(prob, np.ones((2, 2)),
                                                                np.ones((2, 2)))}


def test_infeasible_problem_is_diagnosed_exactly():
    prob = _sinr_problem([[5.0, 6.0], [20.0, 21.0], [22.0, 19.0]], [1e6] * 3, beta_db=10.0)
    diag = diagnose_infeasibility(prob)
    assert [v.constraint for v in diag] == ["sinr"]  # device 0 below β; 2 devices on 2 RBs ok
    assert diag[0].device == 0 and diag[0].value == pytest.approx(6.0)
    crowd = _sinr_problem([[5.0, 6.0], [20.0, 21.0], [22.0, 19.0], [15.0, 16.0]], [1e6] * 4,
                          beta_db=10.0)
    assert [v.constraint for v in diagnose_infeasibility(crowd)] == ["sinr", "oma"]
    res = solve_minmax_delay(prob)
    assert res.status == "infeasible" and not res.has_allocation
    assert {v.constraint for v in res.check(prob)} >= {"served", "sinr"}
    assert brute_force_minmax(prob).status == "infeasible"


# --------------------------------------------------------------------------- reflexion
def test_reflexion_relaxes_beta_until_feasible():
    # best SINRs at p_max: device 0 18 dB, device 1 16 dB; β = 20 dB is infeasible
    pool = _sinr_problem([[18.0, 15.0, 10.0, 12.0], [8.0, 16.0, 14.0, 11.0]], [1e6, 2e6],
                         beta_db=20.0)
    assert solve_minmax_delay(pool).status == "infeasible"
    out = minmax_delay_reflexion(pool, beta_step_db=1.0, beta_floor_db=10.0)
    assert out.success and out.report is None
    assert out.params["beta_db"] == pytest.approx(16.0)
    assert [it.params["beta_db"] for it in out.iterations] == [20.0, 19.0, 18.0, 17.0, 16.0]
    assert [a.adjustment for a in out.adjustments] == ["relax_beta"] * 4
    assert all(a.constraint == "sinr" for a in out.adjustments)
    assert out.iterations[0].status == "infeasible" and "sinr" in out.iterations[0].violated
    assert out.iterations[-1].violations == []
    assert out.solution.status == "optimal"
    ev = out.to_dict()  # JSON evidence
    import json

    json.dumps(ev)
    assert ev["n_iterations"] == 5 and ev["iterations"][0]["adjustment"]["new"] == 19.0


def test_reflexion_adds_rbs_for_a_deadline_and_raises_tau():
    rng = np.random.default_rng(5)
    pool = _random_problem(rng, 3, 8, beta_db=0.0)
    full = solve_minmax_delay(pool)
    assert full.status == "optimal"
    few = solve_minmax_delay(pool.with_rbs(3))
    deadline = 0.5 * (full.max_delay_s + few.max_delay_s)  # needs more than 3 RBs
    assert few.max_delay_s > deadline
    pool_d = IoTUplinkProblem(data_bits=pool.data_bits, gains=pool.gains,
                              rb_bandwidth_hz=pool.rb_bandwidth_hz, noise_w=pool.noise_w,
                              p_max_w=pool.p_max_w, beta_db=0.0,
                              interference_w=pool.interference_w, deadline_s=deadline)
    out = minmax_delay_reflexion(pool_d, n_rbs=3, tau=0.7, predicted_load=0.78, tau_step=0.05)
    assert out.success, out.report
    assert 3 < out.params["n_rbs"] <= 8
    assert out.params["tau"] == pytest.approx(0.8)
    used = {a.adjustment for a in out.adjustments}
    assert used == {"add_resource_blocks", "change_load_threshold"}
    assert out.solution.max_delay_s <= deadline * (1 + 1e-6)


def test_reflexion_reports_binding_constraints_when_limits_are_reached():
    # three devices, two RBs in the whole pool: OMA binds, adding RBs is impossible
    pool = _sinr_problem([[10.0, 11.0], [12.0, 9.0], [13.0, 14.0]], [1e6] * 3, beta_db=0.0)
    out = minmax_delay_reflexion(pool, beta_floor_db=-2.0)
    assert not out.success and out.report is not None
    rep = out.report
    assert "oma" in rep.binding_constraints and rep.reason == "limits"
    assert rep.exhausted["oma"][0]["adjustment"] == "add_resource_blocks"
    assert rep.exhausted["oma"][0]["at_limit"]
    assert "oma" in rep.message and "add_resource_blocks" in rep.message
    # a device that β cannot reach even at the floor: relaxing stops at the floor, then reports
    weak = _sinr_problem([[-8.0, -9.0], [12.0, 9.0]], [1e6] * 2, beta_db=0.0)
    with pytest.raises(ReflexionError) as exc:
        minmax_delay_reflexion(weak, beta_step_db=2.0, beta_floor_db=-4.0,
                               raise_on_failure=True)
    rep = exc.value.report
    assert "sinr" in rep.binding_constraints
    assert [r.new for r in rep.adjustments_tried] == [-2.0, -4.0]
    assert rep.exhausted["sinr"][0]["adjustment"] == "relax_beta"
    assert "sinr" in str(exc.value) and isinstance(exc.value, TwinNetError)
    assert exc.value.result is not None and exc.value.result.n_iterations == 3


def test_generic_loop_with_custom_adjustments_and_iteration_limit():
    # a toy problem: coverage needs radius >= 3 and margin <= 1
    def attempt(p):
        vios = []
        if len(p["cells"]) < 3:
            vios.append(Violation("coverage", f"only {len(p['cells'])} candidate cells"))
        if p["margin"] > 1.0:
            vios.append(Violation("margin", f"margin {p['margin']} > 1"))
        return Attempt(status="ok" if not vios else "violated", violations=vios)

    widen = widen_candidate_set(lambda c: [*c, len(c)] if len(c) < 5 else None,
                                parameter="cells", limit=5)
    lower = Adjustment.stepwise("lower_margin", "margin", ["margin"], step=0.5, limit=0.0)
    out = run_reflexion({"cells": [0], "margin": 2.0}, attempt, [widen, lower])
    assert out.success and out.params == {"cells": [0, 1, 2], "margin": 1.0}
    assert [a.parameter for a in out.adjustments] == ["cells", "cells", "margin", "margin"]
    short = run_reflexion({"cells": [0], "margin": 2.0}, attempt, [widen, lower],
                          max_iterations=2)
    assert not short.success and short.report is not None
    assert short.report.reason == "iterations"
    none = run_reflexion({"cells": [0], "margin": 2.0}, attempt, [lower])
    assert none.report is not None and none.report.unanswered == ["coverage"]
    with pytest.raises(InputError):
        relax_beta(step_db=0.0)
    with pytest.raises(InputError):
        add_resource_blocks(max_rbs=0)


# --------------------------------------------------------------------------- solvers & inputs
def test_unknown_solver_raises_solver_error_naming_it(monkeypatch):
    prob = _sinr_problem([[10.0, 12.0]], [1e6], beta_db=0.0)
    with pytest.raises(SolverError, match="no_such_solver_xyz") as exc:
        solve_minmax_delay(prob, solver="no_such_solver_xyz")
    assert exc.value.solver == "no_such_solver_xyz" and isinstance(exc.value, TwinNetError)
    monkeypatch.setenv("TWINNET_SOLVER", "another_missing_solver")
    with pytest.raises(SolverError, match="another_missing_solver"):
        solve_minmax_delay(prob)
    monkeypatch.delenv("TWINNET_SOLVER")
    assert solve_minmax_delay(prob).solver == "appsi_highs"


def test_solve_helper_reports_status_objective_gap_and_time():
    m = pyo.ConcreteModel()
    m.x = pyo.Var([0, 1, 2], domain=pyo.Binary)
    m.c = pyo.Constraint(expr=3 * m.x[0] + 4 * m.x[1] + 5 * m.x[2] <= 8)
    m.o = pyo.Objective(expr=4 * m.x[0] + 5 * m.x[1] + 7 * m.x[2], sense=pyo.maximize)
    info = solve(m, time_limit_s=10, mip_gap=0.0)
    assert info.status == "optimal" and info.solver == "appsi_highs"
    assert info.objective == pytest.approx(11.0) and info.mip_gap == pytest.approx(0.0)
    assert info.options["threads"] == 1 and info.wall_time_s >= 0
    assert pyo.value(m.x[0]) == pytest.approx(1) and pyo.value(m.x[2]) == pytest.approx(1)
    m.bad = pyo.Constraint(expr=m.x[0] + m.x[1] + m.x[2] >= 3)
    assert solve(m).status == "infeasible"
    with pytest.raises(SolverError, match="nope_solver"):
        solve(m, "nope_solver")
    with pytest.raises(InputError):
        solve(m, time_limit_s=-1)


def test_input_validation_names_the_field():
    g = np.ones((2, 3)) * 1e-10
    base = dict(data_bits=np.array([1e6, 1e6]), gains=g, rb_bandwidth_hz=180e3,
                noise_w=np.array(1e-15), p_max_w=np.array(0.2), beta_db=0.0)
    IoTUplinkProblem(**base)  # type: ignore[arg-type]
    cases = {
        "gains": {"gains": np.ones((3, 3))},
        "data_bits": {"data_bits": np.array([1e6, -1.0])},
        "noise_w": {"noise_w": np.array([1e-15, 1e-15])},
        "p_max_w": {"p_max_w": np.array(0.0)},
        "interference_w": {"interference_w": np.array([-1.0, 0, 0])},
        "rb_bandwidth_hz": {"rb_bandwidth_hz": 0.0},
        "beta_db": {"beta_db": math.nan},
        "deadline_s": {"deadline_s": -1.0},
    }
    for field_name, change in cases.items():
        with pytest.raises(InputError) as exc:
            IoTUplinkProblem(**{**base, **change})  # type: ignore[arg-type]
        assert exc.value.field == field_name
    prob = IoTUplinkProblem(**base)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="n_rbs"):
        prob.with_rbs(4)
    with pytest.raises(InputError, match="assignment"):
        evaluate_allocation(prob, np.ones((3, 3)))
    with pytest.raises(InputError, match="distances_m"):
        channel_gains([10.0, -1.0], 2)
    with pytest.raises(InputError, match="brute force"):
        brute_force_minmax(IoTUplinkProblem(**{**base, "gains": np.ones((2, 30)) * 1e-10}))  # type: ignore[arg-type]


def test_channel_model_follows_eq_1():
    kappa = free_space_kappa(6e9)
    assert 10 * math.log10(kappa) == pytest.approx(-48.0, abs=0.1)
    g = channel_gains([100.0, 200.0], 4, alpha=3.5, shadowing_std_db=0.0, rayleigh=False)
    np.testing.assert_allclose(g[:, 0], kappa * np.array([100.0, 200.0]) ** -3.5)
    gr = channel_gains(np.full(2000, 100.0), 1, shadowing_std_db=0.0, rng=0)
    assert gr.mean() / (kappa * 100.0 ** -3.5) == pytest.approx(1.0, abs=0.1)  # E|h|² = 1


def test_benchmark_script_runs_and_writes_json(tmp_path):
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "rrm_minmax_delay.py"
    spec = importlib.util.spec_from_file_location("rrm_minmax_delay_bench", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "rrm.json"
    assert mod.main(["--sizes", "5", "8", "--seeds", "1", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [r["n_devices"] for r in data["summary"]] == [5, 8]
    rec = data["results"][0]
    assert rec["n_rbs"] == 10 and rec["bisection"]["status"] == "optimal"
    assert rec["greedy"]["max_delay_ms"] >= rec["bisection"]["max_delay_ms"] * (1 - 1e-4)


def test_uma_channel_gains_follow_38901_and_feed_the_solver():
    from twinnet.radio.channel import uma_channel_gains
    from twinnet.radio.noise import thermal_noise_w
    from twinnet.radio.pathloss import pathloss_uma_los_db, pathloss_uma_nlos_db

    d = np.array([50.0, 200.0, 600.0])
    d3d = np.hypot(d, 23.5)
    g = uma_channel_gains(d, 4, los=False, shadowing=False, rayleigh=False)
    assert g.shape == (3, 4)
    np.testing.assert_allclose(10 * np.log10(g[:, 0]), -pathloss_uma_nlos_db(d, d3d, 6.0))
    g_los = uma_channel_gains(d, 1, los=True, shadowing=False, rayleigh=False)
    np.testing.assert_allclose(10 * np.log10(g_los[:, 0]), -pathloss_uma_los_db(d, d3d, 6.0))
    # hand value: NLOS at 200 m, 6 GHz: max(PL_LOS, 13.54 + 39.08 log10(d3D) + 20 log10(6))
    pl = 13.54 + 39.08 * np.log10(np.hypot(200.0, 23.5)) + 20 * np.log10(6.0)
    assert -10 * np.log10(g[1, 0]) == pytest.approx(max(pl, pathloss_uma_los_db(
        200.0, np.hypot(200.0, 23.5), 6.0)), abs=1e-9)
    # Rayleigh fading has unit mean power
    many = uma_channel_gains(np.full(1, 100.0), 20000, los=True, shadowing=False, rng=1)
    mean_gain = uma_channel_gains(np.full(1, 100.0), 1, los=True, shadowing=False,
                                  rayleigh=False)[0, 0]
    assert many.mean() / mean_gain == pytest.approx(1.0, rel=0.03)
    with pytest.raises(InputError, match="fc_ghz"):
        uma_channel_gains(d, 2, fc_ghz=200.0)
    # the gains define a solvable LINKs instance
    rng = np.random.default_rng(3)
    dist = rng.uniform(30, 250, 4)
    prob = IoTUplinkProblem(data_bits=rng.uniform(1e5, 1e6, 4),
                            gains=uma_channel_gains(dist, 8, rng=rng), rb_bandwidth_hz=180e3,
                            noise_w=thermal_noise_w(180e3), p_max_w=0.2, beta_db=-5.0)
    res = solve_minmax_delay(prob)
    assert res.status == "optimal" and not res.check(prob)
