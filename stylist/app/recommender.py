"""Complete an outfit: for each missing slot the LM describes a piece, the embedder retrieves catalog
items near that description, and the LM's PMI score (plus the counts) re-ranks them.

    python -m stylist recommend --caption "navy cotton t-shirt" --caption "blue denim jeans" \\
        --caption "white leather sneakers" [--occasion casual] [--season summer] [--k 5] [--json]
    python -m stylist recommend --caption "..." --llm <hf-id-or-folder> --adapter none --embedder <st-id-or-folder>

Catalog caption embeddings and the candidates' unconditional log-likelihoods are computed once at
load, so a request only pays for generation, one retrieval and the conditional likelihoods.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field

import numpy as np
import torch

from stylist.core.catalog import Catalog, Item, load_catalog
from stylist.core.colors import PALETTE
from stylist.core.errors import StylistError
from stylist.core.prompts import item_caption, outfit_prompt
from stylist.core.vocabulary import OTHER, SLOTS, slot_of
from stylist.models.embedder import load_embedder
from stylist.models.outfit import OutfitModel, load_outfit_model

NEUTRALS = {"black", "white", "grey", "navy", "beige", "brown"}
EXCLUSIVE = {"dresses": ("tops", "bottoms"), "tops": ("dresses",), "bottoms": ("dresses",)}


@dataclass
class Suggestion:
    """One recommended item, with what the model was shown and which adapter folder made it (the DPO
    helper records them)."""

    item: Item
    slot: str
    score: float
    reason: str
    prompt: str
    description: str = ""
    captions: list[str] = field(default_factory=list)
    occasion: str | None = None
    season: str | None = None
    adapter: str | None = None  # None: the bare base model


def missing_slots(captions: list[str], available: set[str]) -> list[str]:
    """Slots the outfit lacks (a dress stands for top and bottoms and the reverse), in SLOTS order."""
    present = {slot_of(c) for c in captions} - {OTHER}
    blocked = present | {s for p in present for s in EXCLUSIVE.get(p, ())}
    return [s for s in SLOTS if s not in blocked and s in available]


def colours_in(text: str) -> list[str]:
    return [c for c in sorted(PALETTE, key=len, reverse=True) if f" {c} " in f" {text.lower()} "]


def reason_for(item: Item, partner: str, occasion: str | None) -> str:
    """One line: which of the user's items it goes with best, and why in colour and style words."""
    colours = item.colors or colours_in(item_caption(item))
    shared = [c for c in colours if c in colours_in(partner)]
    if shared:
        why = [f"matching {shared[0]}"]
    elif colours and all(c in NEUTRALS for c in colours):
        why = ["neutral colours"]
    elif colours:
        why = [f"{'an' if colours[0][0] in 'aeiou' else 'a'} {colours[0]} accent"]
    else:
        why = []
    why += [s for s in (item.style[:1] or ([occasion] if occasion else []))]
    return f"goes with your {partner}" + (": " + ", ".join(why) if why else "")


