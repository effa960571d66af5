"""Do the outfit LM's own descriptions of a missing piece fit the request? Demo-catalog outfits across the four
occasions and four seasons, each piece hidden in turn and asked for by its slot with the outfit's occasion and season.

    python bench/descriptions.py [--per-pair 3] [--llm DIR --adapter DIR] [--json OUT]
    python bench/descriptions.py --part dev --samples 8 --prior-weight 0.5     # choosing the decoding

Requests of each occasion x season's first outfit are the "dev" part, on which the recommender's decoding
(`--samples`, `--temperature`, `--prior-weight`; default: the recommender's own) is chosen; the others are "eval".

For every request the model's words, never a repair: "greedy" is the LM's one greedy text (the first caption
order); "shown" is what the page and CLI show ("the model asked for: ..."), the recommender's pick among its
candidates (caption rotations and samples, in the decoding's order), left blank when none names the slot.
Printed for each: the share naming the asked slot (`slot_of`), the share breaking the season by the catalog's own
word tables (`attributes.seasons_of`: wool, puffer or boots in summer, sandals or linen in winter), and the share
of the most common first colour word. Targets: slot >= 90%,
season broken <= 5%, most common first colour <= 35%.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import torch

from stylist.core.attributes import seasons_of, words
from stylist.core.catalog import Item, load_catalog
from stylist.core.colors import PALETTE
from stylist.core.prompts import item_caption
from stylist.core.vocabulary import OCCASIONS, SEASONS, slot_of
from stylist.models.spec import LMSpec
from stylist.recommend.recommender import Recommender, add_decoding_arguments, decoding_of


def first_colour(text: str) -> str | None:
    """The first palette colour a description names ("light blue" before "blue"), or None."""
    found = words(text)
    for n, word in enumerate(found):
        pair = " ".join(found[n:n + 2])
        if pair in PALETTE or word in PALETTE:
            return pair if pair in PALETTE else word
    return None


def shares(texts: list[tuple[str, str, str]]) -> dict:
    """(text, slot, season) rows -> the three shares, over every request (a blank text names no slot)."""
    n = len(texts)
    named = sum(slot_of(t) == slot for t, slot, _ in texts if t)
    broken = sum(bool(t) and (s := seasons_of(Item(id="", title=t))) is not None and season not in s
                 for t, _, season in texts)
    colours = Counter(c for t, _, _ in texts if t and (c := first_colour(t)))
    top, count = colours.most_common(1)[0] if colours else ("-", 0)
    return {"requests": n, "slot_named": round(named / n, 4), "season_broken": round(broken / n, 4),
            "top_colour": top, "top_colour_share": round(count / max(sum(colours.values()), 1), 4),
            "with_colour": sum(colours.values())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-pair", type=int, default=3, help="demo outfits per occasion x season")
    parser.add_argument("--part", choices=["dev", "eval", "all"], default="all",
                        help="dev: each pair's first outfit (to choose the decoding on); eval: the others")
    add_decoding_arguments(parser)
    LMSpec.add_arguments(parser)
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    catalog = load_catalog("demo")
    recommender = Recommender.load(catalog, LMSpec.from_args(args).check())
    recommender.decoding = decoding_of(args)
    requests = []  # (captions, slot, occasion, season)
    for occasion in OCCASIONS:
        for season in SEASONS:
            outfits = [o for o in catalog.outfits if o.tags.get("occasion") == occasion
                       and o.tags.get("season") == season][:args.per_pair]
            for n, outfit in enumerate(outfits):
                if args.part != "all" and (n == 0) != (args.part == "dev"):
                    continue
                captions = [item_caption(i) for i in catalog.outfit_items(outfit)]
                for k, item in enumerate(catalog.outfit_items(outfit)):
                    requests.append((captions[:k] + captions[k + 1:], item.slot, occasion, season))
    start = time.perf_counter()
    greedy, shown, examples = [], [], []
    for captions, slot, occasion, season in requests:
        [[text, *_]] = recommender.model.describe(captions, [slot], occasion, season, 1, recommender.description_tokens)
        [suggestion, *_] = recommender.recommend(captions, occasion, season, k=1, slots=[slot])[slot]
        greedy.append((text, slot, season))
        shown.append((suggestion.asked_for, slot, season))
        if len(examples) < 12 and len(requests) // 12 and len(greedy) % (len(requests) // 12) == 1:
            examples.append({"outfit": captions, "slot": slot, "occasion": occasion, "season": season,
                             "greedy": text, "shown": suggestion.asked_for})
    report = {"llm": args.llm, "adapter": args.adapter, "part": args.part, "decoding": asdict(recommender.decoding),
              "greedy": shares(greedy), "shown": shares(shown),
              "seconds": round(time.perf_counter() - start, 1), "examples": examples}
    print("| description | requests | names the slot | breaks the season | most common first colour |")
    print("|---|---|---|---|---|")
    for name in ("greedy", "shown"):
        r = report[name]
        print(f"| {name} | {r['requests']} | {r['slot_named']:.1%} | {r['season_broken']:.1%} | "
              f"{r['top_colour']} {r['top_colour_share']:.1%} of {r['with_colour']} |")
    for e in examples:
        print(f"  {e['occasion']} {e['season']}, {e['slot']}: greedy {e['greedy']!r}, shown {e['shown']!r}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
