"""Scoring the LINKs data planner: F1 per question (eq. 8), the naive baseline, the ablation."""

from __future__ import annotations

import pytest

from twinnet.links import evaluate
from twinnet.links.cards import Query, load_districts, load_queries, load_sensor_cards
from twinnet.links.evaluate import (
    ABLATION_STEP_LIMITS,
    ABLATION_TEMPERATURES,
    ablation,
    evaluate_planner,
    f1_score,
    score_planner,
)
from twinnet.links.planner import AgenticPlanner, NaivePlanner

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def catalogue(smartcity_dir):
    return load_sensor_cards(), load_districts(), load_queries()


def test_f1_by_hand():
    got = f1_score(["a", "b", "b"], ["a", "c", "d"])  # a set: the repeated "b" counts once
    assert got == pytest.approx({"precision": 0.5, "recall": 1 / 3, "f1": 0.4})
    assert f1_score(["a", "c", "d"], ["d", "c", "a"]) == {"f1": 1.0, "precision": 1.0,
                                                         "recall": 1.0}
    assert f1_score([], ["a"]) == {"f1": 0.0, "precision": 0.0, "recall": 0.0}
    assert f1_score(["x"], ["a"])["f1"] == 0.0


def test_f1_is_the_one_the_planner_module_offers():
    from twinnet.links import planner

    assert planner.f1_score is evaluate.f1_score


def test_score_of_the_retrieval_planner(catalogue):
    cards, areas, queries = catalogue
    qs = [Query(id="q-temp", query="What is the average temperature of the city?",
                fields=["weather"], gold_sensor_types=["air_temperature"]), *queries[:3]]
    pl = AgenticPlanner(None, cards, areas, mode="retrieval")
    rep = score_planner(pl, qs)
    assert list(rep) == ["per_query", "mean_f1", "steps"]
    assert list(rep["per_query"]) == [q.id for q in qs]
    for q in qs:
        row = rep["per_query"][q.id]
        sel = pl.plan(q.query).sensor_types
        assert row["selected"] == sel
        want = f1_score(sel, q.gold_sensor_types)
        assert row == {**{k: round(v, 4) for k, v in want.items()}, "selected": sel}
    assert "air_temperature" in rep["per_query"]["q-temp"]["selected"]
    assert rep["per_query"]["q-temp"]["recall"] == 1.0
    assert rep["mean_f1"] == round(sum(r["f1"] for r in rep["per_query"].values()) / len(qs), 4)
    assert 1 <= rep["steps"] <= 15


def test_report_naive_baseline_info_and_progress(catalogue):
    cards, areas, queries = catalogue
    qs = queries[:4]
    seen: list[str] = []
    rep = evaluate_planner(AgenticPlanner(None, cards, areas, mode="retrieval"), qs,
                           info={"backend": "none", "mode": "retrieval"},
                           naive=NaivePlanner(None, cards), progress=seen.append)
    assert list(rep) == ["per_query", "mean_f1", "steps", "backend", "mode", "shortlist",
                         "naive"]
    assert seen == ["planning", "naive baseline"]
    # recall@k of the shortlist, by hand: the share of each query's gold types in its top k
    idx = AgenticPlanner(None, cards, areas, mode="retrieval").index
    for k in (3, 5, 8):
        want = sum(len({c.id for c, _ in idx.shortlist(q.query, k)} & set(q.gold_sensor_types))
                   / len(q.gold_sensor_types) for q in qs) / len(qs)
        assert rep["shortlist"][f"recall@{k}"] == round(want, 4)
    assert rep["shortlist"]["recall@3"] <= rep["shortlist"]["recall@5"] <= \
        rep["shortlist"]["recall@8"]
    # without a model the zero-shot baseline chooses nothing: every F1 is 0
    assert rep["naive"]["mean_f1"] == 0.0
    assert all(v["selected"] == [] for v in rep["naive"]["per_query"].values())
    assert set(rep["naive"]) == {"mean_f1", "per_query"}
    assert rep["mean_f1"] > 0.0


def test_ablation_makes_one_planner_per_cell_of_the_grid(catalogue):
    cards, areas, queries = catalogue
    qs = queries[:2]
    made: list[tuple[float, int]] = []

    def factory(t: float, n: int) -> AgenticPlanner:
        made.append((t, n))
        return AgenticPlanner(None, cards, areas, temperature=t, max_steps=n, mode="retrieval")

    seen: list[str] = []
    rows = ablation(factory, qs, temperatures=(0.0, 0.7), step_limits=(1, 15),
                    progress=seen.append)
    assert made == [(0.0, 1), (0.0, 15), (0.7, 1), (0.7, 15)]
    assert seen == ["ablation T=0.0 steps=1", "ablation T=0.0 steps=15",
                    "ablation T=0.7 steps=1", "ablation T=0.7 steps=15"]
    assert [(r["temperature"], r["steps"]) for r in rows] == made
    for r in rows:
        assert r["mean_f1"] == score_planner(factory(r["temperature"], r["steps"]),
                                             qs)["mean_f1"]
    # the default grid (two temperatures × four step limits) goes into the report
    made.clear()
    rep = evaluate_planner(factory(0.0, 15), qs[:1], factory=factory)
    assert [(r["temperature"], r["steps"]) for r in rep["ablation"]] == [
        (t, n) for t in ABLATION_TEMPERATURES for n in ABLATION_STEP_LIMITS]
    assert "naive" not in rep
