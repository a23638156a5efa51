"""Sentence embeddings in NumPy (all-MiniLM-L6-v2 from its PyPI wheel) and the hybrid
Sensor-Card retrieval of the LINKs Planner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twinnet.llm.embed import EmbeddingUnavailable, SentenceEncoder, load_encoder


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    """The embedding model is part of the test install (README's first command, .ci/run):
    missing, the tests fail and say how to install it."""
    try:
        return load_encoder()
    except EmbeddingUnavailable as exc:
        pytest.fail(f"the sentence-embedding model is needed: {exc}", pytrace=False)


def test_unit_vectors_batch_independent_and_deterministic(encoder):
    texts = ["Rain gauges: precipitation in millimetres per hour.", "Where is it raining?",
             "A much longer sentence about the air temperature two metres above the ground "
             "at the weather stations of the city, measured every ten minutes."]
    e = encoder.encode(texts)
    assert e.shape == (3, 384) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    one_by_one = np.vstack([encoder.encode([t]) for t in texts])
    np.testing.assert_allclose(one_by_one, e, atol=1e-5)  # padding does not leak
    np.testing.assert_array_equal(encoder.encode(texts), e)


def test_synonyms_lexical_retrieval_misses(encoder):
    """The question shares no word with the right description but is closest to it; two
    unrelated sentences are nearly orthogonal."""
    q = encoder.encode(["Where are electric cars being charged the most?",
                        "Is the ground in the parks dry?"])
    docs = encoder.encode([
        "EV charging stations: number of vehicles plugged in and energy delivered.",
        "Soil moisture probes in parks and gardens: volumetric water content.",
        "Traffic counters: vehicles per hour on main roads."])
    sim = q @ docs.T
    assert sim[0].argmax() == 0 and sim[1].argmax() == 1
    assert sim[0, 0] > 0.4 and sim[1, 1] > 0.4
    assert abs(float(sim[1, 2])) < 0.2


def test_a_missing_model_is_reported(tmp_path: Path, monkeypatch):
    from twinnet.llm.embed import model_folder

    monkeypatch.setenv("TWINNET_EMBED_MODEL", str(tmp_path))
    with pytest.raises(EmbeddingUnavailable, match=r"model\.safetensors"):
        model_folder()


def test_hybrid_card_index(smartcity_dir, encoder):
    """With embeddings the shortlist finds the EV-charging cards for a question that names
    neither; without them the scores are BM25's; hybrid scores lie in [0, 1]."""
    from twinnet.links.cards import load_sensor_cards
    from twinnet.links.planner import CardIndex

    cards = load_sensor_cards(smartcity_dir / "sensor_cards.json")
    q = "Where are electric cars being charged the most?"
    lexical = CardIndex(cards, dense=False)
    hybrid = CardIndex(cards, dense=True)
    assert lexical.dense_reason and hybrid.dense_reason is None
    np.testing.assert_array_equal(lexical.scores(q),
                                  lexical.retriever.scores(lexical._query_terms(q)))
    s = hybrid.scores(q)
    assert s.min() >= 0.0 and s.max() <= 1.0 + 1e-9
    top = [c.id for c, _ in hybrid.shortlist(q, 3)]
    assert any(t.startswith("ev_") for t in top), top
