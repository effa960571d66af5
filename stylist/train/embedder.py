"""Build the embedded sentence embedder (`checkpoints/embedder`) from garment text.

    python -m stylist train-embedder            # builds checkpoints/embedder/ (a few seconds)

The embedded model is a sentence-transformers `StaticEmbedding` (an embedding bag) over a WordPiece
vocabulary of garment text, trained with in-batch negatives (MultipleNegativesRankingLoss) on pairs
that say "these two texts describe the same kind of item": a caption and its category name, and a
caption and a copy with words dropped (what a short generated description looks like).
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from tqdm import tqdm

from stylist.core.catalog import Item
from stylist.core.options import option, parse_config, summary
from stylist.core.prompts import item_caption
from stylist.data.corpus import garment_texts, train_word_tokenizer, training_items
from stylist.models.embedder import DEFAULT_EMBEDDER

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


@dataclass
class EmbedderConfig:
    out: str = option(str(DEFAULT_EMBEDDER), "where the embedder is written")
    vocab_size: int = option(4000, "WordPiece vocabulary of garment text")
    dim: int = option(96, "embedding dimensions")
    epochs: int = option(8, "passes over the training pairs, each with fresh word drops")
    batch_size: int = option(128, "pairs per step (the others in a batch are each pair's negatives)")
    lr: float = option(0.05, "Adam learning rate")
    drop: float = option(0.5, "share of words dropped from a caption to make its short 'description' view")
    seed: int = option(0, "seed of the initialisation, the word drops and the batches")


def dropped(caption: str, rng: random.Random, drop: float) -> str:
    """A shorter view of a caption: each word kept with probability 1 - drop, at least one word."""
    words = caption.replace(",", " ").split()
    kept = [w for w in words if rng.random() > drop]
    return " ".join(kept or [rng.choice(words)])


def training_pairs(items: list[Item], rng: random.Random, drop: float) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        caption = item_caption(item)
        if not caption:
            continue
        if item.category:
            pairs.append((item.category.lower(), caption))
        pairs.append((dropped(caption, rng, drop), caption))
    return pairs


def build_embedder(config: EmbedderConfig) -> SentenceTransformer:
    """Train the static embedder on garment text pairs (training part of the split only)."""
    from sentence_transformers import SentenceTransformer  # seconds to import: not for `--help`
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    items = training_items()
    tokenizer = train_word_tokenizer(garment_texts(items), config.vocab_size)
    model = SentenceTransformer(modules=[StaticEmbedding(tokenizer, embedding_dim=config.dim)], device="cpu")
    loss_fn = MultipleNegativesRankingLoss(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    for epoch in range(config.epochs):
        pairs = training_pairs(items, rng, config.drop)  # fresh word drops every epoch
        rng.shuffle(pairs)
        batches = [pairs[i:i + config.batch_size] for i in range(0, len(pairs), config.batch_size)]
        for batch in (bar := tqdm(batches, desc=f"embedder epoch {epoch + 1}/{config.epochs}", leave=False)):
            anchors, positives = zip(*batch)
            features = [model.preprocess(list(anchors)), model.preprocess(list(positives))]
            loss = loss_fn(features, None)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")
    return model


def main(argv: list[str] | None = None) -> int:
    config = parse_config(EmbedderConfig, argv, "python -m stylist train-embedder", summary(__doc__))
    torch.set_num_threads(1)
    model = build_embedder(config)
    out = Path(config.out)
    model.save(str(out))
    (out / "train_config.json").write_text(json.dumps(asdict(config), indent=1))
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"saved embedder to {out} ({size / 1e6:.1f} MB)")
    return 0
