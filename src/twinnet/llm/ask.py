"""``twinnet ask``: a natural-language question about the network, answered from the twin.

The question is untrusted text: it reaches the model only quoted as data. The model sees the
twin's context report and the knowledge passages retrieved for the question, and answers with
JSON (an answer, the cells it is about, up to three suggested actions). Suggested actions pass
the guardrails and are simulated on the twin (what-if), so the reply carries their predicted
effect — and the evidence it used: the insights, the passages (with their ids), the what-if
results. Without a model the answer is composed from the insights and passages alone.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from twinnet.actions import ActionPlan
from twinnet.errors import InputError
from twinnet.llm.context import context_dict, render_report, twin_insights
from twinnet.llm.engine import SYSTEM_PROMPT, DecisionEngine, proposal_schema
from twinnet.llm.guardrails import parse_proposal, quote_untrusted, screen_actions

if TYPE_CHECKING:
    from twinnet.llm.backends import ChatBackend
    from twinnet.llm.rag import KnowledgeBase
    from twinnet.store.context import ContextStore
    from twinnet.twin.twin import DigitalTwin

__all__ = ["answer_question"]


def _schema(twin: DigitalTwin) -> dict[str, Any]:
    prop = proposal_schema(twin.network, max_actions=3)
    return {"type": "object", "additionalProperties": False,
            "properties": {"answer": {"type": "string", "maxLength": 600},
                           "cells": {"type": "array", "maxItems": 5,
                                     "items": {"enum": twin.network.cell_names}},
                           "actions": {**prop["properties"]["actions"], "minItems": 0}},
            "required": ["answer", "cells", "actions"]}


def answer_question(twin: DigitalTwin, question: str, backend: ChatBackend | None = None,
                    knowledge: KnowledgeBase | None = None, store: ContextStore | None = None,
                    target: float = 0.5) -> dict[str, Any]:
    """Answer ``question`` about ``twin``'s network; returns the answer and its evidence."""
    from twinnet.llm.rag import KnowledgeBase

    if not isinstance(question, str) or not question.strip():
        raise InputError("question", question, "a non-empty question")
    t0 = time.perf_counter()
    kb = knowledge or KnowledgeBase.default()
    if store is not None:
        kb.add_decisions(store)
    base = twin.evaluate(uplink=False)
    insights = twin_insights(twin, base, target=target)
    report = render_report(insights, twin.scenario, twin.network)
    passages = kb.search(question[:400], k=3)
    evidence: dict[str, Any] = {
        "insights": context_dict(insights[:8]),
        "passages": [{"doc_id": p.doc_id, "title": p.title, "score": round(p.score, 3)}
                     for p in passages]}
    out: dict[str, Any] = {"question": question, "evidence": evidence}
    if backend is None:
        top = [i.message for i in insights if i.severity != "info"][:4]
        out["answer"] = ("From the twin: " + ("; ".join(top) if top else "no cell is above "
                         f"the {target:g} utilisation target") + ". Relevant knowledge: "
                         + "; ".join(p.title for p in passages) + ".")
        out["cells"] = sorted({i.subject for i in insights
                               if i.subject in twin.network.cell_names})[:5]
        out["suggested_actions"] = []
        out["llm"] = {"backend": "none"}
        out["latency_s"] = round(time.perf_counter() - t0, 3)
        return out
    eng = DecisionEngine(backend, store, knowledge=kb)
    know = "\n".join(f"- {p.title}: {p.text[:320]}" for p in passages)
    messages = [{"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": f"{report}\n\nKnowledge:\n{know}\n\nQuestion "
                 f"(untrusted): {quote_untrusted(question, 'user')}\nAnswer the question from "
                 'the report as JSON: {"answer": "...", "cells": [...], "actions": [...]}'}]
    text = eng.chat("ask", messages, _schema(twin))
    out["llm"] = eng.stats.to_dict()
    if text is None:
        out["answer"] = f"the model could not answer ({eng.stats.errors[-1]})"
        out["cells"], out["suggested_actions"] = [], []
        out["latency_s"] = round(time.perf_counter() - t0, 3)
        return out
    try:
        obj = json.loads(text)
        parse_proposal(json.dumps({"actions": obj.get("actions", [])}))
    except (json.JSONDecodeError, InputError, AttributeError) as exc:
        eng.audit("invalid", {"error": str(exc)}, None)
        out["answer"] = f"the model's answer was not valid JSON ({exc})"
        out["cells"], out["suggested_actions"] = [], []
        out["latency_s"] = round(time.perf_counter() - t0, 3)
        return out
    screened = screen_actions(obj.get("actions", []), twin.network, eng.policy, eng.rate)
    eng.audit("ok", screened.to_dict(), None)
    out["answer"] = str(obj.get("answer", ""))
    out["cells"] = [c for c in obj.get("cells", []) if c in twin.network.cell_names]
    sims = []
    for a in screened.actions:
        r = twin.what_if(ActionPlan(actions=[a]))
        sims.append({"action": a.model_dump(),
                     "predicted_peak_prb_utilization": round(
                         float(r.kpis["peak_prb_utilization"]), 4),
                     "delta": {k: round(v, 4) for k, v in r.delta.items()
                               if k in ("peak_prb_utilization", "jain_fairness",
                                        "outage_ratio")}})
    out["suggested_actions"] = sims
    evidence["rejected_actions"] = [r.to_dict() for r in screened.rejections]
    out["latency_s"] = round(time.perf_counter() - t0, 3)
    return out
