"""L2 traffic and load: demand over the day, PRB load and served throughput.

Forecasting the traffic from measurements is an AI engine (:mod:`twinnet.engines`); this layer
holds the model the twin evaluates: :func:`diurnal_profile` and :func:`solve_load` for a
snapshot, and for the network in time the session traffic of each user group
(:func:`make_traffic`), the per-user queues with per-packet delays (:class:`Queues`), the
proportional-fair scheduler (:class:`ProportionalFair`) and mobility management — handover,
radio link failure, re-establishment (:class:`HandoverControl`).
"""

from twinnet.traffic.demand import diurnal_profile
from twinnet.traffic.handover import HandoverControl, HandoverStep
from twinnet.traffic.load import LoadResult, solve_load
from twinnet.traffic.queues import Arrivals, Queues, ServiceStats
from twinnet.traffic.scheduler import ProportionalFair, Schedule
from twinnet.traffic.sessions import TrafficSource, make_traffic

__all__ = [
    "Arrivals",
    "HandoverControl",
    "HandoverStep",
    "LoadResult",
    "ProportionalFair",
    "Queues",
    "Schedule",
    "ServiceStats",
    "TrafficSource",
    "diurnal_profile",
    "make_traffic",
    "solve_load",
]
