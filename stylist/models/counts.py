"""The counting baseline: which categories and title words appear together in real outfits.

Two items go together when their features (category, slot, price band, title words) co-occur in training outfits
more often than chance: smoothed pointwise mutual information, log((C(a,b) + alpha) / (E(a,b) + alpha)),
where E(a,b) = C(a) C(b) / N is the count expected if features were independent. alpha shrinks rare
pairs towards 0 (no evidence) instead of letting one co-occurrence count as proof. It is the baseline
of the results table and a feature of the recommender's scorer.

    python -m stylist eval fitb --scorer counts --outfits ../shared/data/polyvore/outfits.json --split test
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

from stylist.core.catalog import Item, price_band
from stylist.core.paths import CHECKPOINTS
from stylist.core.prompts import item_caption

DEFAULT_COUNTS = CHECKPOINTS / "scorer" / "counts.npz"
STOPWORDS = {"and", "with", "in", "of", "the", "a", "for", "by", "to", "on", "&", "de", "x"}


@dataclass
class CountConfig:
    min_count: int = 2      # features seen in fewer training items are ignored
    alpha: float = 1.0      # pseudo-count that shrinks rare co-occurrences towards PMI 0
    category_weight: float = 1.0
    word_weight: float = 1.0
    price_weight: float = 0.0  # real outfits keep to a price range; 0 for counts saved before prices were read


def features(item: Item) -> tuple[list[str], list[str], list[str]]:
    """(category, price, word) features of an item: its category and slot, its price band (a factor of 2
    wide; none when no price is listed) and its caption's words."""
    categorical = [f"c:{item.category.lower()}"] if item.category else []
    categorical.append(f"s:{item.slot}")
    band = price_band(item.price)
    price = [] if band is None else [f"p:{band}"]
    words = {w for w in re.findall(r"[a-z]+", item_caption(item)) if len(w) > 1 and w not in STOPWORDS}
    return categorical, price, [f"w:{w}" for w in sorted(words)]


class CountModel:
    """Feature co-occurrence counts over item pairs of the same outfit, and the PMI scores built on them."""

    def __init__(self, vocab: list[str], pair_counts: np.ndarray, config: CountConfig):
        self.config = config
        self.vocab = vocab
        self.index = {f: i for i, f in enumerate(vocab)}
        self.pair_counts = pair_counts
        self._marginal = pair_counts.sum(1, dtype=np.float64)
        self._total = max(float(self._marginal.sum()), 1.0)

    def pmi(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """PMI of features x with features y, shrunk towards 0 by the pseudo-count; computed for these pairs
        only, since the whole vocabulary x vocabulary table took most of a second at every start."""
        expected = np.outer(self._marginal[x], self._marginal[y]) / self._total
        counts = self.pair_counts[np.ix_(x, y)]
        return np.log((counts + self.config.alpha) / (expected + self.config.alpha)).astype(np.float32)

    @classmethod
    def fit(cls, outfits: list[list[Item]], config: CountConfig | None = None) -> CountModel:
        config = config or CountConfig()
        per_item = [[sum(features(item), []) for item in outfit] for outfit in outfits]
        frequency = Counter(f for outfit in per_item for feats in outfit for f in set(feats))
        vocab = sorted(f for f, n in frequency.items() if n >= config.min_count)
        index = {f: i for i, f in enumerate(vocab)}
        counts = np.zeros((len(vocab), len(vocab)), dtype=np.int32)
        for outfit in per_item:
            ids = [np.array([index[f] for f in feats if f in index], dtype=np.int64) for feats in outfit]
            for a, b in combinations(ids, 2):
                np.add.at(counts, np.ix_(a, b), 1)
                np.add.at(counts, np.ix_(b, a), 1)
        return cls(vocab, counts, config)

    def _ids(self, item: Item) -> tuple[np.ndarray, ...]:
        return tuple(np.array([self.index[f] for f in group if f in self.index], dtype=np.int64)
                     for group in features(item))

    def _pair(self, a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> float:
        score = 0.0
        weights = (self.config.category_weight, self.config.price_weight, self.config.word_weight)
        for weight, x, y in zip(weights, a, b):
            if len(x) and len(y):
                score += weight * float(self.pmi(x, y).mean())
        return score

    def candidate_scores(self, context: list[Item], candidates: list[Item]) -> list[float]:
        """Mean PMI of each candidate with the items already in the outfit."""
        ctx = [self._ids(i) for i in context]
        return [float(np.mean([self._pair(self._ids(c), x) for x in ctx])) if ctx else 0.0 for c in candidates]

    def outfit_score(self, items: list[Item]) -> float:
        """Mean PMI over all item pairs of an outfit."""
        ids = [self._ids(i) for i in items]
        pairs = [self._pair(a, b) for a, b in combinations(ids, 2)]
        return float(np.mean(pairs)) if pairs else 0.0

    def save(self, path: str | os.PathLike = DEFAULT_COUNTS) -> None:
        """Sparse counts (a few MB) plus the config; PMI is recomputed on load."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows, cols = np.nonzero(np.triu(self.pair_counts))
        np.savez_compressed(path, rows=rows.astype(np.int32), cols=cols.astype(np.int32),
                            values=self.pair_counts[rows, cols].astype(np.int32),
                            vocab=np.array(self.vocab), config=json.dumps(asdict(self.config)))

    @classmethod
    def load(cls, path: str | os.PathLike = DEFAULT_COUNTS) -> CountModel:
        data = np.load(path)
        vocab = [str(f) for f in data["vocab"]]
        counts = np.zeros((len(vocab), len(vocab)), dtype=np.int32)
        counts[data["rows"], data["cols"]] = data["values"]
        counts = counts + np.triu(counts, 1).T
        return cls(vocab, counts, CountConfig(**json.loads(str(data["config"]))))
