"""TR 38.901 Table 7.4.1-1 path loss against values computed by hand from the table."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twinnet.errors import InputError
from twinnet.radio import pathloss as pl
from twinnet.radio.pathloss import pathloss_db, shadow_fading_std_db


def d3(d2d: float, dh: float) -> float:
    return math.hypot(d2d, dh)


# Expected values typed in from a hand calculation of the Table 7.4.1-1 formulas.
def test_breakpoint_distances():
    # d'BP = 4 (25-1)(1.5-1) 3.5e9 / 3e8 = 560 m
    assert pl.breakpoint_distance_m(25.0, 1.5, 3.5) == pytest.approx(560.0)
    # UMi at 28 GHz: 4 * 9 * 0.5 * 28e9/3e8 = 1680 m
    assert pl.breakpoint_distance_m(10.0, 1.5, 28.0) == pytest.approx(1680.0)
    # RMa: 2 pi 35 1.5 0.7e9 / 3e8 = 769.69 m
    assert pl.breakpoint_distance_rma_m(35.0, 1.5, 0.7) == pytest.approx(769.690, abs=1e-3)


def test_uma_los_below_and_above_breakpoint():
    assert pl.pathloss_uma_los_db(100.0, d3(100, 23.5), 3.5) == pytest.approx(83.138, abs=1e-3)
    assert pl.pathloss_uma_los_db(1000.0, d3(1000, 23.5), 3.5) == pytest.approx(109.412, abs=1e-3)


def test_uma_nlos_takes_the_larger_of_los_and_nlos_formula():
    # at 300 m: LOS formula 93.407 dB, NLOS' 121.279 dB
    assert pl.pathloss_uma_nlos_db(300.0, d3(300, 23.5), 3.5) == pytest.approx(121.279, abs=1e-3)


def test_umi_los_below_and_above_breakpoint():
    assert pl.pathloss_umi_los_db(50.0, d3(50, 8.5), 28.0) == pytest.approx(97.151, abs=1e-3)
    # 6 GHz: d'BP = 360 m, so 500 m is beyond it
    assert pl.pathloss_umi_los_db(500.0, d3(500, 8.5), 6.0) == pytest.approx(107.352, abs=1e-3)


def test_umi_nlos():
    assert pl.pathloss_umi_nlos_db(200.0, d3(200, 8.5), 6.0) == pytest.approx(120.215, abs=1e-3)


def test_rma_los_below_and_above_breakpoint_and_nlos():
    assert pl.pathloss_rma_los_db(500.0, d3(500, 33.5), 0.7) == pytest.approx(84.633, abs=1e-3)
    assert pl.pathloss_rma_los_db(2000.0, d3(2000, 33.5), 0.7) == pytest.approx(105.416,
                                                                                abs=1e-3)
    assert pl.pathloss_rma_nlos_db(1000.0, d3(1000, 33.5), 0.7) == pytest.approx(116.445,
                                                                                 abs=1e-3)


def test_inh_office():
    assert pl.pathloss_inh_los_db(20.0, 3.5) == pytest.approx(65.789, abs=1e-3)
    assert pl.pathloss_inh_nlos_db(20.0, 3.5) == pytest.approx(80.677, abs=1e-3)


def test_dispatch_and_aliases():
    got = pathloss_db("uma", [True, False], 300.0, d3(300, 23.5), 3.5, 25.0, 1.5)
    assert got == pytest.approx([93.407, 121.279], abs=1e-3)
    with pytest.raises(InputError, match="scenario"):
        pathloss_db("suburban", True, 10.0, 10.0, 3.5, 25.0, 1.5)


def test_shadow_fading_sigmas():
    assert shadow_fading_std_db("UMa", [True, False], [False, False]).tolist() == [4.0, 6.0]
    assert shadow_fading_std_db("UMi", False, True) == pytest.approx(7.0)
    assert shadow_fading_std_db("UMi", False, False) == pytest.approx(7.82)


SCEN = {
    "UMa": (25.0, pl.pathloss_uma_los_db, pl.pathloss_uma_nlos_db),
    "UMi": (10.0, pl.pathloss_umi_los_db, pl.pathloss_umi_nlos_db),
    "RMa": (35.0, pl.pathloss_rma_los_db, pl.pathloss_rma_nlos_db),
}


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(sorted(SCEN)),
    los=st.booleans(),
    d_a=st.floats(10.0, 5000.0),
    d_b=st.floats(10.0, 5000.0),
    fc=st.floats(0.5, 100.0),
    h_ut=st.floats(1.5, 22.5),
)
def test_pathloss_increases_with_distance(name, los, d_a, d_b, fc, h_ut):
    h_bs, f_los, f_nlos = SCEN[name]
    f = f_los if los else f_nlos
    lo, hi = sorted((d_a, d_b))
    p_lo = f(lo, d3(lo, h_bs - h_ut), fc, h_bs, h_ut)
    p_hi = f(hi, d3(hi, h_bs - h_ut), fc, h_bs, h_ut)
    assert p_hi >= p_lo - 1e-9


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(sorted(SCEN)),
    los=st.booleans(),
    d=st.floats(10.0, 5000.0),
    f_a=st.floats(0.5, 100.0),
    f_b=st.floats(0.5, 100.0),
)
def test_pathloss_increases_with_frequency(name, los, d, f_a, f_b):
    h_bs, f_los, f_nlos = SCEN[name]
    f = f_los if los else f_nlos
    lo, hi = sorted((f_a, f_b))
    # frequency also moves the breakpoint: compare at fixed geometry
    assert f(d, d3(d, h_bs - 1.5), hi, h_bs, 1.5) >= f(d, d3(d, h_bs - 1.5), lo, h_bs, 1.5) - 1e-9


@settings(max_examples=100, deadline=None)
@given(d=st.floats(1.0, 150.0), fc=st.floats(0.5, 100.0))
def test_nlos_never_below_los(d, fc):
    assert pl.pathloss_inh_nlos_db(d, fc) >= pl.pathloss_inh_los_db(d, fc)
    dd = max(d, 10.0)
    assert pl.pathloss_uma_nlos_db(dd, d3(dd, 23.5), fc) >= pl.pathloss_uma_los_db(
        dd, d3(dd, 23.5), fc)


def test_vectorised_shapes():
    d = np.linspace(10, 1000, 12).reshape(3, 4)
    out = pl.pathloss_umi_nlos_db(d, np.hypot(d, 8.5), 3.5)
    assert out.shape == (3, 4)
