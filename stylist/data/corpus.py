"""The garment text the project's own models learn from, and the tokenizers built on it.

Training data = the Polyvore outfits outside the held-out test part (`splits`) plus the demo catalog's
outfits. The base LM and the embedder read single items (titles, category names, caption vocabulary);
the outfit adapter reads whole outfits.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from stylist.core.catalog import Catalog, Item, load_catalog, read_categories
from stylist.core.colors import PALETTE
from stylist.core.paths import DEMO_CATALOG, shared_data
from stylist.core.prompts import completion, item_caption, outfit_prompt
from stylist.core.vocabulary import SLOTS
from stylist.data.demo_catalog import SEED, build_outfits
from stylist.data.splits import polyvore_catalog, split_outfits

SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]


@dataclass
class TrainingOutfit:
    """An outfit's items and its optional occasion/season tags."""

    items: list[Item]
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def captions(self) -> list[str]:
        return [item_caption(i) for i in self.items]


def demo_catalog() -> Catalog | None:
    """The demo catalog, or None while it has not been generated yet."""
    return load_catalog("demo") if (DEMO_CATALOG / "catalog.json").exists() else None


def outfits_of(catalog: Catalog, outfits=None) -> list[TrainingOutfit]:
    chosen = catalog.outfits if outfits is None else outfits
    return [TrainingOutfit(catalog.outfit_items(o), dict(o.tags)) for o in chosen if len(catalog.outfit_items(o)) >= 2]


def training_outfits(part: str = "train", with_demo: bool = True) -> list[TrainingOutfit]:
    """Polyvore outfits of a split part ('train', 'valid' or 'fit' = both) plus, optionally, the demo's."""
    if part == "test":
        raise ValueError("the test part is held out from all training")
    polyvore = polyvore_catalog()
    outfits = outfits_of(polyvore, split_outfits(polyvore.outfits)[part])
    demo = demo_catalog() if with_demo else None
    return outfits + (outfits_of(demo) if demo else [])


def more_demo_outfits(n: int, seed: int = 1) -> list[TrainingOutfit]:
    """`n` more rule-made outfits of the demo catalog's own items, each tagged with its occasion and season, drawn
    in another random stream than the catalog's (those it already has left out): more outfits that keep the
    catalog's season and occasion rules for the LM to learn from, while assets/demo stays as it is."""
    catalog = demo_catalog()
    if catalog is None or n <= 0:
        return []
    have = {frozenset(o.item_ids) for o in catalog.outfits}
    drawn = build_outfits(list(catalog.items.values()), n + len(have), seed=seed + SEED)
    return outfits_of(catalog, [o for o in drawn if frozenset(o.item_ids) not in have][:n])


def training_items() -> list[Item]:
    """Every item training may see: Polyvore items outside the test part, and the demo catalog."""
    polyvore = polyvore_catalog()
    items = [item for outfit in split_outfits(polyvore.outfits)["fit"] for item in polyvore.outfit_items(outfit)]
    demo = demo_catalog()
    return items + (list(demo.items.values()) if demo else [])


def negative_pairs(n: int, seed: int = 0, same_category: float = 0.5) -> list[dict[str, str]]:
    """n DPO rows (trl's prompt/chosen/rejected) from the Polyvore training part, never its valid or test
    part: an outfit with one item blanked, that item as chosen and another outfit's item as rejected, of
    the same category for a `same_category` share of the rows. The method's "negative examples"; [] without
    the shared data."""
    if n <= 0 or not (shared_data() / "polyvore" / "outfits.json").exists():
        return []
    polyvore = polyvore_catalog()
    outfits = [items for o in split_outfits(polyvore.outfits)["train"] if len(items := polyvore.outfit_items(o)) >= 2]
    pool = [item for items in outfits for item in items]
    by_category: dict[str, list[Item]] = {}
    for item in pool:
        by_category.setdefault(item.category, []).append(item)
    rng, rows = random.Random(seed), []
    while len(rows) < n:
        items = rng.choice(outfits)
        answer = items[rng.randrange(len(items))]
        negative = rng.choice(by_category[answer.category] if rng.random() < same_category else pool)
        if negative in items or item_caption(negative) == item_caption(answer):
            continue
        rows.append({"prompt": outfit_prompt([item_caption(i) for i in items if i is not answer], answer.slot),
                     "chosen": completion(item_caption(answer)), "rejected": completion(item_caption(negative))})
    return rows


def category_names() -> list[str]:
    path = shared_data() / "polyvore" / "category_id.txt"
    return [name.lower() for name in read_categories(path).values()] if path.exists() else []


def garment_texts(items: Iterable[Item] | None = None) -> list[str]:
    """Single-item garment text: captions, category names and the caption vocabulary (colours, slots)."""
    captions = [item_caption(i) for i in (training_items() if items is None else items)]
    vocabulary = [*category_names(), *PALETTE, *SLOTS]
    return [c for c in captions if c] + vocabulary


def train_lm_tokenizer(texts: list[str], vocab_size: int) -> Tokenizer:
    """A lower-casing BPE tokenizer whose decoder restores spaces (for generation), with pad/bos/eos/unk."""
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, min_frequency=2,
                                  show_progress=False)
    # The prompt's own words must be whole tokens too, although the base LM never trains on prompts.
    template = [outfit_prompt(["a", "b"], slot, "occasion", "season") for slot in SLOTS]
    tokenizer.train_from_iterator(texts + template, trainer)
    return tokenizer


def train_word_tokenizer(texts: list[str], vocab_size: int) -> Tokenizer:
    """A lower-casing WordPiece tokenizer: known words stay whole, new words fall back to pieces."""
    tokenizer = Tokenizer(models.WordPiece(unk_token="<unk>"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=["<unk>"], min_frequency=2,
                                        show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer
