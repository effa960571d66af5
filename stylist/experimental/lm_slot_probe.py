"""The LM that names the missing slot (`stylist.experimental.slot_format`), scored alone and with the counts.

    python -m stylist.experimental.lm_slot_probe --llm runs/slot/base --adapter runs/slot/sft --weights-out W.json
    python -m stylist.experimental.lm_slot_probe --llm ... --adapter ... --split test --weights W.json --seeds 0 1 2 3 4

Maryland FITB (random and same-category negatives) and compatibility AUC: valid question seeds 0-2 choose the
weights (and 3-5 read them, unless --seeds says otherwise); test is only read, with weights chosen on valid. A candidate's LM terms: the PMI of its slot with the outfit ("missing" + " shoes:"),
of its caption given the slot (per token), and backward, each outfit item's slot and caption given the candidate.
Weights are searched for the LM alone and, with the caption term held at 1 as `train-lm --step tune` holds it,
with the counts.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from stylist.core.catalog import Item
from stylist.core.options import summary
from stylist.core.prompts import completion, item_caption, outfit_prompt
from stylist.data.splits import polyvore_catalog, split_outfits
from stylist.evaluation.outfits import build_compat_pairs, build_fitb_questions
from stylist.models.outfit import ScoringConfig, load_outfit_model

DEV, READ = (0, 1, 2), (3, 4, 5)
NOTHING = outfit_prompt([]).removesuffix(":")


def pairs_of(context: list[Item], candidate: Item) -> list[tuple[str, str]]:
    """The (prompt, text) likelihoods a candidate's terms need: its slot and caption with and without the outfit,
    its caption given the slot, and each outfit item's slot and caption given the candidate alone and given nothing."""
    ctx, cap, slot = [item_caption(i) for i in context], item_caption(candidate), candidate.slot
    pairs = [(outfit_prompt(ctx).removesuffix(":"), completion(f"{slot}: {cap}")), (NOTHING, completion(f"{slot}: {cap}")),
             (outfit_prompt(ctx, slot), completion(cap)), (outfit_prompt([], slot), completion(cap))]
    for o, item in zip(ctx, context):
        pairs += [(outfit_prompt([cap]).removesuffix(":"), completion(f"{item.slot}: {o}")),
                  (NOTHING, completion(f"{item.slot}: {o}"))]
    return pairs


def terms(lm: tuple, counts, context: list[Item], candidate: Item) -> dict[str, float]:
    """The candidate's LM terms (`lm`: the same LM scoring summed and per-token log-likelihoods) and counts."""
    summed, per_token = lm
    pairs = pairs_of(context, candidate)
    lp, caption_per_token = summed.logprobs(pairs), per_token.logprobs(pairs[2:4])
    return {"slot": lp[0] - lp[1] - (lp[2] - lp[3]), "caption": caption_per_token[0] - caption_per_token[1],
            "backward": float(np.mean(lp[4::2] - lp[5::2])),
            "counts": counts.candidate_scores(context, [candidate])[0]}


def score(row: dict[str, float], w: dict[str, float]) -> float:
    return sum(v * row[k] for k, v in w.items())


def metrics(tasks: dict, w: dict[str, float], seeds: tuple[int, ...]) -> np.ndarray:
    """Mean (FITB, same-category FITB, AUC) over the seeds; ties go to a random tied answer."""
    out = []
    for seed in seeds:
        rng, accs = np.random.default_rng(seed), []
        for questions in tasks[seed][:2]:
            right = 0
            for rows in questions:
                s = np.array([score(r, w) for r in rows])
                right += rng.choice(np.flatnonzero(s >= s.max() - 1e-9)) == 0
            accs.append(right / len(questions))
        pairs = tasks[seed][2]
        out.append([*accs, roc_auc_score([l for l, _ in pairs], [np.mean([score(r, w) for r in rows]) for _, rows in pairs])])
    return np.mean(out, 0)


