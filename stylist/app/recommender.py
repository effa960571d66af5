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
from pathlib import Path

import numpy as np
import torch
from peft import PeftModel

from stylist.core.catalog import Catalog, Item, load_catalog
from stylist.core.colors import PALETTE
from stylist.core.errors import StylistError
from stylist.core.prompts import completion, item_caption, outfit_prompt
from stylist.core.vocabulary import OTHER, SLOTS, slot_of
from stylist.models.counts import DEFAULT_COUNTS, CountModel
from stylist.models.embedder import load_embedder
from stylist.models.outfit import PMIScorer, attach_adapter, generate, load_lm, load_scoring_config

NEUTRALS = {"black", "white", "grey", "navy", "beige", "brown"}
EXCLUSIVE = {"dresses": ("tops", "bottoms"), "tops": ("dresses",), "bottoms": ("dresses",)}


@dataclass
class Suggestion:
    """One recommended item, with what the model was shown (the DPO helper records it)."""

    item: Item
    slot: str
    score: float
    reason: str
    prompt: str
    description: str = ""
    captions: list[str] = field(default_factory=list)
    occasion: str | None = None
    season: str | None = None


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
    """Captions in, ranked catalog items per missing slot out."""

    def __init__(self, catalog: Catalog, scorer: PMIScorer, embedder, adapter: str | None,
                 candidates_per_slot: int = 12, description_tokens: int = 12):
        self.catalog, self.scorer, self.embedder = catalog, scorer, embedder
        self.adapter = adapter
        self.candidates_per_slot = candidates_per_slot
        self.description_tokens = description_tokens
        self._caches = {adapter: scorer.cache}
        # the unconditional terms stay with the adapter loaded here (version 0), see PMIScorer
        scorer.reference = scorer.model.active_adapter if isinstance(scorer.model, PeftModel) else ""
        self.items: list[Item] = []
        self.vectors = np.zeros((0, 1), dtype=np.float32)
        self.add_items(catalog.wearable())

    @classmethod
    def load(cls, catalog: Catalog, llm: str | None = None, adapter: str | os.PathLike | None = None,
             embedder: str | None = None) -> Recommender:
        """None = the embedded base LM, SFT adapter and embedder; adapter may be any adapter version folder."""
        model, tokenizer = load_lm(llm, adapter)
        counts = CountModel.load(DEFAULT_COUNTS) if DEFAULT_COUNTS.exists() else None
        config = load_scoring_config()
        if counts is None:
            config.counts = 0.0
        scorer = PMIScorer(model, tokenizer, config, counts)
        return cls(catalog, scorer, load_embedder(embedder), str(adapter) if adapter else None)

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
        self._warm(items)

    def _warm(self, items: list[Item]) -> None:
        self.scorer.logprobs([(outfit_prompt([], i.slot), completion(item_caption(i))) for i in items])

    def set_adapter(self, path: str | os.PathLike) -> None:
        """Switch to another adapter version; each version keeps its own cache of conditional likelihoods,
        while the unconditional ones (`scorer.prior`) keep coming from version 0 and are shared."""
        key = str(path)
        if key == self.adapter:
            return
        model = self.scorer.model
        if not isinstance(model, PeftModel):
            model = attach_adapter(model, path, name=_name(key))
        elif _name(key) not in model.peft_config:
            model.load_adapter(key, adapter_name=_name(key))
        model.set_adapter(_name(key))
        model.eval()
        self.scorer.model, self.adapter = model, key
        self.scorer.cache = self._caches.setdefault(key, {})

    def describe(self, captions: list[str], slots: list[str], occasion: str | None, season: str | None) -> list[str]:
        """What the LM thinks each missing slot should hold (one short description per slot)."""
        prompts = [outfit_prompt(captions, slot, occasion, season) for slot in slots]
        return generate(self.scorer.model, self.scorer.tokenizer, prompts, max_new_tokens=self.description_tokens)

    def retrieve(self, description: str, slot: str) -> list[Item]:
        """The catalog items of a slot nearest to the description."""
        query = self.embedder.encode([f"{description} {slot}"], normalize_embeddings=True, convert_to_numpy=True)[0]
        scores = np.where(self.slot_of_item == slot, self.vectors @ query, -np.inf)
        top = np.argsort(-scores)[:self.candidates_per_slot]
        return [self.items[i] for i in top if np.isfinite(scores[i])]

    @torch.no_grad()
    def recommend(self, captions: list[str], occasion: str | None = None, season: str | None = None, k: int = 5,
                  slots: list[str] | None = None) -> dict[str, list[Suggestion]]:
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
        descriptions = self.describe(captions, slots, occasion, season) if slots else []
        pools = {slot: self.retrieve(d, slot) for slot, d in zip(slots, descriptions)}
        everything = [(slot, item) for slot, pool in pools.items() for item in pool]
        # one batched pass for all slots' likelihoods; the per-slot calls below hit the cache
        self.scorer.logprobs([p for slot, item in everything
                              for p in self.scorer.pmi_pairs(captions, item_caption(item), slot, occasion, season)])
        user_items = [Item(id=f"user-{n}", title=c) for n, c in enumerate(captions)]
        result = {}
        for slot, description in zip(slots, descriptions):
            pool = pools[slot]
            if not pool:
                continue
            forward, backward = self.scorer.pmi_terms(captions, [item_caption(i) for i in pool], slot, occasion, season)
            counts = np.array(self.scorer.counts.candidate_scores(user_items, pool)) if self.scorer.counts else None
            scores = self.scorer.combine(forward, backward, counts)
            prompt = outfit_prompt(captions, slot, occasion, season)
            ranked = np.argsort(-scores, kind="stable")[:k]
            result[slot] = [Suggestion(pool[i], slot, float(scores[i]),
                                       reason_for(pool[i], captions[int(np.argmax(backward[i]))], occasion),
                                       prompt, description, captions, occasion, season) for i in ranked]
        return result


def _name(path: str) -> str:
    """A PEFT adapter name for a folder (names may not contain dots)."""
    return "a_" + "".join(ch if ch.isalnum() else "_" for ch in Path(path).resolve().as_posix())[-60:]


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
