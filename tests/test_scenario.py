"""Scenario files: loading, built-ins, and clear validation errors."""

from __future__ import annotations

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
    assert net.n_sites == 7 and net.n_cells == 21
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