def choose(tasks: dict, grid: list[dict[str, float]], seeds: tuple[int, ...]) -> dict[str, float]:
    """The weights of `grid` with the best mean (FITB, same-category FITB, AUC) on `seeds`."""
    return max(grid, key=lambda w: metrics(tasks, w, seeds).mean())


GRIDS = {"counts alone": [{"counts": 1.0}],
         "LM alone": [{"slot": s, "caption": c, "backward": b}
                      for s, c, b in itertools.product((0, 0.5, 1, 2), (0, 0.5, 1), (0, 0.5, 1)) if s or c or b],
         "LM + counts": [{"slot": s, "caption": 1.0, "backward": b, "counts": c}
                         for s, b, c in itertools.product((0, 0.5, 1, 2), (0, 0.5, 1), (0.5, 1, 2, 4, 8))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=summary(__doc__))
    parser.add_argument("--llm", required=True)
    parser.add_argument("--adapter", required=True)
    parser.add_argument("--split", default="valid", choices=["valid", "test"])
    parser.add_argument("--seeds", type=int, nargs="+", help="question seeds (default: 0-2 to choose, 3-5 to read)")
    parser.add_argument("--weights", help="read these weights (a --weights-out file) instead of choosing")
    parser.add_argument("--weights-out", help="write the weights chosen here (JSON)")
    args = parser.parse_args()
    if args.split == "test" and not args.weights:
        parser.error("test is only read, with --weights chosen on valid")
    torch.set_num_threads(1)
    catalog = polyvore_catalog()
    outfits = split_outfits(catalog.outfits)[args.split]
    summed = load_outfit_model(args.llm, args.adapter, use_counts=False, scoring=ScoringConfig(length_power=0.0))
    lm = (summed, load_outfit_model(share=summed, use_counts=False, scoring=ScoringConfig(length_power=1.0)))
    counts = load_outfit_model(use_lm=False)
    seeds = tuple(args.seeds) if args.seeds else (DEV if args.weights else DEV + READ)
    questions = {seed: ([(q.question, q.answers) for q in build_fitb_questions(catalog, outfits, seed=seed)],
                        [(q.question, q.answers) for q in build_fitb_questions(catalog, outfits, hard=True, seed=seed)],
                        [(p.label, [(p.item_ids[:k] + p.item_ids[k + 1:], [p.item_ids[k]]) for k in range(len(p.item_ids))])
                         for p in build_compat_pairs(catalog, outfits, seed=seed)]) for seed in seeds}
    items = catalog.items
    asked = [q for fitb, hard, compat in questions.values() for q in fitb + hard]
    asked += [q for _, _, compat in questions.values() for _, blanks in compat for q in blanks]
    summed.logprobs([p for ids, answers in asked for a in answers
                     for p in pairs_of([items[i] for i in ids], items[a])])  # one batched pass fills the cache
    rows = lambda ids, answers: [terms(lm, counts, [items[i] for i in ids], items[a]) for a in answers]
    tasks = {seed: ([rows(*q) for q in fitb], [rows(*q) for q in hard],
                    [(label, [rows(*q)[0] for q in blanks]) for label, blanks in compat])
             for seed, (fitb, hard, compat) in questions.items()}
    chosen = (json.loads(Path(args.weights).read_text()) if args.weights
              else {label: choose(tasks, grid, DEV) for label, grid in GRIDS.items()})
    report = {label: {"weights": w, "seeds": list(seeds), "per_seed": {s: metrics(tasks, w, (s,)).round(4).tolist()
                                                                     for s in seeds},
                      "mean": metrics(tasks, w, seeds).round(4).tolist()} for label, w in chosen.items()}
    print(f"| {args.split}, seeds {' '.join(map(str, seeds))} | weights | FITB / same-category / AUC |\n|---|---|---|")
    for label, row in report.items():
        print(f"| {label} | {row['weights']} | {' / '.join(f'{x:.3f}' for x in row['mean'])} |")
    if args.weights_out:
        Path(args.weights_out).write_text(json.dumps(chosen, indent=1))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
