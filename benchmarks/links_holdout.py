"""LINKs data planning on questions the planner was not developed on.

Scores the Planner's ways of choosing sensor types — the catalogue's vocabulary (default),
retrieval's draft (BM25 + sentence embeddings, the vocabulary's words added to the cards) and
the same draft over the bare cards (the planner before the vocabulary) — by mean F1 (LINKs
eq. 8), with the shortlist's recall@k, on the shared dev queries (the paper's Table I) and on
the hold-out sets in ``benchmarks/data/links_holdout`` (our own questions with gold types
written by the README rules of ``shared/data/smartcity``, by people who had not seen the
vocabulary). No model is needed: where the vocabulary names nothing the planner falls back to
retrieval. Prints a table and writes JSON.

Run::

    python benchmarks/links_holdout.py                   # ~1 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from twinnet.links.cards import load_districts, load_queries, load_sensor_cards
from twinnet.links.evaluate import score_planner, shortlist_recall
from twinnet.links.planner import AgenticPlanner, CardIndex
from twinnet.links.vocabulary import Vocabulary

RESULTS = Path(__file__).parent / "results"
HOLDOUT = Path(__file__).parent / "data" / "links_holdout"


class _BareRetrieval:
    """Retrieval's draft over the cards without the vocabulary (the planner before it)."""

    def __init__(self, planner: AgenticPlanner, cards: list[Any]):
        self.planner = planner
        planner.index = CardIndex(cards)

    def plan(self, query: str) -> Any:
        return self.planner.plan(query)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", nargs="*", type=Path,
                    default=sorted(HOLDOUT.glob("*.json")))
    ap.add_argument("--json", type=Path, default=RESULTS / "links_holdout.json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    cards, areas = load_sensor_cards(), load_districts()
    vocab = Vocabulary.load(cards)
    planners: dict[str, Any] = {
        "vocabulary": AgenticPlanner(None, cards, areas, vocabulary=vocab),
        "retrieval (cards + vocabulary)": AgenticPlanner(None, cards, areas, mode="retrieval",
                                                         vocabulary=vocab),
        "retrieval (bare cards)": _BareRetrieval(
            AgenticPlanner(None, cards, areas, mode="retrieval", vocabulary=vocab), cards),
    }
    sets = {"dev (Table I)": load_queries(), **{p.stem: load_queries(p) for p in args.sets}}
    res: dict[str, Any] = {"sets": {}}
    for name, qs in sets.items():
        row: dict[str, Any] = {"n": len(qs)}
        for pname, pl in planners.items():
            row[pname] = score_planner(pl, qs)["mean_f1"]
        row["recall"] = shortlist_recall(planners["vocabulary"].index, qs)
        row["recall (bare cards)"] = shortlist_recall(CardIndex(cards), qs)
        res["sets"][name] = row
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    cols = list(planners)
    print(f"{'set':<16}{'n':>4}" + "".join(f"{c[:30]:>32}" for c in cols) + f"{'recall@8':>10}")
    for name, row in res["sets"].items():
        print(f"{name:<16}{row['n']:>4}" + "".join(f"{row[c]:>32.3f}" for c in cols)
              + f"{row['recall']['recall@8']:>10.2f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=2))
    print(f"wrote {args.json} ({res['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
