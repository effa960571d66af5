"""Complete an outfit: for each missing slot the LM describes a piece, the embedder retrieves catalog
items near that description, and the LM's PMI score (plus the counts and a stylist's rubric of occasion,
colour and print, `stylist.recommend.styling`) re-ranks them. The season and the occasion's formality are
conditions (`stylist.core.attributes`): items known not to suit them are never candidates, and each card's
reason names the visitor's item it pairs with and why.

    python -m stylist recommend --caption "navy cotton t-shirt" --caption "blue denim jeans" \\
        --caption "white leather sneakers" [--occasion casual] [--season summer] [--k 5] [--json]
    python -m stylist recommend --caption "..." --llm <hf-id-or-folder> --adapter none --embedder <st-id-or-folder>

The catalog index (caption embeddings and slots, `stylist/recommend/index.py`) is built once per catalog
and kept in the data folder; the LM's unconditional likelihood of an item is computed the first time the item
is a candidate and then cached, so start-up does not grow with the catalog's LM work and a request pays for
generation, one retrieval and the likelihoods of its candidates. torch, transformers and
sentence-transformers are imported when the models load, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from stylist.core.attributes import Conditions
from stylist.core.catalog import Catalog, Item, load_catalog
from stylist.core.errors import StylistError
from stylist.core.options import summary
from stylist.core.paths import data_dir
from stylist.core.prompts import CAPTION_CHARS, Decoding, cut_caption, item_caption, outfit_prompt
from stylist.core.vocabulary import OTHER, SLOTS, occasion_choices, read_occasion_season, season_choices, slot_of
from stylist.models.spec import LMSpec
from stylist.recommend import styling
from stylist.recommend.index import CatalogIndex, embed, load_index
from stylist.recommend.reasons import pick_partner, reason_for

if TYPE_CHECKING:
    from stylist.models.outfit import OutfitModel

EXCLUSIVE = {"dresses": ("tops", "bottoms"), "tops": ("dresses",), "bottoms": ("dresses",)}
DESCRIPTION_CANDIDATES = 3  # caption rotations the LM describes a missing piece from (one greedy text each)
# how descriptions are drawn: greedy for the committed LM, whose sampled texts are often not words and cost 3x the
# latency (`bench/descriptions.py`, `bench/recommend_latency.py --samples`; docs/experiments/outfit-lm-pretraining.md)
DESCRIPTION_DECODING = Decoding()
ESSENTIAL = ("tops", "bottoms", "shoes")  # what an outfit cannot do without (a dress is optional: tops and bottoms)
SEASONAL_WEIGHT = 1.0  # score for an item made for the asked season alone (about a slot's score spread)
STYLED_PLACES = 4  # of a slot's candidates, held for the nearest items the rubric marks right when retrieval has fewer
STYLED_SEARCH = 60  # how many of a slot's nearest items are looked through for those places (5 ms at most)
STYLE_WEIGHT = 3.0  # per mark of the stylist's rubric (`styling.score`, 0-2), chosen on the judge bench's valid requests


@dataclass
class Suggestion:
    """One recommended item, with what the model was shown and which adapter folder made it (the DPO
    helper records them)."""

    item: Item
    slot: str
    score: float
    reason: str
    prompt: str
    description: str = ""  # what retrieval searched near: the LM's description, or its repair when it named another slot
    asked_for: str = ""  # the LM's own description when it named this slot (what a person is shown), else ""
    captions: list[str] = field(default_factory=list)
    occasion: str | None = None
    season: str | None = None
    adapter: str | None = None  # None: the bare base model


def missing_slots(captions: list[str], available: set[str]) -> list[str]:
    """Slots the outfit lacks (a dress stands for top and bottoms and the reverse), in SLOTS order."""
    present = {slot_of(c) for c in captions} - {OTHER}
    blocked = present | {s for p in present for s in EXCLUSIVE.get(p, ())}
    return [s for s in SLOTS if s not in blocked and s in available]


class Recommender:
    """Captions in, ranked catalog items per missing slot out, with any adapter version of the outfit model."""

    def __init__(self, catalog: Catalog, model: OutfitModel, embedder, candidates_per_slot: int = 12,
                 description_tokens: int = 12, remembered: int = 512, data: Path | None = None,
                 style_weight: float = STYLE_WEIGHT, decoding: Decoding = DESCRIPTION_DECODING):
        self.catalog, self.model, self.embedder = catalog, model, embedder
        self.style_weight, self.decoding = style_weight, decoding
        # a demo room asks for the same few outfits (the example photos) again and again: the same request on
        # the same catalog snapshot and adapter gives the same result, so the latest `remembered` are kept
        self._recent: OrderedDict[tuple, dict[str, list[Suggestion]]] = OrderedDict()
        self._recent_lock, self.remembered = threading.Lock(), remembered
        self.candidates_per_slot = candidates_per_slot
        self.description_tokens = description_tokens
        # replaced whole by add_items, read once per request: no lock for readers; stored in `data` (None: memory)
        self.index: CatalogIndex = load_index(catalog, embedder, data)
        self._adding = threading.Lock()  # two additions at once must not both extend the same snapshot

    @classmethod
    def load(cls, catalog: Catalog, llm: LMSpec | str | None = None, adapter: str | os.PathLike | None = None,
             embedder: str | None = None, data: Path | None = None) -> Recommender:
        """None = the embedded base LM, SFT adapter and embedder. `adapter` becomes version 0, the one a
        request without an adapter uses and the reference of every version's unconditional terms. `data`:
        the folder the catalog index and those terms are kept in across starts (None: rebuilt by every
        process)."""
        from stylist.models.embedder import load_embedder
        from stylist.models.outfit import load_outfit_model

        model = load_outfit_model(llm, adapter)
        if data is not None:
            model.keep_prior(data)
        return cls(catalog, model, load_embedder(embedder), data=data)

    @property
    def items(self) -> tuple[Item, ...]:
        """The catalog items that can be recommended now."""
        return self.index.items

    def add_items(self, items: list[Item]) -> None:
        """Index new catalog items (their embeddings), then publish them in one assignment, so concurrent
        requests see the catalog before or after, never half of it."""
        kept, vectors, slots = embed(self.embedder, items)
        if not kept:
            return
        with self._adding:
            self.index = self.index.extended(kept, vectors, slots)

    def describe(self, captions: list[str], slots: list[str], occasion: str | None, season: str | None,
                 adapter: str | os.PathLike | None = None, index: CatalogIndex | None = None) -> list[str]:
        """What the LM thinks each missing slot should hold: one short description per slot, naming that slot.

        The LM's candidates (`OutfitModel.describe` with `decoding`: a greedy text per rotation of the captions,
        sampled ones, best first) are read in order: the first that names the slot and suits the request's
        conditions wins, else the first that names the slot, else the first candidate with the slot's likeliest
        noun in place of the words naming another slot (a repair, never shown as the LM's words)."""
        return self._describe(captions, slots, occasion, season, adapter, index)[0]

    def _describe(self, captions: list[str], slots: list[str], occasion: str | None, season: str | None,
                  adapter: str | os.PathLike | None, index: CatalogIndex | None) -> tuple[list[str], set[str]]:
        """`describe`'s texts and the slots whose text is a repair (words the LM did not write as they stand)."""
        conditions = Conditions.of(captions, occasion, season)
        described = self.model.describe(captions, slots, occasion, season, min(len(captions), DESCRIPTION_CANDIDATES),
                                        self.description_tokens, adapter, self.decoding)
        chosen, repairs = {}, {}
        for slot, options in zip(slots, described):
            named = [t for t in options if slot_of(t) == slot]
            fitting = [t for t in named if not conditions.broken(Item(id="", title=t))]
            if fitting or named:
                chosen[slot] = (fitting or named)[0]
            else:
                repairs[slot] = self._slot_named(options[0], slot, index or self.index)
        chosen.update(self.model.likeliest(captions, repairs, occasion, season, adapter))
        return [chosen[slot] for slot in slots], set(repairs)

    @staticmethod
    def _slot_named(text: str, slot: str, index: CatalogIndex) -> list[str]:
        """The description's words minus those naming another slot, then each category name of `slot` in the
        catalog: the options a repair chooses from by the LM (so retrieval searches near words the catalog uses)."""
        kept = " ".join(w for w in text.split() if slot_of(w) in (OTHER, slot)).strip(" ,;")
        return [f"{kept} {noun}".strip() for noun in index.categories.get(slot) or [slot]]

    def query(self, description: str, slot: str) -> np.ndarray:
        """The embedding retrieval searches near: the description with the slot's name."""
        return self.embedder.encode([f"{description} {slot}".strip()], normalize_embeddings=True,
                                    convert_to_numpy=True)[0]

    def candidates(self, description: str, slot: str, conditions: Conditions, index: CatalogIndex,
                   fallback: bool = True) -> list[tuple[Item, list[str]]]:
        """The items of a slot nearest to the description that meet the request's season and formality, each
        with the conditions it breaks (none). When none meets them and `fallback`, the nearest of those breaking
        the fewest, so a slot the outfit needs is never left empty and its reason can say why."""
        kept: list[tuple[Item, list[str]]] = []
        breaking: list[tuple[Item, list[str]]] = []
        for item in index.ranked(self.query(description, slot), slot):
            broken = conditions.broken(item)
            if not broken:
                kept.append((item, broken))
                if len(kept) == self.candidates_per_slot:
                    break
            elif not kept:
                breaking.append((item, broken))
        if kept or not breaking or not fallback:
            return kept
        fewest = min(len(b) for _, b in breaking)
        return [(i, b) for i, b in breaking if len(b) == fewest][:self.candidates_per_slot]

    def _styled(self, pool: list[tuple[Item, list[str]]], description: str, slot: str, conditions: Conditions,
                index: CatalogIndex, captions: list[str], occasion: str | None, season: str | None
                ) -> list[tuple[Item, list[str]]]:
        """The candidates as a stylist would have them (`styling`): a finishing touch the rubric calls wrong for
        this request (a belt on a slip dress, a canvas tote at night) is left out, and up to STYLED_PLACES places
        go to the nearest items it marks right (score 2): retrieval finds what is near the model's description
        (a beige shoulder bag), which may hold no satin clutch for a night out. A pool that already breaks a
        condition, or a rubric without weight, is kept as it is."""
        if not self.style_weight or not pool or pool[0][1]:
            return pool
        def marks(item: Item) -> float:
            return styling.score(item, slot, captions, occasion, season)
        if slot not in ESSENTIAL:
            pool = [p for p in pool if styling.fit(p[0], slot, captions, occasion, season) > 0]
        right = [p for p in pool if marks(p[0]) == 2]
        ids = {item.id for item, _ in pool}
        for item in itertools.islice(index.ranked(self.query(description, slot), slot), STYLED_SEARCH):
            if len(right) >= STYLED_PLACES:
                break
            if item.id not in ids and not conditions.broken(item) and marks(item) == 2:
                right.append((item, []))
        size = max(len(pool), min(len(right), STYLED_PLACES))
        return [p for p in pool if p not in right][:size - len(right)] + right[:size]

    def recommend(self, captions: list[str], occasion: str | None = None, season: str | None = None, k: int = 5,
                  slots: list[str] | None = None, adapter: str | os.PathLike | None = None
                  ) -> dict[str, list[Suggestion]]:
        """The top k catalog items for each missing slot (or each of `slots`), made with the adapter folder
        `adapter` (None: the one it was loaded with); safe to call from several threads at once."""
        captions = [c.strip() for c in captions if c and c.strip()]
        if not captions:
            raise StylistError("give at least one caption of an item you have")
        index = self.index  # one snapshot for the whole request, whatever add_items publishes meanwhile
        key = (tuple(captions), occasion, season, k, tuple(slots or ()), str(adapter), len(index.items))  # add_items only appends
        with self._recent_lock:
            if key in self._recent:
                self._recent.move_to_end(key)
                return {slot: list(found) for slot, found in self._recent[key].items()}
        result = self._recommend(captions, occasion, season, k, slots, adapter, index)
        with self._recent_lock:
            self._recent[key] = result
            while len(self._recent) > self.remembered:
                self._recent.popitem(last=False)
        return {slot: list(found) for slot, found in result.items()}

    def _recommend(self, captions: list[str], occasion: str | None, season: str | None, k: int,
                   slots: list[str] | None, adapter: str | os.PathLike | None, index: CatalogIndex
                   ) -> dict[str, list[Suggestion]]:
        available = set(index.rows)
        asked = bool(slots)
        if slots:
            unknown = [s for s in slots if s not in SLOTS]
            if unknown:
                raise StylistError(f"unknown slot(s) {', '.join(unknown)}; choose from {', '.join(SLOTS)}")
            slots = [s for s in slots if s in available]
        else:
            slots = missing_slots(captions, available)
        conditions = Conditions.of(captions, occasion, season)
        descriptions, repaired = self._describe(captions, slots, occasion, season, adapter, index) if slots else ([], set())
        # a slot the visitor asked for, or one no outfit does without, falls back; a finishing touch no item
        # of which suits the request is left out, as the demo catalog's own outfits leave it out
        found = {slot: self.candidates(d, slot, conditions, index, fallback=asked or slot in ESSENTIAL)
                 for slot, d in zip(slots, descriptions)}
        found = {slot: self._styled(pool, description, slot, conditions, index, captions, occasion, season)
                 for (slot, pool), description in zip(found.items(), descriptions)}
        pools = {slot: [item for item, _ in pool] for slot, pool in found.items()}
        made_with = str(adapter) if adapter is not None else self.model.adapter
        ranked = {}
        for slot, scores in self.model.rank_slots(captions, pools, occasion, season, adapter).items():
            scores = scores + np.array([SEASONAL_WEIGHT * conditions.seasonal(i)
                                        + self.style_weight * styling.score(i, slot, captions, occasion, season)
                                        for i in pools[slot]])
            ranked[slot] = [(int(i), float(scores[i])) for i in np.argsort(-scores, kind="stable")[:k]]
        # which of the visitor's items each shown card names: its backward PMI with each of them
        shown = {slot: [item_caption(pools[slot][i]) for i, _ in top] for slot, top in ranked.items()}
        backward = {slot: terms[1]
                    for slot, terms in self.model.slot_terms(captions, shown, occasion, season, adapter).items()}
        # a visitor's item that every shown card raises (a long, specific caption) says nothing about one of them:
        # a card names the item it raises more than the request's cards do on average
        typical = np.concatenate(list(backward.values())).mean(0) if backward else None
        result, named = {}, Counter()
        for slot, description in zip(slots, descriptions):
            if slot not in ranked:
                continue
            pool, prompt = pools[slot], outfit_prompt(captions, slot, occasion, season)
            result[slot] = [Suggestion(pool[i], slot, score,
                                       reason_for(pool[i], captions[pick_partner(backward[slot][rank] - typical, named)],
                                                  conditions, found[slot][i][1]),
                                       prompt, description, "" if slot in repaired else description, captions,
                                       occasion, season, made_with)
                            for rank, (i, score) in enumerate(ranked[slot])]
        return result


def add_decoding_arguments(parser: argparse.ArgumentParser) -> None:
    """--samples, --temperature, --prior-weight: the description decoding (default: the recommender's own)."""
    parser.add_argument("--samples", type=int, default=DESCRIPTION_DECODING.samples,
                        help="sampled descriptions per slot beside the greedy ones")
    parser.add_argument("--temperature", type=float, default=DESCRIPTION_DECODING.temperature)
    parser.add_argument("--prior-weight", type=float, default=DESCRIPTION_DECODING.prior_weight,
                        help="order by log p(text | outfit) - w log p(text | slot alone); 0: as written")


def decoding_of(args: argparse.Namespace) -> Decoding:
    return Decoding(args.samples, args.temperature, args.prior_weight)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylist recommend", description=summary(__doc__))
    parser.add_argument("--caption", action="append", required=True,
                        help=f"an item you have (repeat); cut at a word to {CAPTION_CHARS} characters")
    parser.add_argument("--occasion", help=f"case-insensitive: {occasion_choices()}")
    parser.add_argument("--season", help=f"case-insensitive: {season_choices()}")
    parser.add_argument("--slot", action="append", choices=SLOTS, help="only these slots (repeat; default: the missing ones)")
    parser.add_argument("--k", type=int, default=5, help="suggestions per slot (default: 5)")
    parser.add_argument("--catalog", default="demo", help="'demo', a photo folder or a catalog JSON")
    LMSpec.add_arguments(parser)
    parser.add_argument("--embedder", help="sentence-transformers id or folder (default: checkpoints/embedder)")
    parser.add_argument("--data-dir", help="keep the catalog index in this folder across runs (default: none)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    occasion, season, notes = read_occasion_season(args.occasion, args.season)
    captions = []
    for caption in args.caption:
        caption, note = cut_caption(caption)
        captions.append(caption)
        notes += [note] if note else []
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    import torch

    torch.set_num_threads(1)
    data = data_dir(args.data_dir) if args.data_dir else None
    recommender = Recommender.load(load_catalog(args.catalog), LMSpec.from_args(args).check(), None, args.embedder,
                                   data)
    result = recommender.recommend(captions, occasion, season, args.k, args.slot)
    if args.json:
        print(json.dumps({slot: [{"id": s.item.id, "caption": item_caption(s.item), "score": round(s.score, 4),
                                  "reason": s.reason, "asked_for": s.asked_for} for s in found]
                          for slot, found in result.items()}))
        return 0
    for slot, found in result.items():
        print(f"{slot}  (the model asked for: {found[0].asked_for})" if found[0].asked_for else slot)
        for s in found:
            print(f"  {s.score:7.3f}  {item_caption(s.item)}  [{s.item.id}]  {s.reason}")
    return 0
