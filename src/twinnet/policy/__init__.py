"""L3 policy: what the network is asked to achieve and what it may do.

* :mod:`.kpis` — KPI formulas and the one list of KPI names (:data:`HEADLINE_KPIS`);
* :mod:`.operator` — the operator's :class:`Policy` (allowed actions and their ranges, rate
  limits, switch-off and drone rules); :meth:`Policy.check` names the clause an action breaks;
* :mod:`.constraints` — the verification :class:`Constraints` a plan's predicted KPIs must meet;
* :mod:`.insights` — typed :class:`Insight` statements and the L3 ones (congestion, fairness,
  outage, energy);
* :mod:`.baseline` — the rule baseline of self-organising networks (no twin, no prediction).
"""

from twinnet.policy.baseline import rule_plan
from twinnet.policy.constraints import Constraints
from twinnet.policy.insights import Insight, l3_insights
from twinnet.policy.kpis import HEADLINE_KPIS, KPIS, jain_fairness, kpi_subset, network_kpis
from twinnet.policy.operator import CAPACITY_TYPES, Policy, PolicyViolation

__all__ = ["CAPACITY_TYPES", "HEADLINE_KPIS", "KPIS", "Constraints", "Insight", "Policy",
           "PolicyViolation", "jain_fairness", "kpi_subset", "l3_insights", "network_kpis",
           "rule_plan"]
