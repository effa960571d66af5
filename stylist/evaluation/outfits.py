"""Fill-in-the-blank accuracy and compatibility AUC of an outfit scorer, on any Polyvore-format outfits.

    python -m stylist eval fitb --outfits ../shared/data/polyvore/outfits.json --split test [--hard] [--json]
    python -m stylist eval fitb --outfits OUTFITS.json --questions FITB.json [--adapter PATH|none]
    python -m stylist eval compat --outfits ../shared/data/polyvore/outfits.json --split test [--json]
    python -m stylist eval compat --outfits OUTFITS.json --pairs COMPAT.txt [--scorer counts]

Without --questions / --pairs the questions are built deterministically from the outfits: one blank
per outfit and 3 negatives drawn from other outfits (--hard: of the blank's category); a compatibility
negative is an outfit of as many random items from other outfits. Ties are broken at random (fixed
seed), so a scorer that cannot tell answers apart scores 25%, whatever the answer order.
`--scorer`: model (the recommender's scorer), lm (the LM's PMI score alone), counts, chance.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from tqdm import tqdm

from stylist.core.catalog import Catalog, Item, Outfit, load_polyvore
from stylist.core.errors import StylistError
from stylist.core.options import summary
from stylist.core.paths import shared_data
from stylist.data.splits import split_outfits
from stylist.models.spec import LMSpec

if TYPE_CHECKING:
    from stylist.models.outfit import OutfitModel


class OutfitScorer(Protocol):
    def candidate_scores(self, context: list[Item], candidates: list[Item]) -> list[float]: ...
    def outfit_score(self, items: list[Item]) -> float: ...


class ChanceScorer:
    """Gives every answer the same score: the floor that tie-breaking must keep at chance."""

    def candidate_scores(self, context: list[Item], candidates: list[Item]) -> list[float]:
        return [0.0] * len(candidates)

    def outfit_score(self, items: list[Item]) -> float:
        return 0.0


@dataclass
class FitbQuestion:
    """Polyvore convention: the first answer is the right one; blank_position is 1-based."""

    question: list[str]
    answers: list[str]
    blank_position: int = 1


@dataclass
class CompatPair:
    label: int
    item_ids: list[str]


def build_fitb_questions(catalog: Catalog, outfits: Sequence[Outfit], hard: bool = False, seed: int = 0,
                         n_negatives: int = 3) -> list[FitbQuestion]:
    """One question per outfit of 2+ items: a random blank, negatives from other outfits of the same pool."""
    rng = random.Random(seed)
    owner = {i: o.id for o in outfits for i in o.item_ids if i in catalog.items}
    pool = sorted(owner)
    by_category: dict[str, list[str]] = defaultdict(list)
    for item_id in pool:
        by_category[catalog.items[item_id].category].append(item_id)
    questions = []
    for outfit in outfits:
        ids = [i for i in outfit.item_ids if i in catalog.items]
        if len(ids) < 2:
            continue
        blank = rng.randrange(len(ids))
        answer = ids[blank]
        same = by_category[catalog.items[answer].category] if hard else pool
        choices = [i for i in same if owner[i] != outfit.id]
        if len(choices) < n_negatives:  # a rare category: fill up with random items
            choices += rng.sample([i for i in pool if owner[i] != outfit.id and i not in choices], n_negatives)
        negatives = rng.sample(choices, n_negatives) if len(choices) >= n_negatives else choices[:n_negatives]
        questions.append(FitbQuestion(ids[:blank] + ids[blank + 1:], [answer, *negatives], blank + 1))
    return questions


def build_compat_pairs(catalog: Catalog, outfits: Sequence[Outfit], seed: int = 0) -> list[CompatPair]:
    """Each outfit (label 1) and an outfit of as many random items from other outfits (label 0)."""
    rng = random.Random(seed)
    owner = {i: o.id for o in outfits for i in o.item_ids if i in catalog.items}
    pool = sorted(owner)
    pairs = []
    for outfit in outfits:
        ids = [i for i in outfit.item_ids if i in catalog.items]
        if len(ids) < 2:
            continue
        pairs.append(CompatPair(1, ids))
        pairs.append(CompatPair(0, rng.sample([i for i in pool if owner[i] != outfit.id], len(ids))))
    return pairs


def read_fitb_questions(path: str | Path) -> list[FitbQuestion]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StylistError(f"questions {path}: cannot read a JSON list ({exc})") from exc
    if not isinstance(data, list):
        raise StylistError(f"questions {path}: expected a JSON list of questions")
    questions = []
    for n, q in enumerate(data):
        if not isinstance(q, dict) or not isinstance(q.get("question"), list) or not isinstance(q.get("answers"), list) \
                or len(q["answers"]) < 2:
            raise StylistError(f"questions {path}, #{n}: expected 'question' and 'answers' (2+) lists")
        questions.append(FitbQuestion([str(i) for i in q["question"]], [str(i) for i in q["answers"]],
                                      int(q.get("blank_position", 1))))
    return questions


def read_compat_pairs(path: str | Path) -> list[CompatPair]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise StylistError(f"pairs {path}: cannot read ({exc})") from exc
    pairs = []
    for number, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        if parts[0] not in ("0", "1") or len(parts) < 2:
            raise StylistError(f"pairs {path}, line {number}: expected '<0|1> <item id> ...', got {line[:60]!r}")
        pairs.append(CompatPair(int(parts[0]), parts[1:]))
    return pairs


def unknown_ids(catalog: Catalog, id_lists: Sequence[Sequence[str]]) -> list[str]:
    return sorted({i for ids in id_lists for i in ids if i not in catalog.items})


def report_unknown(unknown: list[str], skipped: int, what: str) -> None:
    """Item ids missing from the outfits file are named on stderr, never dropped silently."""
    if unknown:
        shown = ", ".join(unknown[:10]) + (f" ... ({len(unknown)} in all)" if len(unknown) > 10 else "")
        print(f"warning: {len(unknown)} item ids not in the outfits file: {shown}; "
              f"skipped {skipped} {what} that use them", file=sys.stderr)


def fitb_accuracy(scorer: OutfitScorer, catalog: Catalog, questions: Sequence[FitbQuestion], seed: int = 0,
                  progress: bool = True) -> float:
    """Share of questions whose first answer scores highest; ties go to a random tied answer."""
    rng = np.random.default_rng(seed)
    correct = 0
    for q in tqdm(questions, desc="fitb", disable=not progress, leave=False):
        scores = np.asarray(scorer.candidate_scores([catalog.items[i] for i in q.question],
                                                    [catalog.items[i] for i in q.answers]), dtype=np.float64)
        best = np.flatnonzero(scores >= scores.max() - 1e-9)
        correct += int(rng.choice(best) == 0)
    return correct / max(len(questions), 1)


def compat_auc(scorer: OutfitScorer, catalog: Catalog, pairs: Sequence[CompatPair], progress: bool = True) -> float:
    from sklearn.metrics import roc_auc_score  # seconds to import: not for `--help`

    labels = [p.label for p in pairs]
    if len(set(labels)) < 2:
        raise StylistError("compatibility AUC needs both real (1) and random (0) outfits")
    scores = [scorer.outfit_score([catalog.items[i] for i in p.item_ids])
              for p in tqdm(pairs, desc="compat", disable=not progress, leave=False)]
    return float(roc_auc_score(labels, scores))


def heldout_fitb(scorer: OutfitScorer, n: int = 100, hard: bool = False) -> float:
    """Quick FITB on the first n questions of the held-out Polyvore test part (seconds): the number
    the DPO refinement records before and after each new adapter version."""
    catalog = load_polyvore(shared_data() / "polyvore" / "outfits.json")
    questions = build_fitb_questions(catalog, split_outfits(catalog.outfits)["test"], hard=hard)[:n]
    return fitb_accuracy(scorer, catalog, questions, progress=False)


class ResultsTable:
    """FITB, hard FITB and compatibility AUC of several scorers on the same questions (one set per seed), as the
    results tables in bench/ print them: mean over seeds, with the standard deviation when there are several."""

    def __init__(self, catalog: Catalog, outfits: Sequence[Outfit], seeds: Sequence[int]):
        self.catalog, self.seeds = catalog, list(seeds)
        self.tasks = {seed: (build_fitb_questions(catalog, outfits, seed=seed),
                             build_fitb_questions(catalog, outfits, hard=True, seed=seed),
                             build_compat_pairs(catalog, outfits, seed=seed)) for seed in self.seeds}
        self.rows: dict[str, np.ndarray] = {}

    @property
    def questions(self) -> int:
        return len(next(iter(self.tasks.values()))[0])

    def add(self, label: str, scorer: OutfitScorer) -> None:
        runs = [(fitb_accuracy(scorer, self.catalog, fitb, seed=seed),
                 fitb_accuracy(scorer, self.catalog, hard, seed=seed), compat_auc(scorer, self.catalog, pairs))
                for seed, (fitb, hard, pairs) in self.tasks.items()]
        self.rows[label] = np.array(runs)
        print(label, np.round(self.rows[label].mean(0), 3).tolist(), file=sys.stderr, flush=True)

    def markdown(self, what: str) -> str:
        lines = [f"| scorer ({what}, {self.questions} outfits, seeds {self.seeds}) | FITB random negatives | "
                 "FITB same-category negatives | compatibility AUC |", "|---|---|---|---|"]
        for label, runs in self.rows.items():
            cells = [f"{m:.3f}" + (f" ± {s:.3f}" if len(runs) > 1 else "") for m, s in zip(runs.mean(0), runs.std(0))]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def to_json(self) -> dict[str, list]:
        return {label: runs.tolist() for label, runs in self.rows.items()}


def load_scorer(name: str, llm: LMSpec | str | None = None, adapter: str | None = None,
                share: OutfitModel | None = None) -> OutfitScorer:
    """chance, counts, lm (the LM's PMI alone) or model (the recommender's scorer: LM PMI + counts).
    The bare embedded base LM (adapter 'none') is scored with the weights tuned for it, when there are some.
    `share`: an OutfitModel of the same LM and adapter whose likelihoods to reuse (see `load_outfit_model`)."""
    if name == "chance":
        return ChanceScorer()
    from stylist.models.outfit import SCORER_DIR, load_outfit_model  # torch only when an LM is asked for

    spec = LMSpec.of(llm, adapter)
    base = SCORER_DIR / "scoring_base.json"
    # None: the weights tuned next to the adapter, else the committed ones (`load_outfit_model`)
    own = base if spec.llm is None and spec.adapter == "none" and base.exists() else None
    return load_outfit_model(spec, use_lm=name != "counts", use_counts=name != "lm", scoring=own, share=share)


def select_outfits(catalog: Catalog, split: str) -> list[Outfit]:
    return catalog.outfits if split == "all" else split_outfits(catalog.outfits)[split]


def main(argv: list[str]) -> int:
    task, rest = argv[0], argv[1:]
    parser = argparse.ArgumentParser(prog=f"python -m stylist eval {task}", description=summary(__doc__))
    parser.add_argument("--outfits", default=str(shared_data() / "polyvore" / "outfits.json"))
    parser.add_argument("--categories", default=str(shared_data() / "polyvore" / "category_id.txt"))
    if task == "fitb":
        parser.add_argument("--questions", help="FITB.json (Polyvore format); default: built from the outfits")
        parser.add_argument("--hard", action="store_true", help="built negatives share the blank's category")
    else:
        parser.add_argument("--pairs", help="COMPAT.txt ('<label> <id> ...' lines); default: built from the outfits")
    parser.add_argument("--split", default="all", choices=["all", "train", "valid", "test"],
                        help="which outfits to build questions from (test = the held-out 20%%)")
    parser.add_argument("--scorer", default="model", choices=["model", "lm", "counts", "chance"])
    LMSpec.add_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="last line: a JSON object with the metric and n")
    args = parser.parse_args(rest)

    catalog = load_polyvore(args.outfits, args.categories)
    outfits = select_outfits(catalog, args.split)
    scorer = load_scorer(args.scorer, LMSpec.from_args(args))
    if task == "fitb":
        questions = read_fitb_questions(args.questions) if args.questions else \
            build_fitb_questions(catalog, outfits, hard=args.hard, seed=args.seed)
        unknown = unknown_ids(catalog, [q.question + q.answers for q in questions])
        usable = [q for q in questions if not unknown_ids(catalog, [q.question + q.answers])]
        report_unknown(unknown, len(questions) - len(usable), "questions")
        result = {"accuracy": fitb_accuracy(scorer, catalog, usable, seed=args.seed), "n": len(usable)}
    else:
        pairs = read_compat_pairs(args.pairs) if args.pairs else build_compat_pairs(catalog, outfits, seed=args.seed)
        unknown = unknown_ids(catalog, [p.item_ids for p in pairs])
        usable = [p for p in pairs if not unknown_ids(catalog, [p.item_ids])]
        report_unknown(unknown, len(pairs) - len(usable), "outfits")
        result = {"auc": compat_auc(scorer, catalog, usable), "n": len(usable)}
    given = args.questions if task == "fitb" else args.pairs
    built = "built, hard negatives" if task == "fitb" and args.hard else "built"
    result.update(unknown_ids=len(unknown), scorer=args.scorer, split=args.split, adapter=args.adapter,
                  questions=given or built)
    metric = "accuracy" if task == "fitb" else "auc"
    print(f"{task} {metric}: {result[metric]:.4f} on {result['n']} ({args.scorer} scorer)")
    if args.json:
        print(json.dumps(result))
    return 0
