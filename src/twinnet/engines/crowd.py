"""L2 crowd forecast: the event calendar's ramps, corrected by the arrivals the network counts.

An operator knows a match or a concert in advance — where, roughly how many, when the gates
open — but not how many will come nor exactly when. :class:`CrowdForecast` starts from the
calendar (:class:`~twinnet.scenario.CalendarEvent`: expected users, ramp in, hold, ramp out)
and learns two numbers from what the cells count once people arrive: a **scale** (how many
came against how many were expected) and a **shift** (how much earlier or later they came).

The measurement is the users the network holds above its usual count (the sum of the cells'
connected users, minus the level before any calendar event started): each reporting interval
gives one ``(t, excess)`` pair. For every shift on a grid (``shifts_s``) the scale is the
ridge-regularised least-squares fit of the excess on the calendar's shape,

    k(δ) = (Σ_i x_i(δ) y_i + λ) / (Σ_i x_i(δ)² + λ),   x_i(δ) = Σ_e N_e f_e(t_i + δ),

with ``λ = prior_weight · (0.1 · max_e N_e)²`` (the calendar counts like one reading taken
at a tenth of the expected crowd: a few minutes of arrivals move it, one noisy reading does
not); the shift with the least squared error (plus the prior's) is kept, the smallest shift on a
tie. Before any arrival the forecast is the calendar itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from twinnet.errors import InputError
from twinnet.scenario import CalendarEvent

__all__ = ["CrowdForecast", "CrowdOutlook"]


@dataclass(frozen=True)
class CrowdOutlook:
    """What the forecast says for one calendar event at one time."""

    event: str
    t_s: float
    users: float
    expected_users: int
    scale: float
    shift_s: float

    def describe(self) -> str:
        return (f"{self.event}: {self.users:,.0f} users forecast (calendar "
                f"{self.expected_users:,}; arrivals so far x{self.scale:.2f}, "
                f"{-self.shift_s / 60.0:+.0f} min against the calendar)")


class CrowdForecast:
    """The calendar's crowds, scaled and shifted by the arrivals measured (module docstring)."""

    def __init__(self, calendar: Sequence[CalendarEvent], prior_weight: float = 1.0,
                 shifts_s: Sequence[float] = tuple(range(-2700, 2701, 300))):
        if not calendar:
            raise InputError("calendar", [], "at least one calendar event to forecast")
        if not prior_weight >= 0:
            raise InputError("prior_weight", prior_weight, "≥ 0")
        self.calendar = list(calendar)
        self.prior_weight = float(prior_weight)
        self.shifts_s = np.asarray(sorted(shifts_s, key=abs), dtype=float)
        self.t_s: list[float] = []
        self.excess: list[float] = []
        self.scale_ = 1.0
        self.shift_s_ = 0.0

    def expected(self, t_s: float, shift_s: float = 0.0) -> NDArray[np.float64]:
        """Users each calendar event holds at ``t_s`` by the calendar (shifted)."""
        return np.array([e.expected_users * e.present_fraction(t_s + shift_s)
                         for e in self.calendar])

    def observe(self, t_s: float, excess_users: float) -> None:
        """One reading: the network held ``excess_users`` above its usual count at ``t_s``
        (the middle of a reporting interval). Readings before any event started teach
        nothing and are kept only as zeros where the calendar says nobody is there."""
        if not np.isfinite(excess_users):
            raise InputError("excess_users", excess_users, "a finite count")
        self.t_s.append(float(t_s))
        self.excess.append(max(float(excess_users), 0.0))
        self._fit()

    def _fit(self) -> None:
        y = np.asarray(self.excess)
        lam = self.prior_weight * (0.1 * max(e.expected_users for e in self.calendar)) ** 2
        best = (np.inf, 1.0, 0.0)
        for d in self.shifts_s:
            x = np.array([self.expected(t, d).sum() for t in self.t_s])
            k = float((x @ y + lam) / (x @ x + lam))
            sse = float(((y - k * x) ** 2).sum() + lam * (k - 1.0) ** 2)
            if sse < best[0] - 1e-9:
                best = (sse, k, float(d))
        self.scale_, self.shift_s_ = max(best[1], 0.0), best[2]

    def predict(self, t_s: float) -> list[CrowdOutlook]:
        """Each calendar event's users at ``t_s``."""
        n = self.expected(t_s, self.shift_s_) * self.scale_
        return [CrowdOutlook(e.name, t_s, float(v), e.expected_users, self.scale_,
                             self.shift_s_) for e, v in zip(self.calendar, n, strict=True)]

