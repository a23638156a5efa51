"""LINKs stage 2: Parameter Convertor, Zigbee fallback, per-cell routing and 6G RRM."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twinnet.errors import InputError
from twinnet.links.retrieval import (
    Device,
    ZigbeeMesh,
    ZigbeeModel,
    baseline_random_rb,
    baseline_retrieve_everything,
    compare_allocations,
    convert_plan,
    hex_cells,
    idle_rbs,
    plan_retrieval,
    predict_cell_load,
    sweep_tau,
)
from twinnet.rrm.minmax_delay import brute_force_minmax

ROOT = Path(__file__).resolve().parents[1]
SITES = {0: (0.0, 0.0), 1: (500.0, 0.0)}


def _devices(n_per_cell: int = 3, seed: int = 0, prefix: str = "s") -> list[Device]:
    gen = np.random.default_rng(seed)
    out = []
    for c, (x0, y0) in SITES.items():
        for k in range(n_per_cell):
            r, a = gen.uniform(30, 220), gen.uniform(0, 2 * math.pi)
            out.append(Device(f"{prefix}{c}-{k}", "t", x0 + r * math.cos(a),
                              y0 + r * math.sin(a), float(gen.uniform(5e4, 4e5))))
    return out


def test_convert_plan_computes_data_bits_by_hand():
    table = pd.DataFrame({"sensor_id": ["a1", "b1", "a2"], "type": ["a", "b", "a"],
                          "x_m": [0.0, 10.0, 20.0], "y_m": [0.0, 0.0, 5.0],
                          "cell": [1, None, 0]})
    period, payload = {"a": 60.0, "b": 600.0}, {"a": 24.0, "b": 32.0}
    devs = convert_plan(table, 3600.0, period, payload)
    assert [d.data_bits for d in devs] == [60 * 24 * 8, 6 * 32 * 8, 60 * 24 * 8]
    assert [d.cell for d in devs] == [1, None, 0] and devs[1].sensor_type == "b"
    # window shorter than the period: still one sample; aggregation: one sample per sensor
    assert convert_plan(table, 100.0, period, payload)[1].data_bits == 32 * 8
    assert [d.data_bits for d in convert_plan(table, 3600.0, period, payload, "max")] == \
        [24 * 8, 32 * 8, 24 * 8]
    with pytest.raises(InputError):
        convert_plan(table, 3600.0, {"a": 60.0}, payload)
    with pytest.raises(InputError):
        convert_plan(table, 3600.0, period, payload, aggregation="median-ish")


def test_zigbee_latency_by_hand():
    zb = ZigbeeModel()
    assert (zb.rate_bps, zb.hop_distance_m, zb.per_hop_delay_s) == (100e3, 40.0, 0.010)
    dev = Device("d", "t", 100.0, 0.0, 1e5)
    assert zb.hops(100.0) == 3 and zb.hops(40.0) == 1 and zb.hops(0.0) == 1
    assert zb.latency_s(dev, (0.0, 0.0)) == pytest.approx(3 * (1e5 / 100e3 + 0.010))
    slow = ZigbeeModel(rate_bps=50e3, hop_distance_m=30.0, per_hop_delay_s=0.0)
    assert slow.latency_s(dev, (40.0, 80.0)) == pytest.approx(4 * 2.0)  # 100 m → 4 hops
    with pytest.raises(InputError):
        ZigbeeModel(rate_bps=0.0)


def test_zigbee_mesh_routes_by_hand_and_hops_carry_what_crosses_them():
    mesh = ZigbeeMesh(rate_bps=100e3, range_m=60.0, per_hop_delay_s=0.010)
    r40 = 100e3 / (1 + 3 * (40 / 60) ** 2)
    assert mesh.link_rate_bps(40.0) == pytest.approx(r40) and mesh.link_rate_bps(61.0) == 0.0
    # a line: coordinator at 0, sensors at 40 m and 80 m (80 m is out of range: two hops)
    out = mesh.routes([(40.0, 0.0), (80.0, 0.0)], [1e4, 2e4], (0.0, 0.0))
    assert out[0]["path"] == [0, 2] and out[1]["path"] == [1, 0, 2]
    assert out[0]["latency_s"] == pytest.approx(0.010 + 3e4 / r40)  # the first hop carries both
    assert out[1]["latency_s"] == pytest.approx(0.010 + 2e4 / r40 + 0.010 + 3e4 / r40)
    assert out[1]["bottleneck_bits"] == 3e4
    # k sensors behind one relay: the relay's hop to the coordinator carries k times the data
    def behind_relay(k: int) -> float:
        pts = [(40.0, 0.0)] + [(80.0, 0.5 * j) for j in range(k)]
        res = mesh.routes(pts, [0.0] + [1e4] * k, (0.0, 0.0))
        assert all(r["path"][1:] == [0, k + 1] for r in res[1:])  # all through the relay
        for r in res:  # no hop serves more than its rate allows
            assert r["latency_s"] >= r["bottleneck_bits"] / r40 - 1e-12
        return res[0]["latency_s"]  # the relay's own hop

    one, four = behind_relay(1), behind_relay(4)
    assert four - 0.010 == pytest.approx(4 * (one - 0.010))
    assert one == pytest.approx(0.010 + 1e4 / r40)
    # out of everyone's range: unreachable
    far = mesh.routes([(500.0, 0.0)], [1e4], (0.0, 0.0))[0]
    assert far["path"] is None and far["latency_s"] == float("inf")
    with pytest.raises(InputError, match="bits"):
        mesh.routes([(1.0, 0.0)], [], (0.0, 0.0))


def test_retrieval_over_a_zigbee_mesh():
    devs = _devices()
    res = plan_retrieval(devs, tau=0.5, cell_load={0: 0.2, 1: 0.8}, n_rbs=5, bs_xy=SITES,
                         zigbee=ZigbeeMesh(range_m=400.0))
    rows = [r for r in res.per_device if r["path"] == "zigbee"]
    assert rows and all(r["hops"] >= 1 for r in rows)
    mesh = ZigbeeMesh(range_m=400.0)
    want = mesh.routes([(d.x_m, d.y_m) for d in devs[3:]], [d.data_bits for d in devs[3:]],
                       SITES[1])
    assert res.latency_of("zigbee") == pytest.approx(max(r["latency_s"] for r in want))


def test_routing_by_tau_and_6g_part_equals_brute_force():
    devs = _devices()
    loads = {0: 0.2, 1: 0.8}
    res = plan_retrieval(devs, tau=0.5, cell_load=loads, n_rbs=5, bs_xy=SITES)
    assert res.cells_6g == [0] and res.cells_zigbee == [1]
    assert idle_rbs(5, 0.2) == 4 and res.solver["cells"]["0"]["idle_rbs"] == 4
    for d, row in zip(devs, res.per_device, strict=True):
        assert row["sensor_id"] == d.sensor_id
        assert row["path"] == ("6g" if d.sensor_id.startswith("s0") else "zigbee")
    zb = ZigbeeModel()
    zig = max(zb.latency_s(d, SITES[1]) for d in devs[3:])
    assert res.latency_of("zigbee") == pytest.approx(zig)
    assert res.latency_s == pytest.approx(max(zig, res.latency_of("6g")))
    bf = brute_force_minmax(res.problems[0])
    assert res.problems[0].n_rbs == 4 and bf.status == "optimal"
    assert res.solver["cells"]["0"]["max_delay_pmax_s"] == pytest.approx(bf.max_delay_pmax_s,
                                                                         rel=1e-5)
    assert res.latency_of("6g") <= bf.max_delay_pmax_s * (1 + 1e-5)
    json.dumps(res.to_dict())


def test_tau_extremes_and_sweep_consistency():
    devs = _devices()
    loads = {0: 0.3, 1: 0.6}
    kw = {"cell_load": loads, "n_rbs": 10, "bs_xy": SITES}
    low, mid, high = sweep_tau(devs, [0.0, 0.5, 1.01], **kw)
    assert low.cells_6g == [] and all(r["path"] == "zigbee" for r in low.per_device)
    assert high.cells_zigbee == [] and all(r["path"] == "6g" for r in high.per_device)
    assert mid.cells_6g == [0] and mid.cells_zigbee == [1]
    zb = ZigbeeModel()
    assert low.latency_s == pytest.approx(max(zb.latency_s(d, SITES[1 if d.sensor_id[1] == "1"
                                                                   else 0]) for d in devs))
    # here every 6G cell beats its Zigbee fallback, so raising τ never hurts
    assert low.latency_s >= mid.latency_s >= high.latency_s
    single = plan_retrieval(devs, tau=0.5, **kw)
    assert single.latency_s == pytest.approx(mid.latency_s, rel=1e-9)


def test_optimiser_beats_random_rb_and_lazy_loading_beats_everything():
    devs = _devices()
    extra = _devices(seed=5, prefix="x")
    loads = {0: 0.2, 1: 0.4}
    kw = {"cell_load": loads, "n_rbs": 12, "bs_xy": SITES}
    runs = compare_allocations(devs, [1.01], **kw)
    opt, rnd = runs["opt"][0], runs["random"][0]
    assert opt.cells_6g == rnd.cells_6g == [0, 1]
    assert opt.latency_s <= rnd.latency_s * (1 + 1e-6)
    alone = baseline_random_rb(devs, tau=1.01, **kw)
    assert alone.latency_s == pytest.approx(rnd.latency_s)
    assert alone.solver["baseline"] == "random_rb"
    assert all(c.get("adjustments") == [] for c in opt.solver["cells"].values())
    for tau in (0.3, 1.01):
        planned = plan_retrieval(devs, tau=tau, **kw)
        everything = baseline_retrieve_everything(devs + extra, tau=tau, **kw)
        assert everything.latency_s >= planned.latency_s * (1 - 1e-6)


def test_reflexion_relaxes_beta_or_falls_back_to_zigbee():
    devs = _devices()
    # β far above what the devices reach: the reflexion lowers β (1 dB steps, floor β − 6 dB)
    res = plan_retrieval(devs, tau=1.01, cell_load={0: 0.2, 1: 0.2}, n_rbs=10, bs_xy=SITES,
                         beta_db=30.0)
    cells = res.solver["cells"]
    assert any(c.get("adjustments") for c in cells.values())
    for c in cells.values():
        if c["path"] == "6g":
            assert c["beta_db"] < 30.0 and c["adjustments"]
        else:
            assert c["reason"] == "6G infeasible: fallback" and c["infeasibility_report"]
    # fewer idle RBs than devices (OMA): the reflexion cannot add RBs past the idle share
    few = plan_retrieval(devs, tau=1.01, cell_load={0: 0.9, 1: 0.2}, n_rbs=20, bs_xy=SITES)
    assert few.cells_zigbee == [0] and few.solver["cells"]["0"]["idle_rbs"] == 2
    assert "oma" in few.solver["cells"]["0"]["infeasibility_report"]["binding_constraints"]
    with pytest.raises(InputError):
        plan_retrieval(devs, tau=0.5, cell_load={0: 0.2}, bs_xy=SITES)


def test_predict_cell_load_is_bounded_and_causal():
    idx = pd.date_range("2013-11-04", periods=8 * 144, freq="10min", tz="Europe/Rome")
    t = np.arange(idx.size)
    gen = np.random.default_rng(0)
    series = {c: pd.Series(100 + 60 * np.sin(2 * np.pi * t / 144 + c)
                           + gen.normal(0, 5, t.size), index=idx) for c in (0, 3)}
    at = idx[7 * 144 + 60]
    pred = predict_cell_load(series, horizon=1, model="gbm", at=at)
    assert set(pred) == {0, 3} and all(0.0 <= v <= 1.0 for v in pred.values())
    future = {c: s.where(s.index < at, s * 50.0) for c, s in series.items()}
    assert predict_cell_load(future, horizon=1, model="gbm", at=at) == pred
    assert hex_cells(7, 500.0)[1] == pytest.approx((500 * math.cos(math.pi / 6), 250.0))


def test_fig6_benchmark_quick_writes_png_and_json(tmp_path, milan_dir):
    out, png = tmp_path / "fig6.json", tmp_path / "fig6.png"
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "links_fig6.py"), "--quick",
                        "--json", str(out), "--png", str(png)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]  # the script checks optimiser == brute force
    data = json.loads(out.read_text())
    assert png.stat().st_size > 1000 and "optimised" in p.stdout
    rows = data["rows"]
    assert rows[0]["cells_6g"] == [] and all(c["equal"] for c in data["brute_force_checks"])
    for r in rows:
        assert r["optimised_s"] <= r["random_rb_s"] * (1 + 1e-6)
        assert r["optimised_s"] <= r["retrieve_everything_s"] * (1 + 1e-6)
