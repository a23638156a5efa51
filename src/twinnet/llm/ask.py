"""``twinnet ask``: a natural-language question about the network, answered from the twin.

The answer is built from verified evidence; the model phrases it, it never supplies a fact.

* **Evidence**: the twin's insights (the most loaded cell, its utilisation and users, why),
  the knowledge passages retrieved for the question, and the **verified options**: the RRM
  engine's candidate actions around the cells over the target, each simulated on the twin
  (what-if), kept when it lowers the predicted peak, best first.
* **The model** (when there is one) sees the question — untrusted text, quoted as data — the
  facts and the verified options, and writes a short answer, optionally naming actions. Its
  text is checked against the evidence: a cell name or a number that the facts do not contain
  discards it for the answer composed from the facts (``answer_source`` says which). Actions
  it names pass the guardrails and a what-if; only those that lower the predicted peak are
  suggested — the others are listed with the reason under ``evidence.rejected_actions``.
* Without a model the answer is composed from the facts and passages alone.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from twinnet.actions import ActionPlan
from twinnet.errors import InputError
from twinnet.llm.context import context_dict, twin_insights
from twinnet.llm.engine import SYSTEM_PROMPT, DecisionEngine, proposal_schema
from twinnet.llm.guardrails import parse_proposal, quote_untrusted, screen_actions, unsupported

if TYPE_CHECKING:
    from twinnet.llm.backends import ChatBackend
    from twinnet.llm.rag import KnowledgeBase
    from twinnet.store.context import ContextStore
    from twinnet.twin.twin import DigitalTwin

__all__ = ["answer_question", "verified_options"]

#: an option must lower the predicted peak PRB utilisation by at least this to be suggested
MIN_GAIN = 0.01


def verified_options(twin: DigitalTwin, base: Any, target: float, k: int = 3
                     ) -> list[dict[str, Any]]:
    """The RRM engine's candidate options around the cells over ``target``, each simulated on
    the twin; those that lower the predicted peak by ``MIN_GAIN`` or more, best first."""
    from twinnet.rrm.capacity import candidate_options

    peak0 = float(base.kpis["peak_prb_utilization"])
    out = []
    for o in candidate_options(twin, target):
        r = twin.what_if(ActionPlan(actions=list(o.actions)))
        peak = float(r.kpis["peak_prb_utilization"])
        if peak <= peak0 - MIN_GAIN:
            out.append({"option": o.name, "actions": [a.model_dump() for a in o.actions],
                        "cost": o.cost, "predicted_peak_prb_utilization": round(peak, 4),
                        "delta": {m: round(v, 4) for m, v in r.delta.items()
                                  if m in ("peak_prb_utilization", "jain_fairness",
                                           "outage_ratio")}})
    out.sort(key=lambda x: (x["predicted_peak_prb_utilization"], x["cost"]))
    return out[:k]


def _facts(base: Any, insights: list[Any], options: list[dict[str, Any]],
           target: float) -> list[str]:
    cells = base.cells
    hot = str(base.kpis["hottest_cell"])
    row = cells[cells["name"] == hot].iloc[0]
    facts = [f"The most loaded cell is {hot}: PRB utilisation {float(row.prb_utilization):.2f} "
             f"with {int(row.users)} users (target {target:g})."]
    facts += [i.message.rstrip(".") + "." for i in insights if i.severity != "info"][:4]
    for o in options:
        facts.append(f"Verified on the twin: {o['option']} lowers the peak from "
                     f"{float(base.kpis['peak_prb_utilization']):.2f} to "
                     f"{o['predicted_peak_prb_utilization']:.2f}.")
    if not options:
        facts.append("No single candidate action lowers the predicted peak on the twin.")
    return facts


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
    passages = kb.search(question[:400], k=3)
    evidence: dict[str, Any] = {
        "insights": context_dict(insights[:8]),
        "passages": [{"doc_id": p.doc_id, "title": p.title, "score": round(p.score, 3)}
                     for p in passages]}
    options = verified_options(twin, base, target)
    facts = _facts(base, insights, options, target)
    evidence["facts"] = facts
    evidence["verified_options"] = options
    out: dict[str, Any] = {"question": question, "evidence": evidence}
    template = " ".join(facts) + (" Relevant knowledge: " + "; ".join(p.title for p in passages)
                                  + "." if passages else "")
    cells_named = sorted({i.subject for i in insights if i.subject in twin.network.cell_names}
                         | {str(base.kpis["hottest_cell"])})[:5]
    out["cells"] = cells_named
    out["suggested_actions"] = [{"action": o["actions"][0], "option": o["option"],
                                 "predicted_peak_prb_utilization":
                                     o["predicted_peak_prb_utilization"],
                                 "delta": o["delta"], "source": "rrm (verified)"}
                                for o in options if len(o["actions"]) == 1]
    if backend is None:
        out["answer"] = template
        out["answer_source"] = "evidence"
        out["llm"] = {"backend": "none"}
        out["latency_s"] = round(time.perf_counter() - t0, 3)
        return out
    eng = DecisionEngine(backend, store, knowledge=kb)
    know = "\n".join(f"- {p.title}: {p.text[:240]}" for p in passages)
    fact_text = "\n".join(f"- {f}" for f in facts)
    messages = [{"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": f"Facts (verified on the twin):\n{fact_text}\n\n"
                 f"Knowledge:\n{know}\n\nQuestion (untrusted): "
                 f"{quote_untrusted(question, 'user')}\nAnswer the question in two or three "
                 "sentences using only the facts, as JSON: "
                 '{"answer": "...", "cells": [...], "actions": [...]}'}]
    text = eng.chat("ask", messages, _schema(twin))
    out["llm"] = eng.stats.to_dict()
    evidence["rejected_actions"] = []
    if text is None:
        out["answer"], out["answer_source"] = template, "evidence (the model could not answer: " \
            f"{eng.stats.errors[-1]})"
        out["latency_s"] = round(time.perf_counter() - t0, 3)
        return out
    try:
        obj = json.loads(text)
        parse_proposal(json.dumps({"actions": obj.get("actions", [])}))
    except (json.JSONDecodeError, InputError, AttributeError) as exc:
        eng.audit("invalid", {"error": str(exc)}, None)
        out["answer"], out["answer_source"] = template, f"evidence (invalid model reply: {exc})"
        out["latency_s"] = round(time.perf_counter() - t0, 3)
        return out
    screened = screen_actions(obj.get("actions", []), twin.network, eng.policy, eng.rate)
    eng.audit("ok", screened.to_dict(), None)
    answer = str(obj.get("answer", "")).strip()
    bad = unsupported(answer, " ".join(facts), twin.network.cell_names)
    if answer and not bad:
        out["answer"], out["answer_source"] = answer, "model (checked against the evidence)"
    else:
        out["answer"] = template
        out["answer_source"] = ("evidence (the model's answer was empty)" if not answer else
                                "evidence (the model's answer named what the evidence does "
                                f"not hold: {', '.join(bad[:5])})")
        evidence["discarded_answer"] = answer
    peak0 = float(base.kpis["peak_prb_utilization"])
    known = {json.dumps(a["action"], sort_keys=True) for a in out["suggested_actions"]}
    for a in screened.actions:
        r = twin.what_if(ActionPlan(actions=[a]))
        peak = float(r.kpis["peak_prb_utilization"])
        sim = {"action": a.model_dump(), "predicted_peak_prb_utilization": round(peak, 4),
               "delta": {k: round(v, 4) for k, v in r.delta.items()
                         if k in ("peak_prb_utilization", "jain_fairness", "outage_ratio")}}
        if peak > peak0 - MIN_GAIN:
            evidence["rejected_actions"].append({**sim, "reason": "does not lower the "
                                                 f"predicted peak ({peak0:.3f} → {peak:.3f})"})
        elif json.dumps(sim["action"], sort_keys=True) not in known:
            out["suggested_actions"].append({**sim, "source": "model (verified)"})
    evidence["rejected_actions"] += [r.to_dict() for r in screened.rejections]
    out["latency_s"] = round(time.perf_counter() - t0, 3)
    return out
