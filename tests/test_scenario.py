"""Scenario files: loading, built-ins, and clear validation errors."""

from __future__ import annotations

import numpy as np
import pytest

from twinnet.errors import ScenarioError
from twinnet.network import build_network
from twinnet.scenario import Scenario, builtin_scenarios, load_scenario

GOOD = """
name = "t"
[layout]
type = "hex"
n_sites = 7
isd_m = 300
[[carriers]]
fc_ghz = 3.5
bandwidth_mhz = 40
scs_khz = 30
[users]
count = 50
"""


def test_builtin_hotspot_loads_and_builds():
    assert "hotspot" in builtin_scenarios()
    sc = load_scenario("hotspot")
    net = build_network(sc)
    # 7 macro sites × 3 sectors, then 4 candidate small cells (inactive)
    assert net.n_sites == 11 and net.n_cells == 25
    assert int(net.cell_active.sum()) == 21 and not net.cell_active[21:].any()
    assert build_network(sc, small_cells=False).n_cells == 21
    assert sc.carriers[0].n_prb == 51


def test_good_toml_and_derived_prbs():
    sc = Scenario.from_toml_text(GOOD)
    assert sc.carriers[0].n_prb == 106
    assert sc.propagation.scenario == "UMa"


@pytest.mark.parametrize(
    ("text", "path", "value"),
    [
        (GOOD.replace("bandwidth_mhz = 40", "bandwidth_mhz = 33"), "carriers.0", None),
        (GOOD.replace("n_sites = 7", "n_sites = 8"), "layout.n_sites", 8),
        (GOOD.replace("count = 50", "count = -3"), "users.count", -3),
        (GOOD.replace("isd_m = 300", "isd_m = 300\nisd = 2"), "layout.isd", 2),
        (GOOD + '[propagation]\nscenario = "suburbia"\n', "propagation.scenario", "suburbia"),
        (GOOD + "[demand]\ndiurnal = [1, 2]\n", "demand.diurnal", [1, 2]),
        (GOOD.replace("fc_ghz = 3.5", "fc_ghz = 300"), "carriers.0.fc_ghz", 300),
    ],
)
def test_validation_errors_name_field_and_value(text, path, value):
    with pytest.raises(ScenarioError) as info:
        Scenario.from_toml_text(text, source="bad.toml")
    problems = info.value.problems
    assert any(p[0] == path for p in problems), problems
    msg = str(info.value)
    assert "bad.toml" in msg and path in msg
    if value is not None:
        assert any(p[1] == value for p in problems)


def test_bandwidth_error_says_what_is_valid():
    with pytest.raises(ScenarioError, match=r"bandwidth_mhz = 33.*one of \[5, 10"):
        Scenario.from_toml_text(GOOD.replace("bandwidth_mhz = 40", "bandwidth_mhz = 33"))


def test_toml_syntax_error_and_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match="valid TOML"):
        Scenario.from_toml_text("name = ")
    with pytest.raises(ScenarioError, match="readable file"):
        Scenario.from_toml(tmp_path / "nope.toml")
    with pytest.raises(ScenarioError, match="one of"):
        load_scenario("no-such-builtin")


def test_csv_layout(tmp_path):
    (tmp_path / "sites.csv").write_text(
        "site,x_m,y_m,height_m,azimuth_deg,mechanical_tilt_deg,electrical_tilt_deg\n"
        "A,0,0,30,0,2,6\nA,0,0,30,120,2,6\nA,0,0,30,240,2,6\nB,600,0,25,180,0,8\n")
    (tmp_path / "s.toml").write_text('[layout]\ntype = "csv"\npath = "sites.csv"\n'
                                     "[users]\ncount = 20\n")
    net = build_network(load_scenario(tmp_path / "s.toml"))
    assert net.n_sites == 2 and net.n_cells == 4
    assert net.cell_mech_tilt_deg.tolist() == [2, 2, 2, 0]
    (tmp_path / "sites.csv").write_text("site,x_m,y_m,height_m,azimuth_deg\nA,0,zero,30,0\n")
    with pytest.raises(ScenarioError, match=r"x_m|y_m") as info:
        build_network(load_scenario(tmp_path / "s.toml"))
    assert "zero" in str(info.value)


