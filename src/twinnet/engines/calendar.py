"""Calendars for traffic forecasting: public holidays and holiday seasons by day type.

Mobile traffic follows the week — workdays, Saturdays and Sundays each have their own profile —
until the calendar breaks it: a public holiday on a Wednesday looks like a Sunday, the weeks
around Christmas and New Year like a long weekend, and "the same time last week" is wrong on
those days and on the days a week after them. A :class:`Calendar` gives every date a *day type*:

* ``WORKDAY`` (0) — Monday to Friday;
* ``SATURDAY`` (1);
* ``HOLIDAY`` (2) — Sunday or a public holiday;
* ``SEASON`` (3) — a workday inside a holiday season (by default 24 December – 6 January).

:meth:`Calendar.italy` has Italy's national holidays (with Easter Monday from the Gregorian
computus) and a city's patron saint's day (Milan: Sant'Ambrogio, 7 December). Other countries
or cities: build a :class:`Calendar` with their holidays and seasons.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from twinnet.errors import InputError

__all__ = ["HOLIDAY", "SATURDAY", "SEASON", "WORKDAY", "Calendar", "easter_sunday"]

WORKDAY, SATURDAY, HOLIDAY, SEASON = 0, 1, 2, 3

#: Italy's national public holidays (month, day); Easter Monday is added per year
ITALY_FIXED: tuple[tuple[int, int], ...] = (
    (1, 1), (1, 6), (4, 25), (5, 1), (6, 2), (8, 15), (11, 1), (12, 8), (12, 25), (12, 26))


def easter_sunday(year: int) -> dt.date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = (h + l_ - 7 * m + 114) % 31 + 1
    return dt.date(year, month, day)


@dataclass(frozen=True)
class Calendar:
    """Day types of dates: fixed holidays (month, day) every year, one-off holiday dates, and
    holiday seasons as (month, day) → (month, day) spans, possibly across the new year."""

    fixed: tuple[tuple[int, int], ...] = ()
    dates: frozenset[dt.date] = field(default_factory=frozenset)
    easter_monday: bool = False
    seasons: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = ()
    name: str = "calendar"

    def __post_init__(self) -> None:
        for md in [*self.fixed, *(x for s in self.seasons for x in s)]:
            try:
                dt.date(2000, *md)  # a leap year: 29 February is a valid day
            except (TypeError, ValueError) as exc:
                raise InputError(f"{self.name}: holiday", md, "a valid (month, day)") from exc

    @classmethod
    def italy(cls, patron: tuple[int, int] | None = (12, 7),
              christmas: bool = True) -> Calendar:
        """Italy's national holidays, the patron saint's day of the city (default Milan's,
        7 December; ``None`` for none) and the Christmas season 24 December – 6 January."""
        fixed = ITALY_FIXED + ((patron,) if patron is not None else ())
        seasons = (((12, 24), (1, 6)),) if christmas else ()
        return cls(fixed=fixed, easter_monday=True, seasons=seasons, name="italy")

    def is_holiday(self, day: dt.date) -> bool:
        if (day.month, day.day) in self.fixed or day in self.dates:
            return True
        return self.easter_monday and day == easter_sunday(day.year) + dt.timedelta(days=1)

    def in_season(self, day: dt.date) -> bool:
        md = (day.month, day.day)
        return any((a <= md <= b) if a <= b else (md >= a or md <= b) for a, b in self.seasons)

    def day_type(self, day: dt.date) -> int:
        if day.weekday() == 6 or self.is_holiday(day):
            return HOLIDAY
        if day.weekday() == 5:
            return SATURDAY
        return SEASON if self.in_season(day) else WORKDAY

    def day_types(self, first: dt.date | pd.Timestamp | str, n_days: int) -> NDArray[np.int64]:
        """Day types of ``n_days`` consecutive dates from ``first``."""
        d0 = pd.Timestamp(first).date()
        return np.array([self.day_type(d0 + dt.timedelta(days=i)) for i in range(n_days)],
                        dtype=np.int64)

    def special(self, first: dt.date | pd.Timestamp | str, n_days: int,
                after: bool = False) -> NDArray[np.bool_]:
        """Days the calendar breaks the week on: a holiday or season day that a plain week
        would not make one (a public holiday on a weekday, a season workday), and with
        ``after`` also the days whose same weekday a week before was such a day."""
        d0 = pd.Timestamp(first).date()
        days = [d0 + dt.timedelta(days=i - 7) for i in range(n_days + 7)]
        plain = np.array([HOLIDAY if d.weekday() == 6 else SATURDAY if d.weekday() == 5
                          else WORKDAY for d in days])
        kinds = np.array([self.day_type(d) for d in days])
        odd = kinds != plain
        return np.asarray(odd[7:] | odd[:-7] if after else odd[7:], dtype=bool)

    def __repr__(self) -> str:
        return f"Calendar({self.name}, {len(self.fixed)} fixed holidays)"

