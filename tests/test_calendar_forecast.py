"""Holiday calendars in L2 forecasting: day types, the calendar naive and the default's use.

Dates are checked by hand against the Italian calendar; the forecasters on a synthetic series
whose public holidays look like Sundays and whose Christmas-season workdays lie between a
workday and a Saturday (the effect the calendar exists for, with a known answer).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from twinnet.engines.calendar import HOLIDAY, SATURDAY, SEASON, WORKDAY, Calendar, easter_sunday
from twinnet.engines.forecast import evaluate_frame, forecast_series
from twinnet.engines.forecasters import CalendarNaive, HorizonSelected
from twinnet.errors import InputError

P = 48  # 30-minute steps keep the tests fast


def test_easter_and_italian_day_types():
    assert [easter_sunday(y) for y in (2013, 2014, 2019, 2024, 2025)] == [
        dt.date(2013, 3, 31), dt.date(2014, 4, 20), dt.date(2019, 4, 21), dt.date(2024, 3, 31),
        dt.date(2025, 4, 20)]
    cal = Calendar.italy()
    kinds = {d: cal.day_type(dt.date.fromisoformat(d)) for d in (
        "2013-11-04", "2013-11-01", "2013-12-07", "2013-12-21", "2013-12-22", "2013-12-24",
        "2013-12-25", "2013-12-28", "2014-01-02", "2014-01-07", "2014-04-21", "2014-06-02")}
    assert kinds == {"2013-11-04": WORKDAY, "2013-11-01": HOLIDAY,  # All Saints, a Friday
                     "2013-12-07": HOLIDAY,  # Sant'Ambrogio, Milan's patron, a Saturday
                     "2013-12-21": SATURDAY, "2013-12-22": HOLIDAY, "2013-12-24": SEASON,
                     "2013-12-25": HOLIDAY, "2013-12-28": SATURDAY, "2014-01-02": SEASON,
                     "2014-01-07": WORKDAY, "2014-04-21": HOLIDAY,  # Easter Monday
                     "2014-06-02": HOLIDAY}
    # another city: no patron day
    assert Calendar.italy(patron=None).day_type(dt.date(2013, 12, 7)) == SATURDAY
    special = cal.special("2013-12-16", 14)
    days = pd.date_range("2013-12-16", periods=14)
    assert [d.day for d, s in zip(days, special, strict=True) if s] == [24, 25, 26, 27]
    after = cal.special("2013-11-01", 10, after=True)
    assert after[0] and after[7] and not after[1:7].any()  # 1 Nov and the Friday after
    with pytest.raises(InputError, match="holiday"):
        Calendar(fixed=((2, 30),))


def test_calendar_naive_takes_the_last_day_of_the_same_type():
    cal = Calendar.italy()
    start = pd.Timestamp("2013-12-02")  # a Monday
    n = 45
    types = np.array([cal.day_type((start + pd.Timedelta(days=i)).date()) for i in range(n)])
    m = CalendarNaive(P)
    days = pd.date_range(start, periods=n)
    picks = {}
    for d in (9, 22, 23, 24, 28, 38):
        t, o = np.array([[d * P + P // 2]]), np.array([[d * P]])
        r = int(m.reference(t, o, types, 0)[0, 0])
        assert r % P == P // 2  # the same time of day
        picks[str(days[d].date())] = str(days[r // P].date())
    assert picks == {
        "2013-12-11": "2013-12-04",  # a workday: the same weekday a week before
        "2013-12-24": "2013-12-21",  # the first season workday: the last Saturday
        "2013-12-25": "2013-12-22",  # Christmas: the last Sunday
        "2013-12-26": "2013-12-25",  # Santo Stefano: Christmas
        "2013-12-30": "2013-12-27",  # a season workday: the last season workday
        "2014-01-09": "2013-12-19",  # the Thursdays before were a season day and a holiday
    }


def _series(weeks: int = 8, seed: int = 0) -> pd.DataFrame:
    cal = Calendar.italy()
    rng = np.random.default_rng(seed)
    tod = np.arange(P) / P
    work = 1 + 0.8 * np.sin(np.pi * tod) ** 2 + 0.5 * np.exp(-((tod - 0.75) / 0.05) ** 2)
    sat = 0.8 + 0.4 * np.sin(np.pi * tod) ** 2
    sun = 0.6 + 0.3 * np.sin(np.pi * tod) ** 2
    prof = {WORKDAY: work, SATURDAY: sat, HOLIDAY: sun, SEASON: 0.5 * (work + sat)}
    days = pd.date_range("2013-11-11", periods=7 * weeks)
    y = np.concatenate([prof[cal.day_type(d.date())] * (1 + 0.03 * rng.standard_normal(P))
                        for d in days])
    return pd.DataFrame({"time": pd.date_range(days[0], periods=y.size, freq="30min"), "s": y})


def test_the_default_forecasts_holidays_from_the_calendar():
    df = _series()
    members = ["seasonal_naive", "seasonal_naive_weekly", "persistence"]

    class NoCalendar(HorizonSelected):
        name = "no_calendar"

    models = [HorizonSelected(P, members=members), NoCalendar(P, members=members,
                                                               calendar="none")]
    hol = evaluate_frame(df, "time", "2013-12-24", "2013-12-26 23:30", horizons="6,12",
                         models=models, origin_stride=4)["models"]
    # Christmas Eve … Santo Stefano: the week and the day before were ordinary days
    assert hol["selected"]["12"] < 0.6 * hol["no_calendar"]["12"]
    assert hol["selected"]["6"] < 0.6 * hol["no_calendar"]["6"]
    # ordinary days: the same forecasts
    norm = evaluate_frame(df, "time", "2013-12-10", "2013-12-11 23:30", horizons="6,12",
                          models=models, origin_stride=4)["models"]
    assert norm["selected"] == norm["no_calendar"]


def test_without_a_start_time_there_is_no_calendar():
    df = _series(weeks=7)
    y = df["s"].to_numpy()
    phase0 = 0  # 2013-11-11 is a Monday
    a = HorizonSelected(P, members=["seasonal_naive_weekly"]).fit(y[: 44 * P], phase0=phase0)
    b = HorizonSelected(P, members=["seasonal_naive_weekly"], calendar="none").fit(
        y[: 44 * P], phase0=phase0)
    o = np.arange(44 * P, 45 * P, 4)  # 25 December, from arrays alone
    assert np.array_equal(a.forecast_at(y, o, [12]), b.forecast_at(y, o, [12]))
    # a time-indexed series carries its start: the calendar applies
    s = df.set_index("time")["s"]
    c = HorizonSelected(P, members=["seasonal_naive_weekly"]).fit(s.iloc[: 44 * P])
    assert not np.array_equal(c.forecast_at(y, o, [12]), b.forecast_at(y, o, [12]))
    f = forecast_series(s.iloc[: 44 * P], 12, HorizonSelected(P, members=["persistence"]))
    assert isinstance(f, pd.Series) and f.index[0] == pd.Timestamp("2013-12-25")


def test_calendar_naive_reads_only_the_past():
    df = _series(weeks=7)
    y = df["s"].to_numpy()
    m = CalendarNaive(P).fit(y[: 40 * P], start=pd.Timestamp("2013-11-11"))
    o = np.arange(40 * P, 46 * P, 7)
    ref = m.forecast_at(y, o, [1, 6, 24])
    for k, oo in enumerate(o[:: 5]):
        bad = y.copy()
        bad[oo:] = 1e6
        got = m.forecast_at(bad[: o.max()], [oo], [1, 6, 24])
        assert np.allclose(got[0], ref[5 * k])
    with pytest.raises(InputError, match="calendar"):
        CalendarNaive(P, calendar="narnia").fit(y[: 10 * P])
