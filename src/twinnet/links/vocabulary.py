"""The catalogue's vocabulary: mapping a question onto the Sensor Cards without a model.

The Sensor Cards say what each type measures; people ask with other words ("flooding", "charge
my car", "power cuts") and leave drivers implicit ("where are outages most likely?" needs what
makes them likely). :class:`Vocabulary` expands the cards with their own words and causal links
(``vocabulary.toml`` beside this module, or a file of the same format for another catalogue):

* **concepts** — phrases (matched on Snowball stems, a few stopwords dropped, longest match
  first, non-overlapping) and the sensor types that measure each, with *narrowing* words that
  pick a subset ("power consumption" in a question about homes → the residential meters);
* **drivers** — for a type, the types that measure what drives it. A question that asks for a
  likelihood, risk, cause or prediction and names none of a quantity's drivers needs them; a
  question that names a field of drivers ("due to weather conditions") takes that field's
  drivers only, and of several quantities the drivers they share (the conditions that drive
  them *at the same time*);
* every card is also found by its own name and id words, so a catalogue without a vocabulary
  file still maps questions that name their types.

:meth:`Vocabulary.plan` returns the types with its evidence (which phrase gave which type, which
drivers were added and why) for the Planner's trace.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinnet.errors import InputError

if TYPE_CHECKING:
    from twinnet.links.cards import SensorCard

__all__ = ["Mention", "Vocabulary", "VocabularyPlan"]

DEFAULT_PATH = Path(__file__).with_name("vocabulary.toml")

#: words without meaning for the match ("frequency of the power grid" = "frequency power grid")
STOPWORDS = frozenset({"the", "a", "an", "of", "my", "our", "your", "its", "their", "this",
                       "that", "these", "those", "is", "are", "be", "it", "some", "any"})
_WORD = re.compile(r"[a-z0-9][a-z0-9.+/()]*[a-z0-9)]|[a-z0-9]")  # hyphens split words
_CARD_NOISE = frozenset({"sensor", "data", "feed", "record", "device", "monitor"})


@dataclass(frozen=True)
class Mention:
    """A phrase of the question that names a concept: its words, position and types."""

    phrase: str
    start: int
    end: int
    types: tuple[str, ...]


@dataclass
class VocabularyPlan:
    """The types a question needs, with the mentions and drivers that gave them."""

    types: list[str]
    mentions: list[Mention] = field(default_factory=list)
    drivers: dict[str, list[str]] = field(default_factory=dict)
    risk: bool = False
    categories: list[str] = field(default_factory=list)

    def evidence(self) -> dict[str, Any]:
        return {"mentions": [{"phrase": m.phrase, "types": list(m.types)}
                             for m in self.mentions],
                "drivers": self.drivers, "risk": self.risk, "categories": self.categories}


@dataclass(frozen=True)
class _Concept:
    terms: tuple[tuple[str, ...], ...]
    types: tuple[str, ...]
    narrow: tuple[tuple[tuple[tuple[str, ...], ...], tuple[str, ...]], ...] = ()
    weak: bool = False


class Vocabulary:
    """Concepts, drivers, driver categories and risk words over a set of Sensor Cards."""

    def __init__(self, cards: list[SensorCard], raw: dict[str, Any] | None = None,
                 source: str = "vocabulary", strict: bool = True):
        import snowballstemmer

        self._stemmer = snowballstemmer.stemmer("english")
        self.field_of = {c.id: c.field for c in cards}
        self.strict = strict
        raw = raw or {}
        self.source = source
        self.concepts: list[_Concept] = []
        for i, c in enumerate(raw.get("concept", [])):
            where = f"{source}: concept[{i}]"
            if not isinstance(c, dict):
                raise InputError(where, c, "a table with 'terms' and 'types'")
            types = tuple(self._types(c.get("types"), f"{where}.types"))
            if not types:
                continue
            terms = c.get("terms")
            if not isinstance(terms, list) or not terms or not all(
                    isinstance(t, str) and t.strip() for t in terms):
                raise InputError(f"{where}.terms", terms, "a non-empty list of phrases")
            narrow = []
            for j, n in enumerate(c.get("narrow", [])):
                w = n.get("when") if isinstance(n, dict) else None
                if not isinstance(w, list) or not w:
                    raise InputError(f"{where}.narrow[{j}].when", w, "a non-empty list of words")
                sub = tuple(self._types(n.get("types"), f"{where}.narrow[{j}].types"))
                if not sub:
                    continue
                if not set(sub) <= set(types):
                    raise InputError(f"{where}.narrow[{j}].types", list(sub),
                                     f"a subset of the concept's types {list(types)}")
                narrow.append((tuple(p for p in (self.stems(w_) for w_ in w) if p), sub))
            self.concepts.append(_Concept(tuple(p for p in (self.stems(t) for t in terms) if p),
                                          types, tuple(narrow), bool(c.get("weak", False))))
        # every card is found by its own id and name words ("water level", "wind direction")
        for c in cards:
            names = {c.id.replace("_", " "),
                     " ".join(w for w in c.name.lower().split() if w not in _CARD_NOISE)}
            self.concepts.append(_Concept(tuple(p for p in (self.stems(n) for n in names)
                                                if len(p) >= 2), (c.id,)))
        # phrases that name nothing: a concept without types, matched like any other
        ignore = raw.get("ignore", [])
        if not isinstance(ignore, list) or not all(isinstance(w, str) for w in ignore):
            raise InputError(f"{source}: ignore", ignore, "a list of phrases")
        self.concepts.append(_Concept(tuple(p for p in (self.stems(w) for w in ignore) if p),
                                      ()))
        self.drivers: dict[str, tuple[str, ...]] = {}
        for t, ds in (raw.get("drivers") or {}).items():
            if self._types([t], f"{source}: drivers"):
                self.drivers[t] = tuple(self._types(ds, f"{source}: drivers.{t}"))
        self.categories: dict[str, tuple[tuple[str, ...], ...]] = {}
        for f, words in (raw.get("categories") or {}).items():
            if f not in set(self.field_of.values()) | {"weather", "energy", "transport",
                                                         "telecom"}:
                raise InputError(f"{source}: categories", f, "a field of the Sensor Cards")
            self.categories[f] = tuple(self.stems(w) for w in words)
        self.risk = frozenset(s for w in raw.get("risk", []) for s in self.stems(w))
        self.cues = tuple(c for c in (self.stems(w) for w in raw.get("cues", [])) if c)
        self._by_first: dict[str, list[tuple[tuple[str, ...], int]]] = {}
        for k, con in enumerate(self.concepts):
            for t in con.terms:
                self._by_first.setdefault(t[0], []).append((t, k))

    @classmethod
    def load(cls, cards: list[SensorCard], path: str | Path | None = None) -> Vocabulary:
        """The vocabulary file at ``path``: a type it names that is not among ``cards`` is an
        error naming the entry. Without ``path``, the one shipped for the Milan cards, whose
        entries for types ``cards`` lack are left out (another catalogue keeps what fits)."""
        p = Path(path) if path is not None else DEFAULT_PATH
        if not p.is_file():
            raise InputError("vocabulary", str(p), "an existing TOML file")
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InputError(str(p), "TOML", f"valid TOML ({exc})") from exc
        return cls(cards, raw, source=p.name, strict=path is not None)

    def _types(self, types: Any, where: str) -> list[str]:
        if not isinstance(types, list) or not types:
            raise InputError(where, types, "a non-empty list of sensor type ids")
        for t in types:
            if t not in self.field_of and self.strict:
                raise InputError(where, t, "a sensor type of the cards")
        return [t for t in types if t in self.field_of]

    def terms_of(self, type_id: str) -> list[str]:
        """The vocabulary's phrases for ``type_id`` (stemmed), to expand its card's text."""
        return [" ".join(w.lstrip("=") for w in t) for c in self.concepts if type_id in c.types
                for t in c.terms]

    def stems(self, text: str) -> tuple[str, ...]:
        """The stemmed words of ``text`` without the stopwords; a word written ``=word`` in a
        vocabulary term stays as it is and matches only itself ("=parking" is not "park")."""
        out: list[str] = []
        for raw in text.lower().replace("’", "'").split():
            exact = raw.startswith("=")
            words = [w for w in _WORD.findall(raw) if w not in STOPWORDS]
            out += [f"={w}" for w in words] if exact else self._stemmer.stemWords(words)
        return tuple(out)

    def _tokens(self, query: str) -> tuple[list[str], list[str]]:
        """The question's words without the stopwords, and their stems."""
        words = [w for w in _WORD.findall(query.lower()) if w not in STOPWORDS]
        return words, self._stemmer.stemWords(words)

    def mentions(self, query: str) -> list[Mention]:
        """The concepts the question names: all matches, longest first, non-overlapping."""
        return self._mentions(*self._tokens(query))[0]

    def _mentions(self, words: list[str], toks: list[str]
                  ) -> tuple[list[Mention], set[int]]:
        """The mentions of :meth:`mentions` and the word positions every matched phrase takes
        (the ignored phrases' too)."""
        joined = f" {' '.join(toks)} "
        found = []
        for i, tok in enumerate(toks):
            for term, k in [*self._by_first.get(tok, []),
                            *self._by_first.get(f"={words[i]}", [])]:
                if i + len(term) <= len(toks) and all(
                        w == (f"={words[j]}" if w.startswith("=") else toks[j])
                        for j, w in enumerate(term, i)):
                    found.append((len(term), i, k))
        taken: set[int] = set()
        out = []
        for n, i, k in sorted(found, key=lambda x: (-x[0], x[1])):
            span = set(range(i, i + n))
            if span & taken:
                continue
            taken |= span
            con = self.concepts[k]
            types = con.types
            for when, sub in con.narrow:
                if any(f" {' '.join(p)} " in joined for p in when):
                    types = sub
                    break
            out.append((Mention(" ".join(words[i:i + n]), i, i + n, types), con.weak))
        out.sort(key=lambda x: x[0].start)
        strong = [m for m, weak in out if not weak and m.types]
        keep = []
        for m, weak in out:
            if not m.types:
                continue
            # an activity implies its weather only if the question names none of that field
            fields = {self.field_of[t] for t in m.types}
            if weak and any(fields & {self.field_of[t] for t in o.types} for o in strong):
                continue
            # a general phrase yields to a specific one of its family ("nitrogen dioxide
            # pollution" is NO2; "the station's total in the downpour" is the gauge alone)
            if any(set(o.types) < set(m.types) for o, _ in out if o.types):
                continue
            keep.append(m)
        return keep, taken

    def _stated(self, toks: list[str], ms: list[Mention]) -> set[str]:
        """Types of the mentions right after a cue ("due to …", "impact of …"): the drivers
        the question states."""
        out: set[str] = set()
        for cue in self.cues:
            for i in range(len(toks) - len(cue) + 1):
                if tuple(toks[i:i + len(cue)]) == cue:
                    end = i + len(cue)
                    for m in ms:
                        if end <= m.start <= end + 3:
                            out |= set(m.types)
                            break
        return out

    def plan(self, query: str) -> VocabularyPlan:
        """The types ``query`` needs: those of its mentions, then the drivers it implies."""
        words, toks = self._tokens(query)
        ms, taken = self._mentions(words, toks)
        targets = list(dict.fromkeys(t for m in ms for t in m.types))
        risk = bool(self.risk & set(toks))
        # a field of drivers named outside every phrase ("weather station" names none)
        joined = f" {' '.join(t for i, t in enumerate(toks) if i not in taken)} "
        cats = [f for f, terms in self.categories.items()
                if any(f" {' '.join(t)} " in joined for t in terms)]
        plan = VocabularyPlan(list(targets), ms, {}, risk, cats)
        if not targets or not (risk or cats):
            return plan
        stated = self._stated(toks, ms)
        if set(targets) <= stated:  # "when is an outage likely?" states no driver
            stated = set()
        if stated and not cats:  # the question states its driver: nothing else is added
            return plan
        # a named quantity that drives another named one is a driver, not something to explain
        drives = {d for t in targets for d in self.drivers.get(t, ())}
        wanted: dict[str, list[str]] = {}
        for t in targets:
            ds = self.drivers.get(t, ())
            if not ds or set(ds) & set(targets) or t in drives or t in stated:
                continue
            # another quantity named in a field of its drivers is its stated driver ("will
            # the snowfall cause power cuts": snow, not the heat that usually does)
            if {self.field_of[d] for d in ds} & {self.field_of[x] for x in targets
                                                 if x != t and x not in self.drivers}:
                continue
            if cats:
                ds = tuple(d for d in ds if self.field_of[d] in cats)
            if ds:
                wanted[t] = list(ds)
        if cats and len(wanted) > 1:  # conditions that drive them all at once, if any
            shared = set.intersection(*(set(v) for v in wanted.values()))
            if shared:
                wanted = {t: [d for d in v if d in shared] for t, v in wanted.items()}
        plan.drivers = wanted
        for chosen in wanted.values():
            for d in chosen:
                if d not in plan.types:
                    plan.types.append(d)
        return plan
