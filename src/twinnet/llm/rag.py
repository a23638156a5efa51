"""Retrieval for the LLM engine: the knowledge base it grounds its answers in.

LLM-DTNet (§III-B) keeps the language model current without retraining it by
retrieving from a dedicated knowledge base and from the context database. TwinNet's
:class:`KnowledgeBase` holds short, self-contained passages of two kinds:

* **knowledge** — the packaged Markdown documents in ``twinnet/llm/knowledge`` (the action
  catalogue, 3GPP radio reference, operator policy, troubleshooting playbooks); every ``##``
  section is one passage, ``doc_id`` ``"<file stem>#<section slug>"``;
* **decision** — past decisions from the :class:`~twinnet.store.context.ContextStore`, each
  summarised with its plan, status, predicted and measured KPIs and whether it was rolled
  back, ``doc_id`` ``"decision:<decision_id>"``.

Passages are ranked by a :class:`Retriever`: :class:`BM25Retriever` (lexical, ``bm25s``) by
default, or :class:`DenseRetriever` (sentence embeddings, optional). The index is rebuilt
lazily on the first search after passages were added.

>>> kb = KnowledgeBase.default()
>>> [p.doc_id for p in kb.search("radar spectrum sharing", k=1)]
['policy#spectrum-sharing-with-radar']

References
----------
* M. Haider, I. Ahmed, Z. Hassan, K. Hasan and H. V. Poor, "LLM-Integrated Digital Twins for
  Hierarchical Resource Allocation in 6G Networks" (LLM-DTNet).
"""

from __future__ import annotations

import importlib
import importlib.resources
import json
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from twinnet.errors import InputError, TwinNetError
from twinnet.policy.kpis import format_kpi

if TYPE_CHECKING:
    from twinnet.store.context import ContextStore

