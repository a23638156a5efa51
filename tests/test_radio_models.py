"""LOS probability, O2I, antenna, noise, SINR, link abstraction and NR numerology."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twinnet.errors import InputError
from twinnet.radio import antenna, link, los, noise, nr, o2i, sinr


def test_los_probability_hand_values():
    assert los.los_probability_uma(100.0) == pytest.approx(0.347671, abs=1e-6)
    assert los.los_probability_uma(100.0, 19.5) == pytest.approx(0.464599, abs=1e-6)
    assert los.los_probability_umi(100.0) == pytest.approx(0.230985, abs=1e-6)
    assert los.los_probability_rma(510.0) == pytest.approx(math.exp(-0.5))
    assert los.los_probability_uma([5.0, 18.0]).tolist() == [1.0, 1.0]
    assert los.los_probability_inh_mixed(1.0) == 1.0
    assert los.los_probability_inh_mixed(6.5) == pytest.approx(0.32)
    assert los.los_probability_inh_open(49.0) == pytest.approx(math.exp(-44 / 70.8))
    # one point inside each InH branch, by hand from Table 7.4.2-1
    assert los.los_probability("InH-Office-Mixed", 3.2) == pytest.approx(0.653422, abs=1e-6)
    assert los.los_probability("InH-Office-Mixed", 20.0) == pytest.approx(0.211497, abs=1e-6)
    assert los.los_probability("InH-Office-Open", 30.0) == pytest.approx(0.702502, abs=1e-6)
    assert los.los_probability("InH-Office-Open", 100.0) == pytest.approx(0.424394, abs=1e-6)


@settings(max_examples=100, deadline=None)
@given(a=st.floats(0.0, 5000.0), b=st.floats(0.0, 5000.0),
       name=st.sampled_from(["UMa", "UMi", "RMa", "InH-Office-Mixed", "InH-Office-Open"]))
def test_los_probability_decreases_and_is_a_probability(a, b, name):
    lo, hi = sorted((a, b))
    p_lo, p_hi = los.los_probability(name, lo), los.los_probability(name, hi)
    assert 0.0 <= p_hi <= p_lo + 1e-12 <= 1.0 + 1e-12


def test_o2i_losses():
    # hand: low loss at 6 GHz 13.402 dB, high loss 30.693 dB (+ 0.5 dB/m indoors)
    assert o2i.o2i_loss_db(6.0, False, 0.0) == pytest.approx(13.402, abs=1e-3)
    assert o2i.o2i_loss_db(6.0, True, 10.0) == pytest.approx(30.693 + 5.0, abs=1e-3)
    assert o2i.o2i_std_db([False, True]).tolist() == [4.4, 6.5]
    assert o2i.material_loss_db("concrete", 2.0) == pytest.approx(13.0)
    with pytest.raises(InputError, match="material"):
        o2i.material_loss_db("steel", 2.0)


def test_indoor_geometry_draws():
    rng = np.random.default_rng(1)
    h = o2i.indoor_ue_height_m(rng, 20000, 4, 8)
    floors = (h - 1.5) / 3.0 + 1
    assert np.allclose(floors, np.round(floors))
    assert floors.min() == 1 and floors.max() == 8
    d = o2i.indoor_distance_m(rng, 20000, "UMa")
    assert d.min() >= 0 and d.max() <= 25
    # E[min(U1, U2)] = 25/3
    assert d.mean() == pytest.approx(25 / 3, rel=0.03)


def test_element_pattern_table_7_3_1():
    # boresight: 8 dBi; 3 dB down at half the 65° beamwidth in either plane; floor at -30 dB
    assert antenna.element_pattern_db(90.0, 0.0) == pytest.approx(8.0)
    assert antenna.element_pattern_db(90.0, 32.5) == pytest.approx(5.0)
    assert antenna.element_pattern_db(122.5, 0.0) == pytest.approx(5.0)
    assert antenna.element_pattern_db(90.0, 180.0) == pytest.approx(8.0 - 30.0)
    assert antenna.element_pattern_db(180.0, 180.0) == pytest.approx(8.0 - 30.0)


def test_array_factor_peak_and_steering():
    assert antenna.array_factor_db(102.0, 10, 0.5, 12.0) == pytest.approx(10.0)
    assert antenna.array_factor_db(90.0, 1, 0.5, 0.0) == pytest.approx(0.0)
    th = np.linspace(0.0, 180.0, 3601)
    af = antenna.array_factor_db(th, 10, 0.5, 12.0)
    assert th[np.argmax(af)] == pytest.approx(102.0, abs=0.05)
    assert af.max() <= 10.0 + 1e-9


def test_local_angles_mechanical_tilt():
    # a ray 10° below the horizon along the bearing is on boresight of a 10° down-tilted panel
    th_l, ph_l = antenna.local_angles_deg(100.0, 45.0, 45.0, 10.0)
    assert th_l == pytest.approx(90.0)
    assert ph_l == pytest.approx(0.0, abs=1e-9)
    g = antenna.antenna_gain_dbi(100.0, 45.0, 45.0, mechanical_downtilt_deg=10.0)
    assert g == pytest.approx(8.0 + 10.0)


def test_thermal_noise_and_rsrp():
    assert noise.thermal_noise_dbm(20e6, 9.0) == pytest.approx(-174 + 73.0103 + 9, abs=1e-3)
    # 46 dBm over 51 PRBs: -174... RSRP = 46 - 10log10(612) - 100
    assert sinr.rsrp_dbm(46.0, 51, 100.0) == pytest.approx(46 - 27.868 - 100, abs=1e-3)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), act=st.floats(0.0, 1.0))
def test_sinr_never_exceeds_snr(seed, act):
    rng = np.random.default_rng(seed)
    rx = rng.uniform(-120, -60, (30, 7))
    srv = sinr.serving_cell(rx)
    noise = -100.0
    s = sinr.dl_sinr_db(rx, srv, noise, activity=np.full(7, act))
    snr = rx[np.arange(30), srv] - noise
    assert np.all(s <= snr + 1e-9)
    ul = sinr.ul_sinr_db(-rx + 40, srv, np.full(7, act))
    assert np.all(np.isfinite(ul))


def test_cqi_tables_match_38214_definition():
    for table in (link.CQI_TABLE_1, link.CQI_TABLE_2):
        for qm, rate, eff in table:
            assert qm * rate / 1024 == pytest.approx(eff, abs=6e-5)
    assert link.cqi_from_sinr([-20.0, 40.0], "cqi2").tolist() == [0, 15]
    se = link.spectral_efficiency(np.linspace(-20, 40, 500), "cqi1")
    assert np.all(np.diff(se) >= 0) and se.max() == pytest.approx(5.5547)


def test_shannon_link_abstraction():
    assert link.spectral_efficiency_shannon(-11.0) == 0.0
    assert link.spectral_efficiency_shannon(10.0) == pytest.approx(0.6 * math.log2(11.0))
    assert link.spectral_efficiency_shannon(60.0) == pytest.approx(7.4063)
    la = link.LinkAbstraction("shannon")
    x = np.linspace(-9.0, 35.0, 101)
    assert np.allclose(la(x), link.spectral_efficiency_shannon(x), atol=2e-3)
    with pytest.raises(InputError, match=r"link\.model"):
        link.spectral_efficiency(1.0, "turbo")


def test_nr_prb_table():
    assert nr.n_prb(20, 30) == 51
    assert nr.n_prb(100, 30) == 273
    assert nr.n_prb(20, 15) == 106
    assert nr.n_prb(400, 120) == 264
    with pytest.raises(InputError, match="bandwidth_mhz = 33"):
        nr.n_prb(33, 30)
    with pytest.raises(InputError, match="scs_khz"):
        nr.n_prb(20, 45)