class Recommender:
    """Captions in, ranked catalog items per missing slot out, with any adapter version of the outfit model."""

    def __init__(self, catalog: Catalog, model: OutfitModel, embedder, candidates_per_slot: int = 12,
                 description_tokens: int = 12):
        self.catalog, self.model, self.embedder = catalog, model, embedder
        self.candidates_per_slot = candidates_per_slot
        self.description_tokens = description_tokens
        self.items: list[Item] = []
        self.vectors = np.zeros((0, 1), dtype=np.float32)
        self.add_items(catalog.wearable())

    @classmethod
    def load(cls, catalog: Catalog, llm: str | None = None, adapter: str | os.PathLike | None = None,
             embedder: str | None = None) -> Recommender:
        """None = the embedded base LM, SFT adapter and embedder. `adapter` becomes version 0, the one a
        request without an adapter uses and the reference of every version's unconditional terms."""
        return cls(catalog, load_outfit_model(llm, adapter), load_embedder(embedder))

    def add_items(self, items: list[Item]) -> None:
        """Index new catalog items: embeddings and unconditional likelihoods, once."""
        items = [i for i in items if i.slot != OTHER]
        if not items:
            return
        captions = [item_caption(i) for i in items]
        vectors = self.embedder.encode(captions, normalize_embeddings=True, convert_to_numpy=True)
        self.vectors = vectors if not self.items else np.concatenate([self.vectors, vectors])
        self.items += items
        self.slot_of_item = np.array([i.slot for i in self.items])
        self.model.warm(items)

    def describe(self, captions: list[str], slots: list[str], occasion: str | None, season: str | None,
                 adapter: str | os.PathLike | None = None) -> list[str]:
        """What the LM thinks each missing slot should hold (one short description per slot)."""
        prompts = [outfit_prompt(captions, slot, occasion, season) for slot in slots]
        return self.model.generate(prompts, max_new_tokens=self.description_tokens, adapter=adapter)

    def retrieve(self, description: str, slot: str) -> list[Item]:
        """The catalog items of a slot nearest to the description."""
        query = self.embedder.encode([f"{description} {slot}"], normalize_embeddings=True, convert_to_numpy=True)[0]
        scores = np.where(self.slot_of_item == slot, self.vectors @ query, -np.inf)
        top = np.argsort(-scores)[:self.candidates_per_slot]
        return [self.items[i] for i in top if np.isfinite(scores[i])]

    @torch.no_grad()
    def recommend(self, captions: list[str], occasion: str | None = None, season: str | None = None, k: int = 5,
                  slots: list[str] | None = None, adapter: str | os.PathLike | None = None
                  ) -> dict[str, list[Suggestion]]:
        """The top k catalog items for each missing slot (or each of `slots`), made with the adapter folder
        `adapter` (None: the one it was loaded with); safe to call from several threads at once."""
        captions = [c.strip() for c in captions if c and c.strip()]
        if not captions:
            raise StylistError("give at least one caption of an item you have")
        available = set(self.slot_of_item.tolist())
        if slots:
            unknown = [s for s in slots if s not in SLOTS]
            if unknown:
                raise StylistError(f"unknown slot(s) {', '.join(unknown)}; choose from {', '.join(SLOTS)}")
            slots = [s for s in slots if s in available]
        else:
            slots = missing_slots(captions, available)
        descriptions = self.describe(captions, slots, occasion, season, adapter) if slots else []
        pools = {slot: self.retrieve(d, slot) for slot, d in zip(slots, descriptions)}
        everything = [(slot, item) for slot, pool in pools.items() for item in pool]
        # one batched pass for all slots' likelihoods; the per-slot calls below hit the cache
        self.model.logprobs([p for slot, item in everything
                             for p in self.model.pmi_pairs(captions, item_caption(item), slot, occasion, season)],
                            adapter)
        made_with = str(adapter) if adapter is not None else self.model.adapter
        user_items = [Item(id=f"user-{n}", title=c) for n, c in enumerate(captions)]
        result = {}
        for slot, description in zip(slots, descriptions):
            pool = pools[slot]
            if not pool:
                continue
            forward, backward = self.model.pmi_terms(captions, [item_caption(i) for i in pool], slot, occasion, season,
                                                     adapter)
            scores = self.model.combine(forward, backward, self.model.counts_scores(user_items, pool))
            prompt = outfit_prompt(captions, slot, occasion, season)
            ranked = np.argsort(-scores, kind="stable")[:k]
            result[slot] = [Suggestion(pool[i], slot, float(scores[i]),
                                       reason_for(pool[i], captions[int(np.argmax(backward[i]))], occasion),
                                       prompt, description, captions, occasion, season, made_with)
                            for i in ranked]
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylist recommend", description=__doc__.split("\n")[0])
    parser.add_argument("--caption", action="append", required=True, help="an item you have (repeat)")
    parser.add_argument("--occasion")
    parser.add_argument("--season")
    parser.add_argument("--slot", action="append", help="only these slots (default: the missing ones)")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--catalog", default="demo", help="'demo', a photo folder or a catalog JSON")
    parser.add_argument("--llm", help="HF causal LM id or folder (default: checkpoints/base-lm)")
    parser.add_argument("--adapter", help="adapter folder, or 'none' (default: checkpoints/adapters/sft)")
    parser.add_argument("--embedder", help="sentence-transformers id or folder (default: checkpoints/embedder)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    recommender = Recommender.load(load_catalog(args.catalog), args.llm, args.adapter, args.embedder)
    result = recommender.recommend(args.caption, args.occasion, args.season, args.k, args.slot)
    if args.json:
        print(json.dumps({slot: [{"id": s.item.id, "caption": item_caption(s.item), "score": round(s.score, 4),
                                  "reason": s.reason, "description": s.description} for s in found]
                          for slot, found in result.items()}))
        return 0
    for slot, found in result.items():
        print(f"{slot}  (the model asked for: {found[0].description or '-'})")
        for s in found:
            print(f"  {s.score:7.3f}  {item_caption(s.item)}  [{s.item.id}]  {s.reason}")
    return 0
