"""Retrieval for the LLM engine: the packaged knowledge base and past decisions."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from twinnet.errors import InputError, TwinNetError
from twinnet.llm.rag import (
    BM25Retriever,
    DenseRetriever,
    KnowledgeBase,
    Passage,
    passages_from_markdown,
    tokenize,
)
from twinnet.store.context import ContextStore


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.default()


def _top(kb: KnowledgeBase, query: str, k: int = 3, **kw: object) -> list[str]:
    return [p.doc_id for p in kb.search(query, k=k, **kw)]  # type: ignore[arg-type]


def test_default_knowledge_base_shape(kb: KnowledgeBase) -> None:
    assert len(kb) >= 25
    files = {p.doc_id.split("#", 1)[0] for p in kb.passages}
    assert {"actions", "radio_3gpp", "policy", "troubleshooting"} <= files
    ids = [p.doc_id for p in kb.passages]
    assert len(ids) == len(set(ids))
    for p in kb.passages:
        n = len(p.text.split())
        assert 20 <= n <= 400, (p.doc_id, n)
        assert p.source == "knowledge" and p.title and not p.text.startswith("#")


def test_every_catalogue_action_has_a_passage(kb: KnowledgeBase) -> None:
    from typing import get_args

    from twinnet.actions import Action

    union = get_args(Action)[0]
    types = {m.model_fields["type"].default for m in get_args(union)}
    assert len(types) == 13
    for t in types:
        p = kb.get(f"actions#{t}")
        assert p is not None, t
        assert _top(kb, t, k=1) == [f"actions#{t}"]  # the action's own name finds it first


def test_action_passages_quote_the_coded_bounds_and_costs(kb: KnowledgeBase) -> None:
    from twinnet.actions import DeployDrone, SetCellActive, SetElectricalTilt

    tilt = kb.get("actions#set_electrical_tilt")
    assert tilt is not None and "−5 to 20" in tilt.text
    assert f"Cost {SetElectricalTilt.COST:g}" in tilt.text
    drone = kb.get("actions#deploy_drone")
    assert drone is not None and "10 to 300 m" in drone.text
    assert f"Cost {DeployDrone.COST:g}" in drone.text
    active = kb.get("actions#set_cell_active")
    assert active is not None and f"Cost {SetCellActive.COST:g}" in active.text


@pytest.mark.parametrize(("query", "expected"), [
    ("cell congested high PRB utilisation crowd", "troubleshooting#congested-cell-hotspot-crowd"),
    ("radar spectrum sharing", "actions#blank_prbs"),
    ("model drift retrain radio", "troubleshooting#l1-model-drift-retrain-the-radio-calibration"),
    ("rain attenuation millimetre wave",
     "radio_3gpp#rain-and-weather-at-fr2-and-fr3-millimetre-wave"),
    ("traffic forecast error retrain",
     "troubleshooting#l2-forecast-drift-retrain-the-traffic-forecast"),
    ("stadium event surge drones", "troubleshooting#stadium-surge-drones"),
    ("switch cells off at night to save energy", "troubleshooting#energy-saving-at-night"),
    ("minimum macro transmit power", "policy#minimum-macro-power"),
    ("TS 38.133 RSRP reporting range",
     "radio_3gpp#rsrp-rsrq-and-sinr-measurement-ranges-ts-38-133"),
])
def test_questions_find_their_passage(kb: KnowledgeBase, query: str, expected: str) -> None:
    assert expected in _top(kb, query)


def test_results_are_ranked_positive_and_bounded(kb: KnowledgeBase) -> None:
    res = kb.search("downtilt offloads edge users to neighbours", k=5)
    assert 1 <= len(res) <= 5
    scores = [p.score for p in res]
    assert all(s > 0 for s in scores) and scores == sorted(scores, reverse=True)
    assert kb.search("zzzz qqqq", k=5) == []  # nothing matches: nothing returned
    assert kb.search("the and of", k=5) == []  # stopwords only


def test_spelling_variants_match(kb: KnowledgeBase) -> None:
    uk = _top(kb, "peak PRB utilisation target", k=1)
    us = _top(kb, "peak PRB utilization targets", k=1)
    assert uk == us == ["policy#peak-prb-utilisation-target"]


def test_blank_query_and_bad_arguments_raise(kb: KnowledgeBase) -> None:
    for q in ("", "   \n"):
        with pytest.raises(InputError) as e:
            kb.search(q)
        assert e.value.field == "query"
    with pytest.raises(InputError):
        kb.search("tilt", k=0)
    with pytest.raises(InputError):
        kb.add("", "t", "some text")


def test_decisions_become_retrievable_passages(tmp_path) -> None:
    kb = KnowledgeBase.default()
    n0 = len(kb)
    with ContextStore(tmp_path / "s.duckdb") as store:
        did = store.record_decision(
            "plan", [{"type": "set_electrical_tilt", "cell": "S0/1", "tilt_deg": 16.0}],
            {"predicted": {"peak_prb_utilization": 0.46},
             "measured": {"peak_prb_utilization": 0.45}}, "applied", "rrm")
        assert kb.add_decisions(store) == 1
        assert len(kb) == n0 + 1
        res = kb.search("S0/1 tilt", k=3)
        assert res[0].doc_id == f"decision:{did}"
        p = res[0]
        assert p.source == "decision"
        assert did in p.text and "applied" in p.text
        assert "set_electrical_tilt S0/1" in p.text and "tilt_deg 16" in p.text
        assert "predicted peak PRB utilisation 0.46" in p.text
        assert "measured peak PRB utilisation 0.45" in p.text
        assert "rolled back: no" in p.text

        # the status changes: adding again replaces the passage, it is not duplicated
        store.update_decision(did, "rolled_back", {
            "predicted": {"peak_prb_utilization": 0.46},
            "measured": {"peak_prb_utilization": 0.71},
            "notes": ["rolled back: measured peak 0.710 > predicted 0.460 + 0.1"]})
        assert kb.add_decisions(store) == 1
        assert len(kb) == n0 + 1
        p2 = kb.get(f"decision:{did}")
        assert p2 is not None and "rolled back: yes" in p2.text and "0.71" in p2.text


def test_decision_text_is_robust_to_sparse_evidence(tmp_path) -> None:
    kb = KnowledgeBase()
    with ContextStore(tmp_path / "s.duckdb") as store:
        store.record_decision("plan", {"actions": [], "rationale": "nothing to do"}, {},
                              "rejected", "llm")
        store.record_decision("retrain", "L1 radio_calibration", {"verification": None},
                              "done", "llm")
        store.record_decision("plan", {"actions": [
            {"type": "set_tx_power", "cell": "S2/3", "tx_power_dbm": 40.0}]},
            {"verification": {"accepted": True, "violations": [], "objective_gain": 0.2,
                              "predicted_peak_prb_utilization": 0.48}}, "verified", "rrm")
        assert kb.add_decisions(store, limit=2) == 2  # the two most recent
        assert kb.add_decisions(store, limit=0) == 0
        with pytest.raises(InputError):
            kb.add_decisions(store, limit=-1)
    assert len(kb) == 2
    texts = {p.text for p in kb.passages}
    assert any("retrain plan L1 radio_calibration" in t and "no measurement recorded" in t
               for t in texts)
    verified = next(t for t in texts if "S2/3" in t)
    assert "predicted peak PRB utilisation 0.48" in verified
    assert "no measurement recorded" in verified


def test_source_filter(tmp_path) -> None:
    kb = KnowledgeBase.default()
    with ContextStore(tmp_path / "s.duckdb") as store:
        store.record_decision("plan", [{"type": "set_cell_offset", "cell": "S4/1",
                                        "offset_db": 6.0}],
                              {"measured": {"peak_prb_utilization": 0.4}}, "applied", "rrm")
        kb.add_decisions(store)
    only = kb.search("cell offset load balancing", k=10, source="decision")
    assert [p.source for p in only] == ["decision"]
    knowledge = kb.search("cell offset load balancing", k=10, source="knowledge")
    assert knowledge and all(p.source == "knowledge" for p in knowledge)
    assert kb.search("cell offset", source="operator-note") == []


def test_add_rebuilds_the_index_lazily() -> None:
    kb = KnowledgeBase([Passage("a#1", "Tilt", "Electrical tilt shapes the footprint.",
                                "knowledge")])
    assert _top(kb, "footprint") == ["a#1"]
    assert kb.search("backhaul microwave") == []
    kb.add("note:1", "Backhaul", "The microwave backhaul of site S3 is limited to 1 Gbit/s.",
           source="operator-note")
    assert _top(kb, "backhaul microwave") == ["note:1"]
    assert kb.search("backhaul", source="operator-note")[0].title == "Backhaul"
    assert KnowledgeBase().search("anything") == []


def test_markdown_sections_become_passages() -> None:
    md = ("# Doc\n\nIntro text is not a passage.\n\n## First part\n\nLine one\nline two.\n\n"
          "- item a\n- item b\n\n## Second: part (b)\nBody.\n## Empty\n\n")
    ps = passages_from_markdown(md, "doc")
    assert [p.doc_id for p in ps] == ["doc#first-part", "doc#second-part-b"]
    assert ps[0].text == "Line one line two.\n\n- item a\n- item b"
    assert ps[1].title == "Second: part (b)"


def test_tokenize_keeps_identifiers_and_parts() -> None:
    t = tokenize("Cell S0/1 uses set_electrical_tilt; the PRBs.")
    assert {"s0/1", "s0", "set_electrical_tilt", "electrical", "tilt", "prb", "cell"} <= set(t)
    assert "the" not in t


def test_bm25_retriever_scores_one_per_text() -> None:
    r = BM25Retriever()
    r.index(["radar blanking", "tilt and power", "power control"])
    s = r.scores("power")
    assert s.shape == (3,) and s[0] == 0.0 and s[1] > 0 and s[2] > 0
    assert np.all(r.scores("unknownword") == 0.0)
    r.index([])
    assert r.scores("power").shape == (0,)


def test_custom_retriever_protocol() -> None:
    class Fixed:
        def index(self, texts: list[str]) -> None:
            self.n = len(texts)

        def scores(self, query: str) -> np.ndarray:
            return np.arange(self.n, dtype=float)

    kb = KnowledgeBase([Passage(f"d#{i}", "t", "text", "knowledge") for i in range(4)],
                       retriever=Fixed())
    assert _top(kb, "q", k=2) == ["d#3", "d#2"]  # d#0 has score 0: never returned


def test_dense_retriever_missing_dependency_is_a_clear_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the optional package made unimportable (a None entry in sys.modules makes import fail),
    # whether or not it is installed here
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(InputError, match="sentence-transformers") as info:
        DenseRetriever()
    assert info.value.field == "retriever"
    assert issubclass(InputError, TwinNetError)
