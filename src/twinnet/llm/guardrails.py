"""Guardrails between a language model and the network: a small or wrong model stays harmless.

* **Untrusted text is data.** Telemetry strings, logs and user questions reach a prompt only
  through :func:`quote_untrusted`: control characters removed, length bounded, wrapped in
  ``<data>`` tags whose closing tag cannot be forged from inside; the system prompt tells the
  model that nothing inside such tags is an instruction. (The model may still be fooled — which
  is why nothing it says is trusted either.)
* **Outputs are validated.** A proposal must be a JSON object whose ``actions`` validate against
  the action catalogue (types, fields, bounds — :func:`twinnet.actions.parse_action`), name
  cells of the network, respect the operator :class:`~twinnet.policy.operator.Policy`
  (allowed types, tighter ranges, plan size) and apply cleanly to a copy of the network.
  Anything else is rejected with the field, the value and the reason; the rest of the proposal
  is kept.
* **Rate limits.** :class:`RateLimiter` counts the directives that touched each cell in the last
  hour (from the store's decisions) and refuses actions beyond the limit; a stored directive it
  cannot read makes it refuse everything (it fails closed).
* **Audit.** Every prompt and response is stored (``llm_calls``), every verification and
  directive too (``decisions``, ``sync_log``) — see :mod:`twinnet.llm.engine`.

Verification on the twin (:mod:`twinnet.twin.verify`) comes after all of this: an action that
passes the guardrails is still only applied if the twin predicts it meets every constraint.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from twinnet.actions import (
    ActionPlan,
    BlankPRBs,
    DeployDrone,
    parse_action,
)
from twinnet.errors import InputError
from twinnet.policy.operator import Policy

if TYPE_CHECKING:
    from twinnet.network.topology import Network
    from twinnet.store.context import ContextStore

__all__ = ["RateLimiter", "Rejection", "Screened",
           "parse_proposal", "quote_untrusted", "screen_actions", "unsupported"]

_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def quote_untrusted(text: Any, label: str = "data", max_chars: int = 500) -> str:
    """``text`` as inert data for a prompt: control and bidi characters removed, tags that could
    close or open the quote neutralised, length bounded, wrapped in ``<data source=…>``."""
    s = _CTRL.sub(" ", str(text))
    s = s.replace("<", "‹").replace(">", "›")
    if len(s) > max_chars:
        s = s[:max_chars] + " …(truncated)"
    lab = re.sub(r"[^A-Za-z0-9_.:/\-]", "_", label)[:40]
    return f'<data source="{lab}">{s}</data>'


@dataclass(frozen=True)
class Rejection:
    index: int
    field: str
    value: Any
    reason: str

    def to_dict(self) -> dict[str, Any]:
        v = self.value if isinstance(self.value, int | float | str | bool | None) else \
            str(self.value)[:120]
        return {"index": self.index, "field": self.field, "value": v, "reason": self.reason}

    def __str__(self) -> str:
        return f"action {self.index}: {self.field} = {self.value!r}: {self.reason}"


@dataclass
class Screened:
    actions: list[Any] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    parsed: bool = True
    error: str | None = None
    diagnosis: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"parsed": self.parsed, "error": self.error, "diagnosis": self.diagnosis,
                "accepted": [a.model_dump() for a in self.actions],
                "rejected": [r.to_dict() for r in self.rejections]}


def parse_proposal(text: str) -> dict[str, Any]:
    """The JSON object of a model's answer; :class:`InputError` if it is not one with an
    ``actions`` list."""
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        raise InputError("response", str(text)[:80], f"a JSON object ({exc})") from None
    if not isinstance(obj, dict):
        raise InputError("response", str(text)[:80], "a JSON object")
    if not isinstance(obj.get("actions"), list):
        raise InputError("response.actions", obj.get("actions"), "a list of actions")
    return obj


class RateLimiter:
    """At most ``per_cell_per_hour`` directives touching a cell within any hour, counted from
    the store's decisions that reached the network (applied or rolled back).

    It fails closed: a stored directive of the last hour that cannot be read (its plan is not a
    valid action plan) may have touched any cell, so its decision id goes to
    :attr:`unreadable` and :func:`screen_actions` then refuses every action."""

    def __init__(self, store: ContextStore | None, per_cell_per_hour: int = 2):
        self.store = store
        self.limit = per_cell_per_hour
        #: decision ids of the last hour's directives whose plan could not be read
        self.unreadable: list[str] = []

    def recent(self, now: Any) -> dict[str, int]:
        """Directives per cell in the hour before ``now`` (fills :attr:`unreadable`)."""
        self.unreadable = []
        if self.store is None:
            return {}
        d = self.store.decisions()
        if d.empty:
            return {}
        t = pd.Timestamp(now) if now is not None else pd.Timestamp.now()
        d = d[d.status.isin(["applied", "rolled_back"])
              & (pd.to_datetime(d.ts) > t - pd.Timedelta(hours=1))
              & (pd.to_datetime(d.ts) <= t)]
        out: dict[str, int] = {}
        for did, p in zip(d.decision_id, d.plan, strict=True):
            try:
                plan = ActionPlan.model_validate(json.loads(p) if isinstance(p, str) else p)
            except (ValueError, TypeError):  # ValidationError and JSONDecodeError included
                self.unreadable.append(str(did))
                continue
            for c in plan.touched_cells():
                out[c] = out.get(c, 0) + 1
        return out


def screen_actions(items: Any, network: Network, policy: Policy | None = None,
                   rate: RateLimiter | None = None, now: Any = None,
                   bands: dict[str, tuple[int, int]] | None = None) -> Screened:
    """Validate untrusted action data one by one; keep what passes, explain what does not.
    ``bands`` (cell → the PRBs in a radar's band): blanking is allowed only there (none
    without a radar)."""
    pol = policy or Policy()
    out = Screened()
    if not isinstance(items, list):
        out.parsed = False
        out.error = "actions: not a list"
        return out
    names = set(network.cell_names)
    recent = rate.recent(now) if rate is not None else {}
    unreadable = rate.unreadable if rate is not None else []
    pending: dict[str, int] = {}
    trial = network.copy()
    drones = 0
    seen: set[tuple[str, str]] = set()
    for i, raw in enumerate(items):
        if len(out.actions) >= pol.max_actions_per_plan:
            out.rejections.append(Rejection(i, "actions", len(items),
                                            f"more than {pol.max_actions_per_plan} actions"))
            continue
        if not isinstance(raw, dict):
            out.rejections.append(Rejection(i, "action", raw, "not an object"))
            continue
        try:
            a = parse_action(raw)
        except InputError as exc:
            out.rejections.append(Rejection(i, exc.field, exc.value, exc.expected))
            continue
        if a.type not in pol.allowed_types:
            out.rejections.append(Rejection(i, "type", a.type,
                                            f"not allowed by policy ({list(pol.allowed_types)})"))
            continue
        key = (a.type, a.touched_cells()[0])
        if key in seen:
            out.rejections.append(Rejection(i, "cell", key[1],
                                            f"a second {a.type} for the same cell"))
            continue
        created = a.touched_cells() if isinstance(a, DeployDrone) else []
        unknown = [c for c in a.touched_cells() if c not in names and c not in created]
        if unknown:
            out.rejections.append(Rejection(i, "cell", unknown[0], "not a cell of the network"))
            continue
        if isinstance(a, BlankPRBs) and a.n_blanked > 0:
            lo, hi = (bands or {}).get(a.cell, (0, -1))
            if hi < lo or a.start_prb < lo or a.end_prb > hi:
                out.rejections.append(Rejection(
                    i, "start_prb", a.start_prb, "blanking only of the PRBs in a radar's band"
                    + (f" ({lo}-{hi} on {a.cell})" if hi >= lo else f" (none on {a.cell})")))
                continue
        v = pol.check(a, network, drones)
        if v is not None:
            out.rejections.append(Rejection(i, v.field, v.value, v.reason))
            continue
        if unreadable:
            out.rejections.append(Rejection(
                i, "cell", a.touched_cells()[0], "rate limit unknown: stored directive "
                f"{unreadable[0]} of the last hour cannot be read, so no directive is allowed"))
            continue
        over = [c for c in a.touched_cells() if recent.get(c, 0) + pending.get(c, 0)
                >= (rate.limit if rate is not None else 10**9)]
        if over:
            out.rejections.append(Rejection(
                i, "cell", over[0], f"rate limit: {rate.limit if rate else 0} directives per "
                                    "cell per hour reached"))
            continue
        try:
            a.apply(trial)
        except InputError as exc:
            out.rejections.append(Rejection(i, exc.field, exc.value, exc.expected))
            continue
        seen.add(key)
        for c in a.touched_cells():
            pending[c] = pending.get(c, 0) + 1
        drones += isinstance(a, DeployDrone)
        out.actions.append(a)
    return out


_CELL_LIKE = re.compile(r"(?<![\w/])[A-Z][A-Za-z]*\d+/\d+(?![\w/])")
_NUMBER = re.compile(r"(?<![\w/])\d+(?:\.\d+)?(?![\w/])")


def unsupported(text: str, facts: str, names: list[str]) -> list[str]:
    """Cell names and numbers in ``text`` (a model's free text) that ``facts`` (the evidence
    it was shown) does not contain — including names shaped like a cell (``S9/9``) that no
    cell of ``names`` has: what a reply must not invent."""
    bad = [n for n in names if re.search(rf"(?<![\w/]){re.escape(n)}(?![\w/])", text)
           and n not in facts]
    known_names = set(names)
    bad += [c for c in dict.fromkeys(_CELL_LIKE.findall(text))
            if c not in known_names and c not in facts]  # a cell that does not exist
    known = {float(x) for x in _NUMBER.findall(facts)}
    for x in _NUMBER.findall(text):
        v = float(x)
        if v not in known and not any(abs(v - k) < 0.006 or abs(v - 100 * k) < 0.6
                                      for k in known):
            bad.append(x)
    return bad
