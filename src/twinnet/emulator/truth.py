"""The emulated network's ground truth: what it hides from the twin.

* :class:`GroundTruth` — the hidden departures of the "real" network from its planning records:
  tilt and EIRP errors per cell, loss areas, where its demand comes from, measurement noise;
* :class:`LossArea` / :class:`AreaLoss` — discs (buildings, foliage) where every link of a user
  inside suffers an extra loss, applied as the twin's
  :class:`~twinnet.twin.twin.LinkAdjustment`.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AreaLoss", "GroundTruth", "LossArea"]


class LossArea(BaseModel):
    """A disc where every link of a user inside suffers ``loss_db`` more (e.g. a building
    block or a park)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    x_m: float
    y_m: float
    radius_m: float = Field(gt=0.0, le=5000.0)
    loss_db: float = Field(ge=0.0, le=60.0)
    kind: str = "building"


class GroundTruth(BaseModel):
    """What the emulated network hides from the twin."""

    model_config = ConfigDict(extra="forbid")
    seed: int = 1
    tilt_error_std_deg: float = Field(2.0, ge=0.0, le=10.0)
    #: feeder / antenna gain error per cell [dB] (true EIRP − recorded)
    gain_error_std_db: float = Field(2.0, ge=0.0, le=10.0)
    areas: list[LossArea] | None = None
    n_areas: int = Field(10, ge=0, le=100)
    area_radius_m: tuple[float, float] = (80.0, 200.0)
    area_loss_db: tuple[float, float] = (6.0, 20.0)
    #: "milan": the real 10-minute series; "profile": the scenario's diurnal profile at the
    #: clock's hour; "peak": the scenario's configured (busy-hour) demand, constant
    demand: str = Field("milan", pattern="^(milan|profile|peak)$")
    measurement_noise_db: float = Field(1.0, ge=0.0, le=10.0)
    kpi_noise: float = Field(0.005, ge=0.0, le=0.2)


class AreaLoss:
    """A :class:`~twinnet.twin.twin.LinkAdjustment`: extra loss on all links of users inside
    loss areas (hidden ground truth of the emulator)."""

    def __init__(self, areas: list[LossArea]):
        self.areas = list(areas)
        self.token = "areas:" + uuid.uuid4().hex

    def user_loss_db(self, x_m: NDArray[np.float64], y_m: NDArray[np.float64]
                     ) -> NDArray[np.float64]:
        loss = np.zeros(np.shape(x_m))
        for a in self.areas:
            inside = (x_m - a.x_m) ** 2 + (y_m - a.y_m) ** 2 <= a.radius_m ** 2
            loss = np.maximum(loss, np.where(inside, a.loss_db, 0.0))
        return loss

    def extra_loss_db(self, twin: Any, slot_cell: NDArray[np.int32]) -> NDArray[np.float64]:
        u = self.user_loss_db(twin.users.x_m, twin.users.y_m)
        width = slot_cell.shape[1]
        return np.repeat(u[:, None], width, axis=1)
