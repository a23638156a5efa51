"""Verification constraints: what a plan's predicted KPIs must satisfy before it is applied.

The twin checks them (:func:`twinnet.twin.verify.verify_plan`); the closed loop uses
``rollback_tolerance`` to undo a plan whose measured outcome is worse than predicted.

>>> Constraints(peak_prb_utilization=0.6).max_outage_increase
0.005
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Constraints"]


class Constraints(BaseModel):
    """Active constraints a plan's predicted KPIs must satisfy."""

    model_config = ConfigDict(extra="forbid")
    peak_prb_utilization: float = Field(0.5, gt=0.0, le=1.0)
    #: 5th-percentile user throughput may fall at most this fraction below the baseline's
    max_p5_throughput_drop: float = Field(0.05, ge=0.0, le=1.0)
    #: outage (users without service) may rise at most this much (fraction of users)
    max_outage_increase: float = Field(0.005, ge=0.0, le=1.0)
    #: tolerance on measured − predicted peak utilisation before a rollback
    rollback_tolerance: float = Field(0.1, ge=0.0, le=1.0)
