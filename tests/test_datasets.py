"""One loader per real data set (``../shared/data``), checked against the files' documented
facts (row counts, ids, time stamps, the bad cells of ML-MATT)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from twinnet.datasets import data_file, huawei, milan, mlmatt, shared_data_dir, sutd
from twinnet.errors import DataNotFoundError, InputError

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module", autouse=True)
def _data_present(milan_dir):
    """Every loader reads ``../shared/data`` (skipped with the reason in a bare copy)."""


def test_milan_series_local_and_utc_index():
    s = milan.series()
    # 30 days of 10-minute samples of the 5×5 block of squares 4142…4546
    assert s.shape == (30 * 144, 25)
    assert list(s.columns[:2]) == ["sq_4142", "sq_4143"] and s.columns[-1] == "sq_4546"
    assert s.index[0] == milan.SERIES_T0 and s.index.tz is None
    assert (s.index[1] - s.index[0]) == pd.Timedelta(minutes=10)
    u = milan.series(utc=True)
    # CET is UTC+1 in November: the same instants, an hour earlier on the UTC clock
    assert u.index[0] == pd.Timestamp("2013-10-31 23:00", tz="UTC")
    np.testing.assert_array_equal(u.to_numpy(), s.to_numpy())


def test_milan_hourly_profile_is_the_mean_day_of_the_series():
    prof = np.asarray(milan.hourly_profile())
    s = milan.series()
    by_hour = s.sum(axis=1).groupby(s.index.hour).mean().to_numpy()
    np.testing.assert_allclose(prof, by_hour / by_hour.max(), rtol=1e-12)
    assert prof.max() == 1.0 and int(np.argmin(prof)) in (3, 4, 5)  # night trough


def test_milan_totals_and_grid_cover_the_10000_squares():
    tot = milan.square_totals()
    grid = milan.grid_centroids()
    assert len(tot) == len(grid) == 10_000
    assert tot.index.min() == 1 and tot.index.max() == 10_000
    # id = 1 + col + 100·row with id 1 at the south-west corner
    g = grid.set_index("square_id")
    np.testing.assert_array_equal(g.index - 1,
                                  g.col_from_west_0based + 100 * g.row_from_south_0based)
    assert g.loc[1].lat_centroid < g.loc[9901].lat_centroid  # north of it, same column
    assert g.loc[1].lon_centroid < g.loc[100].lon_centroid   # east of it, same row


def test_huawei_cluster_and_split_by_cell():
    df = huawei.load_cluster()
    assert len(df) == 153_759 and df["Cell Index"].nunique() == 48
    clean, dropped = huawei.validate_measurements(df)
    assert dropped == len(df) - len(clean) and list(clean.columns) == list(huawei.HUAWEI_COLUMNS)
    tr, te = huawei.split_by_cell(df, 0.25, seed=0)
    assert te["Cell Index"].nunique() == 12 and tr["Cell Index"].nunique() == 36
    assert not set(tr["Cell Index"]) & set(te["Cell Index"])
    assert len(tr) + len(te) == len(df)
    with pytest.raises(InputError, match="Azimuth"):
        huawei.validate_measurements(df.drop(columns=["Azimuth"]))


def test_mlmatt_keeps_bad_cells_as_text_and_maps_to_the_store():
    df = mlmatt.load("train")
    assert len(df) == 36_904 and df["CellName"].nunique() == 33
    # the 89 rows whose Excel error cells (``#¡VALOR!``) reach this copy blank, kept as text
    blank = df == ""
    assert blank.any(axis=1).sum() == 89
    assert set(blank.columns[blank.any()]) == {"maxUE_DL", "maxUE_UL", "maxUE_UL+DL"}
    assert set(mlmatt.STORE_COLUMNS) == set(df.columns)
    assert mlmatt.STORE_COLUMNS["PRBUsageDL"] == ("prb_util_dl", 0.01)
    with pytest.raises(InputError, match="split"):
        mlmatt.load("validation")


def test_sutd_walk_test_scenarios():
    sizes = {k: len(sutd.load(k)) for k in sutd.SCENARIOS}
    assert sizes == {"lvl4": 2327, "lvl5": 2031, "lvl6": 2222, "lvl6_1rru": 2156}
    d = sutd.load("lvl5")
    assert d.Time.is_monotonic_increasing and (d.scenario == "lvl5").all()
    assert set(sutd.LABELS) <= set(d.columns)
    assert d.RSRP.between(-156, -31).all()  # TS 38.133 reporting range
    with pytest.raises(InputError, match="scenario"):
        sutd.load("lvl7")


def test_missing_files_are_named(tmp_path, monkeypatch):
    with pytest.raises(DataNotFoundError, match="milan_internet_10min"):
        milan.series(tmp_path)
    with pytest.raises(DataNotFoundError, match=r"nothing\.csv"):
        data_file("milan", "nothing.csv", tmp_path)
    monkeypatch.setenv("TWINNET_DATA", str(tmp_path))
    (tmp_path / "milan").mkdir()
    assert shared_data_dir("milan") == tmp_path / "milan"
