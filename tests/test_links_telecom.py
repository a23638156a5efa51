"""The cellular sensors of the LINKs city: the Telecom Italia series mapped onto every square."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from twinnet.datasets import milan
from twinnet.errors import InputError
from twinnet.links.registry import haversine_m
from twinnet.links.telecom import CELL_TYPES, TelecomSeries, cell_values

pytestmark = pytest.mark.shared_data

DAY = 86_400


@pytest.fixture(scope="module")
def telecom(milan_dir):
    return TelecomSeries(milan_dir)


def _epoch(ts: str, n: int, step: int = 600) -> np.ndarray:
    t0 = int(pd.Timestamp(ts, tz="Europe/Rome").timestamp())
    return np.arange(t0, t0 + n * step, step, dtype=np.int64)


def test_a_measured_square_returns_its_own_series(telecom, milan_dir):
    raw = milan.series(milan_dir, utc=True)
    t = _epoch("2013-11-04T00:00", 144)
    got = telecom.internet(4142, t)
    want = raw.loc[pd.to_datetime(t, unit="s", utc=True), "sq_4142"].to_numpy()
    np.testing.assert_array_equal(got, want)


def test_another_square_is_its_nearest_measured_square_scaled_by_the_totals(telecom, milan_dir):
    grid = milan.grid_centroids(milan_dir / milan.GRID_FILE).set_index("square_id")
    totals = milan.square_totals(milan_dir)
    measured = [int(c.removeprefix("sq_")) for c in milan.series(milan_dir).columns]
    square = 5226
    assert square not in measured
    d = {m: float(haversine_m(grid.lat_centroid[square], grid.lon_centroid[square],
                              grid.lat_centroid[m], grid.lon_centroid[m])) for m in measured}
    nearest = min(d, key=d.__getitem__)
    t = _epoch("2013-11-12T00:00", 144)
    ratio = telecom.internet(square, t) / telecom.internet(nearest, t)
    np.testing.assert_allclose(ratio, totals[square] / totals[nearest], rtol=1e-12)


def test_outside_november_the_series_repeats_every_four_weeks(telecom):
    t = _epoch("2013-11-10T00:00", 144)
    later = t + 28 * DAY  # 8 December: after the measured month
    np.testing.assert_array_equal(telecom.internet(4142, later), telecom.internet(4142, t))
    earlier = t - 3 * 28 * DAY  # August: before it
    np.testing.assert_array_equal(telecom.internet(4142, earlier), telecom.internet(4142, t))


def test_sms_and_calls_are_shares_of_the_internet_series_with_bounded_noise(telecom):
    t = _epoch("2013-11-04T00:00", 144)
    net = cell_values(telecom, "cell_internet_activity", "x", 4142, t)
    for typ in ("cell_sms_activity", "cell_call_activity"):
        share = CELL_TYPES[typ]
        got = cell_values(telecom, typ, f"{typ}-sq04142", 4142, t)
        v = got / (net * share)
        assert np.all((v >= 0.7) & (v <= 1.3)) and v.std() > 0.05
        # the noise is keyed by the sensor id: the same id gives the same series
        np.testing.assert_array_equal(cell_values(telecom, typ, f"{typ}-sq04142", 4142, t), got)
        assert not np.array_equal(cell_values(telecom, typ, f"{typ}-other", 4142, t), got)


def test_a_square_off_the_grid_is_an_input_error(telecom):
    with pytest.raises(InputError) as err:
        telecom.source(10_001)
    assert err.value.field == "grid_square_id" and err.value.value == 10_001