__all__ = [
    "BM25Retriever",
    "DenseRetriever",
    "KnowledgeBase",
    "Passage",
    "Retriever",
    "passages_from_markdown",
    "tokenize",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Passage:
    """One retrievable passage; ``score`` is set on search results."""

    doc_id: str
    title: str
    text: str
    source: str
    score: float = 0.0


class Retriever(Protocol):
    """Ranks indexed texts against a query."""

    def index(self, texts: list[str]) -> None: ...

    def scores(self, query: str) -> np.ndarray: ...


# --------------------------------------------------------------------------- tokenisation

_WORD = re.compile(r"[a-z0-9]+(?:[/@._\-][a-z0-9]+)*")
_SPLIT = re.compile(r"[/@._\-]")


def _stopwords() -> frozenset[str]:
    try:
        from bm25s.stopwords import STOPWORDS_EN

        return frozenset(STOPWORDS_EN)
    except ImportError:  # pragma: no cover - bm25s is a dependency
        return frozenset()


_STOP = _stopwords()


def _normalise(word: str) -> str:
    """Fold British / American spellings and plurals (applied to documents and queries alike)."""
    if len(word) > 5 and not word[0].isdigit():
        for uk, us in (("isation", "ization"), ("ised", "ized"), ("ising", "izing"),
                       ("ise", "ize")):
            if word.endswith(uk):
                word = word[: -len(uk)] + us
                break
    if len(word) > 3 and word.isalpha():
        if word.endswith("ies"):
            return word[:-3] + "y"
        if word.endswith("sses"):
            return word[:-2]
        if word.endswith("s") and not word.endswith(("ss", "us", "is")):
            return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Lower-case terms of ``text`` without English stopwords.

    Identifiers keep their whole form and add their parts: ``S0/1`` gives ``s0/1`` and ``s0``,
    ``set_electrical_tilt`` gives itself and ``set``, ``electrical``, ``tilt``. Single-character
    parts are dropped; plurals and ``-ise`` spellings are folded.
    """
    out: list[str] = []
    for m in _WORD.finditer(text.lower()):
        word = m.group(0)
        parts = _SPLIT.split(word)
        if len(parts) > 1:
            out.append(word)
        for p in parts:
            if len(p) > 1 and p not in _STOP:
                out.append(_normalise(p))
    return out


# --------------------------------------------------------------------------- retrievers


class BM25Retriever:
    """Okapi BM25 (``bm25s``, Lucene variant) over :func:`tokenize`'s terms."""

    def __init__(self, k1: float = 1.5, b: float = 0.75):
        self.k1 = k1
        self.b = b
        self._model: Any = None
        self._n = 0

    def index(self, texts: list[str]) -> None:
        import bm25s

        self._n = len(texts)
        if not texts:
            self._model = None
            return
        model = bm25s.BM25(k1=self.k1, b=self.b)
        model.index([tokenize(t) for t in texts], show_progress=False)
        self._model = model

    def scores(self, query: str) -> np.ndarray:
        out = np.zeros(self._n, dtype=np.float64)
        terms = tokenize(query)
        if self._model is None or not terms:
            return out
        vocab = self._model.vocab_dict
        ids = [vocab[t] for t in terms if t in vocab]
        if not ids:
            return out
        out[:] = self._model.get_scores_from_ids(ids)
        return out


class DenseRetriever:
    """Cosine similarity of sentence embeddings (needs the optional ``sentence-transformers``).

    ``model`` is a sentence-transformers model name or a local path; loading it may need the
    model files on disk or network access.
    """

    def __init__(self, model: str = "sentence-transformers/all-MiniLM-L6-v2",
                 device: str | None = None):
        try:
            st = importlib.import_module("sentence_transformers")
        except ImportError:
            raise InputError("retriever", "dense",
                             "pip install sentence-transformers (optional extra)") from None
        try:
            self._encoder = st.SentenceTransformer(model, device=device)
        except Exception as exc:  # model files missing, no network, bad name
            raise TwinNetError(f"dense retriever: cannot load model {model!r}: {exc}") from exc
        self.model = model
        self._emb: FloatArray = np.zeros((0, 0))

    def _encode(self, texts: list[str]) -> FloatArray:
        emb = self._encoder.encode(texts, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(emb, dtype=np.float64).reshape(len(texts), -1)

    def index(self, texts: list[str]) -> None:
        self._emb = self._encode(texts) if texts else np.zeros((0, 0))

    def scores(self, query: str) -> np.ndarray:
        if self._emb.shape[0] == 0:
            return np.zeros(0)
        q = self._encode([query])[0]
        return self._emb @ q


# --------------------------------------------------------------------------- Markdown


def _slug(heading: str) -> str:
    s = re.sub(r"[^a-z0-9_]+", "-", heading.lower()).strip("-")
    return s or "section"


def _flow(lines: list[str]) -> str:
    """Join soft-wrapped lines; blank lines separate paragraphs, list items start a line."""
    paras = re.split(r"\n\s*\n", "\n".join(lines).strip())
    out = []
    for para in paras:
        rows: list[str] = []
        for raw in para.splitlines():
            line = raw.strip()
            if rows and not re.match(r"^([-*+]|\d+[.)])\s", line):
                rows[-1] += " " + line
            else:
                rows.append(line)
        out.append("\n".join(rows))
    return "\n\n".join(p for p in out if p)


def passages_from_markdown(text: str, doc: str, source: str = "knowledge") -> list[Passage]:
    """One passage per ``##`` section of a Markdown document, ``doc_id``
    ``"<doc>#<heading slug>"``. The ``#`` title and any text before the first ``##`` are not
    passages; deeper headings (``###``) stay in their section's text."""
    out: list[Passage] = []
    heading: str | None = None
    body: list[str] = []
    seen: dict[str, int] = {}

    def flush() -> None:
        if heading is None:
            return
        content = _flow(body)
        if not content:
            return
        slug = _slug(heading)
        seen[slug] = seen.get(slug, 0) + 1
        if seen[slug] > 1:
            slug = f"{slug}-{seen[slug]}"
        out.append(Passage(f"{doc}#{slug}", heading, content, source))

    for line in text.splitlines():
        m = re.match(r"^##\s+(.+?)\s*#*\s*$", line)
        if m and not line.startswith("###"):
            flush()
            heading, body = m.group(1), []
        elif re.match(r"^#\s", line):
            continue
        elif heading is not None:
            body.append(line)
    flush()
    return out


# --------------------------------------------------------------------------- decisions

def _loads(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list | tuple):
        return f"[{len(v)} items]" if len(v) > 4 else "[" + ", ".join(map(_fmt_value, v)) + "]"
    if isinstance(v, dict):
        return "{…}"
    return str(v)


def _summarise_action(a: Any) -> str:
    if not isinstance(a, dict):
        return str(a)
    head = str(a.get("type", "action"))
    if "cell" in a:
        head += f" {a['cell']}"
    rest = [f"{k} {_fmt_value(v)}" for k, v in a.items() if k not in ("type", "cell")]
    return head + (" (" + ", ".join(rest) + ")" if rest else "")


def _summarise_plan(plan: Any) -> tuple[str, str]:
    """(actions summary, rationale) of a stored plan: a list of actions, an ``ActionPlan``
    dump (``actions`` + ``rationale``) or anything else."""
    rationale = ""
    actions: Any = plan
    if isinstance(plan, dict):
        rationale = str(plan.get("rationale") or "")
        actions = plan.get("actions", [plan] if "type" in plan else [])
    if isinstance(actions, list):
        s = "; ".join(_summarise_action(a) for a in actions) if actions else "no actions"
    elif actions is None:
        s = "no actions"
    else:
        s = str(actions)
    return s, rationale


def _kpis(d: Any) -> str:
    if not isinstance(d, dict):
        return ""
    return ", ".join(format_kpi(key, value) for key, value in d.items()
                     if not isinstance(value, dict | list))


def _decision_text(row: dict[str, Any]) -> str:
    did, status = str(row.get("decision_id", "")), str(row.get("status", "unknown"))
    kind, src = str(row.get("kind", "") or ""), str(row.get("source", "") or "")
    ts: Any = row.get("ts")
    try:
        ts_s = ts.strftime("%Y-%m-%d %H:%M:%S") if hasattr(ts, "strftime") else str(ts)
    except ValueError:  # NaT
        ts_s = "time unknown"
    if ts is None or ts_s in ("NaT", "nan", "None"):
        ts_s = "time unknown"
    actions, rationale = _summarise_plan(_loads(row.get("plan")))
    ev = _loads(row.get("evidence"))
    ev = ev if isinstance(ev, dict) else {}
    ver_raw = ev.get("verification")
    ver: dict[str, Any] = ver_raw if isinstance(ver_raw, dict) else {}

    what = "plan" if kind in ("", "plan") else f"{kind} plan"
    out = [f"Decision {did} ({status}, {ts_s}"
           + (f", by {src}" if src else "") + f"): {what} {actions}"]
    pred = _kpis(ev.get("predicted"))
    if not pred and ver.get("predicted_peak_prb_utilization") is not None:
        pred = _kpis({"peak_prb_utilization": ver["predicted_peak_prb_utilization"]})
    out.append(f"predicted {pred}" if pred else "no prediction recorded")
    meas = _kpis(ev.get("measured"))
    out.append(f"measured {meas}" if meas else "no measurement recorded")
    if ver.get("objective_gain") is not None:
        out.append(f"objective gain {_fmt_value(ver['objective_gain'])}")
    violations = ver.get("violations") or []
    if violations:
        out.append("violations: " + "; ".join(map(str, violations)))
    raw_notes = ev.get("notes")
    if not isinstance(raw_notes, list):
        raw_notes = [raw_notes] if raw_notes else []
    notes = [str(n) for n in raw_notes if str(n).strip()]
    rolled = status == "rolled_back" or any(n.startswith("rolled back") for n in notes)
    if status == "rejected":
        out.append("rolled back: not applied (rejected by verification)")
    else:
        out.append(f"rolled back: {'yes' if rolled else 'no'}")
    if notes:
        out.append("notes: " + "; ".join(notes))
    if rationale:
        out.append("rationale: " + (rationale if len(rationale) <= 300
                                    else rationale[:297] + "..."))
    return "; ".join(out) + "."


# --------------------------------------------------------------------------- knowledge base


class KnowledgeBase:
    """Passages and a retriever over them.

    ``passages`` (optional) are added in order; a later passage with the same ``doc_id``
    replaces an earlier one. ``retriever`` defaults to :class:`BM25Retriever`.
    """

    def __init__(self, passages: list[Passage] | None = None,
                 retriever: Retriever | None = None):
        self._passages: dict[str, Passage] = {}
        self.retriever: Retriever = retriever if retriever is not None else BM25Retriever()
        self._order: list[Passage] = []
        self._stale = True
        for p in passages or []:
            self._put(p)

    @classmethod
    def default(cls, retriever: Retriever | None = None) -> KnowledgeBase:
        """The packaged knowledge documents, one passage per ``##`` section."""
        root = importlib.resources.files("twinnet.llm") / "knowledge"
        passages: list[Passage] = []
        files = sorted((f for f in root.iterdir() if f.name.endswith(".md")),
                       key=lambda f: f.name)
        for f in files:
            passages.extend(passages_from_markdown(f.read_text(encoding="utf-8"),
                                                   f.name[: -len(".md")]))
        return cls(passages, retriever)

    @property
    def passages(self) -> list[Passage]:
        return list(self._passages.values())

    def get(self, doc_id: str) -> Passage | None:
        return self._passages.get(doc_id)

    def _put(self, p: Passage) -> None:
        self._passages[p.doc_id] = replace(p, score=0.0)
        self._stale = True

    def add(self, doc_id: str, title: str, text: str, source: str = "knowledge") -> None:
        """Add (or replace) a passage; the index is rebuilt on the next search."""
        if not doc_id.strip():
            raise InputError("doc_id", doc_id, "a non-empty id")
        if not text.strip():
            raise InputError("text", text, "a non-empty passage text")
        self._put(Passage(doc_id, title, text.strip(), source))

    def add_decisions(self, store: ContextStore, limit: int = 50) -> int:
        """Add the ``limit`` most recent decisions of ``store`` as passages (source
        ``"decision"``, id ``"decision:<decision_id>"``) with their plan, status, predicted
        and measured KPIs; a decision added before is replaced by its current state.
        Returns how many were added."""
        if limit < 0:
            raise InputError("limit", limit, "a number of decisions ≥ 0")
        if limit == 0:
            return 0
        df = store.decisions()
        if df.empty:
            return 0
        rows = df.tail(limit).to_dict("records")
        for row in rows:
            did = str(row.get("decision_id"))
            status = str(row.get("status", "unknown"))
            kind = str(row.get("kind", "") or "plan")
            self._put(Passage(f"decision:{did}", f"Decision {did[:8]}: {kind} ({status})",
                              _decision_text(row), "decision"))
        return len(rows)

    def __len__(self) -> int:
        return len(self._passages)

    def _ensure_index(self) -> None:
        if self._stale:
            self._order = list(self._passages.values())
            # the title counts twice: a section heading says what its passage is about
            self.retriever.index([f"{p.title}\n{p.title}\n{p.text}" for p in self._order])
            self._stale = False

    def search(self, query: str, k: int = 4, source: str | None = None) -> list[Passage]:
        """The ``k`` passages that match ``query`` best (score > 0 only, best first), from
        ``source`` only when given."""
        if not isinstance(query, str) or not query.strip():
            raise InputError("query", query, "a non-empty question")
        if k < 1:
            raise InputError("k", k, "at least 1 passage")
        if not self._passages:
            return []
        self._ensure_index()
        s = np.asarray(self.retriever.scores(query), dtype=np.float64)
        if s.shape != (len(self._order),):
            raise TwinNetError(f"retriever returned {s.shape} scores for "
                               f"{len(self._order)} passages")
        s = np.where(np.isfinite(s), s, 0.0)
        if source is not None:
            s = np.where([p.source == source for p in self._order], s, 0.0)
        best = np.argsort(-s, kind="stable")[:k]
        return [replace(self._order[i], score=float(s[i])) for i in best if s[i] > 0.0]
