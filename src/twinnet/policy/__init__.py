"""L3: network KPIs, objectives and constraints."""

from twinnet.policy.kpis import jain_fairness, network_kpis

__all__ = ["jain_fairness", "network_kpis"]
