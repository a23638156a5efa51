"""L2 demand: diurnal profiles and the Milan demand raster (real data from ../shared/data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from twinnet.datasets.milan import hourly_profile as milan_hourly_profile
from twinnet.network.raster import load_raster, sample_raster
from twinnet.scenario import Demand, Raster, load_scenario
from twinnet.traffic.demand import TYPICAL_URBAN_PROFILE, diurnal_profile
from twinnet.twin import DigitalTwin


def test_builtin_profiles():
    assert diurnal_profile(Demand(diurnal="flat")).tolist() == [1.0] * 24
    p = diurnal_profile(Demand(diurnal="typical"))
    assert p.max() == 1.0 and int(np.argmin(p)) == int(np.argmin(TYPICAL_URBAN_PROFILE))
    own = diurnal_profile(Demand(diurnal=[2.0] * 12 + [4.0] * 12))
    assert own[0] == 0.5 and own[-1] == 1.0


def test_milan_profile_from_real_series(milan_dir):
    prof = np.array(milan_hourly_profile(str(milan_dir)))
    assert prof.shape == (24,) and prof.max() == pytest.approx(1.0)
    # the measured Milan day: deep night trough, daytime plateau
    assert int(np.argmin(prof)) in range(2, 7)
    assert prof[2:6].mean() < 0.5 * prof[10:20].mean()
    # recompute one hour by hand from the CSV
    df = pd.read_csv(milan_dir / "milan_internet_10min_25cells_2013-11-01_to_2013-11-30.csv")
    total = df.iloc[:, 1:].sum(axis=1).to_numpy()
    h12 = total[(np.arange(total.size) // 6) % 24 == 12].mean()
    hourly = [total[(np.arange(total.size) // 6) % 24 == h].mean() for h in range(24)]
    assert prof[12] == pytest.approx(h12 / max(hourly))


def test_milan_raster_window_and_sampling(milan_dir):
    r = load_raster(Raster(source="milan", center_square=5060, size=10))
    assert r.weight.size == 100
    assert np.ptp(r.x_m) == pytest.approx(9 * 235.0) and np.ptp(r.y_m) == pytest.approx(9 * 235.0)
    pts = sample_raster(r, 200_000, np.random.default_rng(0))
    # users land in each square in proportion to its measured traffic
    ix = np.round((pts[:, 0] - r.x_m.min()) / 235.0).astype(int)
    iy = np.round((pts[:, 1] - r.y_m.min()) / 235.0).astype(int)
    counts = np.zeros((10, 10))
    np.add.at(counts, (iy, ix), 1)
    expect = np.zeros((10, 10))
    expect[np.round((r.y_m - r.y_m.min()) / 235).astype(int),
           np.round((r.x_m - r.x_m.min()) / 235).astype(int)] = r.weight / r.weight.sum()
    assert np.corrcoef(counts.ravel(), expect.ravel())[0, 1] > 0.99


def test_milan_scenario_runs_on_real_demand(milan_dir):
    tw = DigitalTwin.from_scenario("milan")
    ev = tw.evaluate(hour=4)
    ev_peak = tw.evaluate(hour=int(np.argmax(milan_hourly_profile())))
    assert ev.kpis["total_demand_mbps"] < ev_peak.kpis["total_demand_mbps"]
    assert ev_peak.kpis["mean_prb_utilization"] > ev.kpis["mean_prb_utilization"]


def test_csv_raster(tmp_path):
    (tmp_path / "r.csv").write_text("x_m,y_m,weight\n0,0,1\n100,0,0\n0,100,3\n")
    (tmp_path / "s.toml").write_text(
        '[layout]\ntype = "hex"\nn_sites = 1\nisd_m = 500\n[users]\ncount = 400\n'
        'distribution = "raster"\n[users.raster]\nsource = "csv"\npath = "r.csv"\n'
        "cell_size_m = 100\n")
    tw = DigitalTwin(load_scenario(tmp_path / "s.toml"))
    assert tw.users.n == 400
    assert np.all(tw.users.x_m < 60.0)  # the weight-0 square at x = 100 m gets nobody
