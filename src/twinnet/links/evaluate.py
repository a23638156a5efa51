"""Scoring the LINKs data planner (stage 1) on a query file with gold sensor types.

Each question is planned once and the chosen sensor types are scored against the gold types by
precision, recall and F1 (:func:`f1_score`, eq. (8) of S. Jiang, B. Lin, Y. Wu, Y. Gao, "LINKs:
Large Language Model Integrated Management for 6G Empowered Digital Twin NetworKs"); the
report's ``mean_f1`` is their mean over the questions. :func:`evaluate_planner` scores a
planner, optionally the zero-shot baseline alongside (the paper's Table I) and the
temperature × step-limit ablation, each planner of the ablation made by a factory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from twinnet.links.cards import Query
    from twinnet.links.planner import DataPlan

__all__ = ["ABLATION_STEP_LIMITS", "ABLATION_TEMPERATURES", "PlannerLike", "ablation",
           "evaluate_planner", "f1_score", "score_planner", "shortlist_recall"]

#: The grid of the ablation: sampling temperatures and step limits of the planner.
ABLATION_TEMPERATURES: tuple[float, ...] = (0.0, 0.7)
ABLATION_STEP_LIMITS: tuple[int, ...] = (1, 2, 5, 15)


class PlannerLike(Protocol):
    """Anything that plans a question (:class:`~twinnet.links.planner.AgenticPlanner`,
    :class:`~twinnet.links.planner.NaivePlanner`)."""

    def plan(self, query: str) -> DataPlan: ...


#: ``factory(temperature, step_limit)``: a planner of the ablation
PlannerFactory = Callable[[float, int], PlannerLike]
#: called with a short description of the stage being scored
Progress = Callable[[str], None]


def f1_score(selected: list[str], gold: list[str]) -> dict[str, float]:
    """Precision, recall and F1 of a set of sensor types against the gold set (eq. 8)."""
    s, g = set(selected), set(gold)
    tp = len(s & g)
    p = tp / len(s) if s else 0.0
    r = tp / len(g) if g else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"f1": f, "precision": p, "recall": r}


def shortlist_recall(index: Any, queries: Sequence[Query],
                     ks: Sequence[int] = (3, 5, 8)) -> dict[str, float]:
    """Mean recall@k of a retrieval shortlist (``index.shortlist(query, k)`` → ``[(card,
    score)]``) against the gold types: ``{"recall@3": …, …}``."""
    out = {}
    for k in ks:
        r = [len({c.id for c, _ in index.shortlist(q.query, k)} & set(q.gold_sensor_types))
             / len(q.gold_sensor_types) for q in queries]
        out[f"recall@{k}"] = round(float(np.mean(r)), 4)
    return out


def score_planner(planner: PlannerLike, queries: Sequence[Query]) -> dict[str, Any]:
    """``{per_query: {id: {f1, precision, recall, selected}}, mean_f1, steps}`` of ``planner``
    on ``queries`` (scores to 4 decimals; ``steps``: the most steps one question took)."""
    per: dict[str, Any] = {}
    used = 0
    for q in queries:
        p = planner.plan(q.query)
        used = max(used, p.steps)
        per[q.id] = {**{k: round(v, 4) for k, v in f1_score(
            p.sensor_types, q.gold_sensor_types).items()}, "selected": p.sensor_types}
    return {"per_query": per, "mean_f1": round(float(np.mean(
        [v["f1"] for v in per.values()])), 4), "steps": used}


def ablation(factory: PlannerFactory, queries: Sequence[Query], *,
             temperatures: Sequence[float] = ABLATION_TEMPERATURES,
             step_limits: Sequence[int] = ABLATION_STEP_LIMITS,
             progress: Progress | None = None) -> list[dict[str, Any]]:
    """Mean F1 of a fresh planner for every (temperature, step limit):
    ``[{temperature, steps, mean_f1}]``, temperatures outermost."""
    rows = []
    for t in temperatures:
        for n in step_limits:
            if progress is not None:
                progress(f"ablation T={t} steps={n}")
            rows.append({"temperature": t, "steps": n,
                         "mean_f1": score_planner(factory(t, n), queries)["mean_f1"]})
    return rows


def evaluate_planner(planner: PlannerLike, queries: Sequence[Query], *,
                     info: Mapping[str, Any] | None = None, naive: PlannerLike | None = None,
                     factory: PlannerFactory | None = None,
                     progress: Progress | None = None) -> dict[str, Any]:
    """The report of ``planner`` on ``queries``: :func:`score_planner`'s keys, then ``info``
    (backend, settings), then ``naive`` (``{mean_f1, per_query}`` of the baseline planner, if
    given) and ``ablation`` (:func:`ablation` of ``factory``, if given); ``shortlist``
    (:func:`shortlist_recall`) where the planner has a retrieval ``index``."""
    if progress is not None:
        progress("planning")
    rep: dict[str, Any] = {**score_planner(planner, queries), **(info or {})}
    index = getattr(planner, "index", None)
    if index is not None and hasattr(index, "shortlist"):
        rep["shortlist"] = shortlist_recall(index, queries)
    if naive is not None:
        if progress is not None:
            progress("naive baseline")
        nv = score_planner(naive, queries)
        rep["naive"] = {"mean_f1": nv["mean_f1"], "per_query": nv["per_query"]}
    if factory is not None:
        rep["ablation"] = ablation(factory, queries, progress=progress)
    return rep