def test_with_updates_revalidates():
    sc = load_scenario("hotspot")
    assert sc.with_updates(seed=9).seed == 9
    with pytest.raises(ScenarioError, match="seed"):
        sc.with_updates(seed=-1)


def test_small_cell_candidates_are_inactive_and_leave_the_macro_twin_unchanged():
    import numpy as np

    from twinnet.twin import DigitalTwin

    base = DigitalTwin.from_scenario("hotspot")
    sc = base.scenario.with_updates(small_cells=[
        {"name": "SC1", "x_m": 70.0, "y_m": 40.0, "bearing_deg": 210.0},
        {"name": "SC2", "x_m": -50.0, "y_m": 10.0, "active": True, "tx_power_dbm": 33.0}])
    twin = DigitalTwin(sc)
    net = twin.network
    assert net.n_sites == 9 and net.n_cells == 23
    assert net.cell_names[-2:] == ["SC1/1", "SC2/1"]
    assert list(net.cell_active[-2:]) == [False, True]
    assert net.site_height_m[-1] == 10.0 and net.cell_tx_power_dbm[-1] == 33.0
    # same users, same macro links: candidates add columns, they change nothing else
    assert np.array_equal(twin.users.x_m, base.users.x_m)
    g0, _ = base.link_gains()
    g1, _ = twin.link_gains()
    assert np.array_equal(g0[:, :21], g1[:, :21])
    # an inactive candidate serves nobody: KPIs equal the macro-only twin's
    twin.network.cell_active[-1] = False
    k0, k1 = base.evaluate().kpis, twin.evaluate().kpis
    assert k1["peak_prb_utilization"] == pytest.approx(k0["peak_prb_utilization"])


def test_small_cell_validation_names_the_field():
    from twinnet.scenario import load_scenario

    sc = load_scenario("hotspot")
    with pytest.raises(ScenarioError, match=r"small_cells\.0\.height_m"):
        sc.with_updates(small_cells=[{"name": "A", "x_m": 0, "y_m": 0, "height_m": 500}])
    with pytest.raises(ScenarioError, match="carrier 'n1'"):
        sc.with_updates(small_cells=[{"name": "A", "x_m": 0, "y_m": 0, "carrier": "n1"}])


def test_indoor_office_has_no_o2i_users():
    """TR 38.901 InH-Office: users share the building with the base stations — no O2I loss,
    h_UT = 1 m — while outdoor scenarios keep their indoor share."""
    from twinnet.twin import DigitalTwin

    inh = Scenario.from_dict({
        "propagation": {"scenario": "InH-Office-Mixed"},
        "layout": {"type": "hex", "n_sites": 1, "isd_m": 20.0, "bs_height_m": 3.0},
        "carriers": [{"fc_ghz": 3.5, "bandwidth_mhz": 20, "scs_khz": 30}],
        "users": {"count": 300}})
    assert inh.users.indoor_fraction == 0.0 and inh.users.outdoor_height_m == 1.0
    twin = DigitalTwin(inh)
    assert not twin.users.indoor.any() and not twin.users.d2d_in_m.any()
    np.testing.assert_array_equal(twin.users.height_m, 1.0)
    assert inh.with_updates(seed=2).users.indoor_fraction == 0.0  # stays resolved
    with pytest.raises(ScenarioError, match=r"users\.indoor_fraction = 0\.5: 0 in an InH"):
        Scenario.from_dict({"propagation": {"scenario": "InH-Office-Open"},
                            "users": {"indoor_fraction": 0.5}})
    assert Scenario.from_dict({"users": {"count": 10}}).users.indoor_fraction == 0.8
