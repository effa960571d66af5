"""The per-user preference model: P(like | the user's liked and disliked history, a target item).

    python -m stylist train-preference                  # builds checkpoints/preference/
    python -m stylist eval preference --ratings ../shared/data/rtr/ratings-full.csv --json

P(like) = sigmoid(l+ - l-), with l+ = prior/2 + w+ . item + g(n) r+ and l- = -prior/2 + w- . item + g(n) r-.
The prior is the item's like rate among training users (smoothed toward its category/occasion), the
user-agnostic baseline itself. `item` are the target's item statistics (`ITEM_FEATURES`: stars, fit
reports, like rates within the target's body type, size and occasion), read linearly and ungated.
g(n) = n / (n + k) with n the history length and k learned: without history the nonlinear residual (r+, r-)
is exactly 0, and it grows in as the history does. The residual head reads what the target attends to among
the user's history (each item's embedding plus a liked/disliked embedding) and K learnable preference tokens
shared by all users, how close the target is to the liked vs the disliked history, and side features that
match the user's history against who the item suits (`HISTORY_FEATURES`). Both start at zero, so an untrained
model is the prior. Users and items never seen in training work: app items (texts only) have prior 0 and
zero side features, so only the text path speaks.
"""

from __future__ import annotations

import json
import math
import statistics
import threading
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from stylist.core.errors import StylistError
from stylist.core.paths import CHECKPOINTS, REPO
from stylist.core.ratings import BODY_TYPES, PROFILE_NUMBERS, Rating
from stylist.models.embedder import load_embedder

DEFAULT_PATH = CHECKPOINTS / "preference"
PROBE = ["black wool coat", "gown for formal affair, size 8"]  # texts whose embeddings identify the embedder
N_SIMILARITY = 4  # max and mean cosine gap (liked - disliked), has-liked, has-disliked
# What the residual head reads besides the texts (all 0 for an app item). Item side: from training users' rows.
ITEM_FEATURES = (
    "like-rate logit (centred)", "log row count", "known item", "share of renters reporting small",
    "share reporting large", "mean stars (centred)", "mean size shift of renters (their size here - their usual size)",
    "like-rate logit among renters of the target's body type, minus the item's", "the same in the target's size",
    "the same for the target's occasion",
)
HISTORY_FEATURES = (
    "log history length", "history like rate (logit)", "target size - median history size", "its absolute value",
    "history has sizes", "size shift - the item's mean shift", "its absolute value", "share of history reporting small",
    "share reporting large", "log same-category rows", "same-category like rate - history like rate",
    "log same-occasion rows", "same-occasion like rate - history like rate", "same item in history (+1 liked, -1 not)",
    "crowd agreement: mean prior logit of liked minus of disliked history", "mean stars of history (centred)",
)
PROFILE_FEATURES = (*PROFILE_NUMBERS, *(f"body: {b}" for b in BODY_TYPES), "ratings row")
N_FEATURES = len(ITEM_FEATURES) + len(HISTORY_FEATURES) + len(PROFILE_FEATURES)
# [likes, rows, small, large, size shift sum, rows with a shift, stars sum, rows with stars] per key
N_COUNTS = 8


@dataclass
class PreferenceConfig:
    embedder: str | None = None  # sentence-transformers folder or id; None = the project's checkpoints/embedder
    max_history: int = 20  # items the attention reads (most recent first); the side features read all
    dim: int = 32
    heads: int = 4
    hidden: int = 64
    n_tokens: int = 10
    use_tokens: bool = True  # False = the stage (a) model alone (ablation "without preference tokens")
    dropout: float = 0.1
    smoothing: float = 10.0  # pseudo-counts pulling an item's statistics toward its group's (10, not 3: CV on ratings.csv)
    gate: float = 2.0  # initial k of g(n) = n / (n + k): history rows at which the residual gets half its weight


def logit(p: float) -> float:
    """log(p / (1 - p)), with p kept within [1e-4, 1 - 1e-4] so a rate of 0 or 1 stays finite."""
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def count_keys(r: Rating) -> tuple[str, ...]:
    """The keys a row counts under: its item, its category/occasion, its category, everything ("*"), and the
    item within the row's body type, size and occasion (`CONDITIONAL`: who the item suits). They never collide,
    so one dict holds all levels."""
    body = r.profile.get("body_type") or ""
    return (r.item_id, f"group:{r.category}|{r.rented_for}", f"category:{r.category}", "*",
            f"body:{r.item_id}|{body}", f"size:{r.item_id}|{r.size}", f"occasion:{r.item_id}|{r.rented_for}")


CONDITIONAL = ("body:", "size:", "occasion:")  # keys that keep [likes, rows] only: a small checkpoint


def user_counts(rows: list[Rating]) -> dict[str, list[float]]:
    """One user's rows as item statistics (`N_COUNTS` per key). A row's size shift is its size minus the median
    size of the user's *other* rows, as a target's shift is measured against its history. Summed over training
    users they are `ItemStats.counts`; subtracted, they leave a user's own rows out of their targets' features."""
    sizes = [r.size_value for r in rows]
    counts: dict[str, list[float]] = {}
    for i, r in enumerate(rows):
        others = [s for j, s in enumerate(sizes) if j != i and not math.isnan(s)]
        shift = sizes[i] - statistics.median(others) if others and not math.isnan(sizes[i]) else math.nan
        stars = not math.isnan(r.rating)
        row = [float(r.liked), 1.0, float(r.fit == "small"), float(r.fit == "large"), 0.0 if math.isnan(shift) else shift,
               float(not math.isnan(shift)), r.rating if stars else 0.0, float(stars)]
        for key in count_keys(r):
            kept = row[:2] if key.startswith(CONDITIONAL) else row
            total = counts.setdefault(key, [0.0] * len(kept))
            for k, x in enumerate(kept):
                total[k] += x
    return counts


def _median(xs: list[float]) -> float:
    xs = [x for x in xs if not math.isnan(x)]
    return statistics.median(xs) if xs else math.nan


@dataclass
class ItemStats:
    """Statistics of items, category/occasion groups, categories and item x body type among training users only
    (`counts`: key -> `N_COUNTS` numbers), and profile scales."""

    counts: dict[str, list[float]] = field(default_factory=dict)
    profile_mean: dict[str, float] = field(default_factory=dict)
    profile_std: dict[str, float] = field(default_factory=dict)
    smoothing: float = PreferenceConfig.smoothing

    @classmethod
    def fit(cls, users: dict[str, list[Rating]], smoothing: float = PreferenceConfig.smoothing) -> ItemStats:
        stats = cls(smoothing=smoothing)
        for rows in users.values():
            for key, row in user_counts(rows).items():
                total = stats.counts.setdefault(key, [0.0] * len(row))
                for k, x in enumerate(row):
                    total[k] += x
        # sizes are whole or half numbers, and whole numbers are written without ".0": a small checkpoint
        stats.counts = {k: [int(x) if x == int(x) else round(x, 1) for x in v] for k, v in stats.counts.items()}
        ratings = [r for rows in users.values() for r in rows]
        for k in PROFILE_NUMBERS:
            values = [float(r.profile[k]) for r in ratings if not math.isnan(float(r.profile.get(k, math.nan)))]
            stats.profile_mean[k] = statistics.fmean(values) if values else 0.0
            stats.profile_std[k] = (statistics.pstdev(values) if len(values) > 1 else 0.0) or 1.0
        return stats

    def get(self, key: str, minus: dict[str, list[float]] | None = None) -> list[float]:
        """The key's counts, less a user's own (`minus`, leave-user-out)."""
        total = self.counts.get(key, [0.0, 0.0])
        own = (minus or {}).get(key)
        total = [a - b for a, b in zip(total, own)] if own else total
        return total + [0.0] * (N_COUNTS - len(total))

    @property
    def prior(self) -> float:
        likes, rows = self.counts.get("*", [0.0, 0.0])[:2]
        return (likes + 1) / (rows + 2)

    def like_rate(self, r: Rating, minus: dict[str, list[float]] | None = None) -> tuple[float, int]:
        """The item's like rate, smoothed toward its category/occasion group, and its row count.

        `minus` removes a user's own rows (leave-user-out), so training features look like test features."""
        item, group, category = (self.get(key, minus) for key in count_keys(r)[:3])
        m, prior = self.smoothing, self.prior
        category_rate = (category[0] + 10 * m * prior) / (category[1] + 10 * m)
        # a never-seen category/occasion (a file without rented_for, a new occasion) still has its category;
        # a seen one is shrunk toward the global rate (toward its category instead: worse in CV on ratings.csv)
        group_prior = category_rate if group[1] == 0 else prior
        group_rate = (group[0] + 10 * m * group_prior) / (group[1] + 10 * m)
        return float((item[0] + m * group_rate) / (item[1] + m)), int(item[1])

    def prior_logit(self, r: Rating, minus: dict[str, list[float]] | None = None) -> float:
        """The base of the model's logit: the user-agnostic baseline's score on the logit scale."""
        return logit(self.like_rate(r, minus)[0])

    def features(self, target: Rating, history: list[Rating], minus: dict[str, list[float]] | None = None) -> list[float]:
        """Side features of a ratings target (`ITEM_FEATURES`, `HISTORY_FEATURES`, `PROFILE_FEATURES`): the target
        shows only its item, size and the profile, never its own label, fit, stars or date; history rows show all."""
        m = self.smoothing
        everyone = self.get("*")
        rows_all = max(everyone[1], 1.0)
        small_all, large_all = everyone[2] / rows_all, everyone[3] / rows_all
        stars_all = everyone[6] / max(everyone[7], 1.0)
        rate, count = self.like_rate(target, minus)
        item = self.get(target.item_id, minus)
        item_shift = item[4] / (item[5] + m)  # shrunk toward "renters take their usual size"
        within = [self.get(key, minus) for key in count_keys(target)[4:]]  # body type, size, occasion
        within = [logit((c[0] + m * rate) / (c[1] + m)) - logit(rate) for c in within]
        item_side = [
            logit(rate) - logit(self.prior), math.log1p(count) / 5, float(count > 0),
            (item[2] + m * small_all) / (item[1] + m) - small_all, (item[3] + m * large_all) / (item[1] + m) - large_all,
            ((item[6] + m * stars_all) / (item[7] + m) - stars_all) / 2, item_shift / 4, *within,
        ]
        return item_side + self.history_features(target, history, item_shift, minus) + self.profile_features(target)

    def history_features(self, target: Rating, history: list[Rating], item_shift: float,
                         minus: dict[str, list[float]] | None) -> list[float]:
        """How the target relates to this user's own rows: sizes, fit reports, occasions, categories, stars, and
        whether the user agrees with the crowd (likes what others like). All 0 for an empty history."""
        if not history:
            return [0.0] * len(HISTORY_FEATURES)
        n, liked = len(history), sum(h.liked for h in history)
        user_rate = (liked + self.prior) / (n + 1)

        def rate_gap(rows: list[Rating]) -> list[float]:
            return [math.log1p(len(rows)), (sum(h.liked for h in rows) + user_rate) / (len(rows) + 1) - user_rate]

        usual = _median([h.size_value for h in history])
        gap = target.size_value - usual
        known = not math.isnan(gap)
        gap = gap if known else 0.0
        same_item = [h.liked for h in history if h.item_id == target.item_id]
        priors = {True: [], False: []}
        for h in history:
            priors[h.liked].append(self.prior_logit(h, minus))
        crowd = statistics.fmean(priors[True]) - statistics.fmean(priors[False]) if priors[True] and priors[False] else 0.0
        stars = [h.rating for h in history if not math.isnan(h.rating)]
        return [
            math.log1p(n), logit(user_rate), gap / 4, abs(gap) / 4, float(known),
            (gap - item_shift) / 4 if known else 0.0, abs(gap - item_shift) / 4 if known else 0.0,
            sum(h.fit == "small" for h in history) / n, sum(h.fit == "large" for h in history) / n,
            *rate_gap([h for h in history if h.category == target.category]),
            *rate_gap([h for h in history if h.rented_for == target.rented_for]),
            2 * statistics.fmean(same_item) - 1 if same_item else 0.0, crowd,
            (statistics.fmean(stars) - 9.0) / 2 if stars else 0.0,
        ]

    def profile_features(self, target: Rating) -> list[float]:
        profile = []
        for k in PROFILE_NUMBERS:
            x = float(target.profile.get(k, math.nan))
            profile.append(0.0 if math.isnan(x) else (x - self.profile_mean[k]) / self.profile_std[k])
        return profile + [float(target.profile.get("body_type") == b) for b in BODY_TYPES] + [1.0]

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Example:
    """One target for one user: history as (text, liked) most recent first, the target's side features and the
    prior logit the residual is added to."""

    target: str
    history: list[tuple[str, bool]]
    features: list[float] | None = None  # None = an app item: unknown item, no profile
    prior: float = 0.0  # the item's like-rate logit among training users; 0 for an app item


class PreferenceNet(nn.Module):
    """The prior logit plus a history-gated residual: target-over-history attention with K preference tokens as
    extra keys, and a like/dislike head."""

    def __init__(self, config: PreferenceConfig, embed_dim: int):
        super().__init__()
        d = config.dim
        self.proj = nn.Linear(embed_dim, d)
        self.label = nn.Embedding(2, d)  # 0 = disliked, 1 = liked
        self.attn = nn.MultiheadAttention(d, config.heads, dropout=config.dropout, batch_first=True)
        self.tokens = nn.Parameter(torch.randn(config.n_tokens, d) * 0.02)
        self.head = nn.Sequential(
            nn.Linear(d + N_SIMILARITY + N_FEATURES, config.hidden), nn.GELU(), nn.Dropout(config.dropout),
            nn.Linear(config.hidden, 2),
        )
        nn.init.zeros_(self.head[-1].weight)  # the residual starts at 0: an untrained model is the item prior
        nn.init.zeros_(self.head[-1].bias)
        # ungated and linear: the item statistics beyond the like rate (stars, fit reports, like rates within the
        # target's body type, size and occasion) refine the prior for every user, history or not; zero at the start
        self.item = nn.Linear(len(ITEM_FEATURES), 2, bias=False)
        nn.init.zeros_(self.item.weight)
        self.gate = nn.Parameter(torch.tensor(math.log(math.expm1(config.gate))))  # k = softplus(gate)
        self.use_tokens = config.use_tokens  # training switches them off for stage (a)

    def memory(self, hist: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys/values the target attends over: [tokens?, a zero "nothing" slot, history items], and their mask."""
        b = hist.shape[0]
        kv = [hist.new_zeros(b, 1, self.proj.out_features), self.proj(hist) + self.label(labels)]
        valid = [mask.new_ones(b, 1), mask]
        if self.use_tokens:
            kv.insert(0, self.tokens.expand(b, -1, -1))
            valid.insert(0, mask.new_ones(b, self.tokens.shape[0]))
        return torch.cat(kv, 1), torch.cat(valid, 1)

    def forward(self, target: torch.Tensor, hist: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor,
                features: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
        """target [B, E], hist [B, H, E], labels [B, H] (1 = liked), mask [B, H] (True = real), features [B, F],
        prior [B] -> logits [B, 2] = (l+, l-)."""
        q = self.proj(target)
        kv, valid = self.memory(hist, labels, mask)
        context = self.attn(q[:, None], kv, kv, key_padding_mask=~valid, need_weights=False)[0][:, 0]
        cos = torch.einsum("be,bhe->bh", F.normalize(target, dim=-1), F.normalize(hist, dim=-1))
        liked, disliked = mask & (labels == 1), mask & (labels == 0)
        has_l, has_d = liked.any(1).float(), disliked.any(1).float()
        max_gap = cos.masked_fill(~liked, -1).amax(1) * has_l - cos.masked_fill(~disliked, -1).amax(1) * has_d
        mean_gap = (cos * liked).sum(1) / liked.sum(1).clamp(min=1) - (cos * disliked).sum(1) / disliked.sum(1).clamp(min=1)
        similarity = torch.stack([max_gap, mean_gap, has_l, has_d], 1)
        # not the target alone: what the item is worth to everyone is the prior's job, and a head that reads the
        # target's own embedding learns item effects that double the prior (lower validation accuracy)
        residual = self.head(torch.cat([context, similarity, features], 1))
        n = mask.sum(1, keepdim=True).float()
        gate = n / (n + F.softplus(self.gate))  # exactly 0 without history: the prior's ordering
        item = self.item(features[:, : len(ITEM_FEATURES)])
        return torch.stack([prior / 2, -prior / 2], 1) + item + gate * residual

    def token_activation(self, hist: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """How strongly a history (as the mean of its items) attends to each preference token: [B, K]."""
        kv = self.proj(hist) + self.label(labels)
        summary = (kv * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return torch.softmax(summary @ self.tokens.T / math.sqrt(self.tokens.shape[1]), -1)


def pair_losses(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """The contrastive preference loss for the same history, liked target x+ and disliked target x-:
    -log sigmoid(l+(x+) - l+(x-)) - log sigmoid(l-(x-) - l-(x+)), per pair."""
    return -F.logsigmoid(pos[:, 0] - neg[:, 0]) - F.logsigmoid(neg[:, 1] - pos[:, 1])


def base_losses(logits: torch.Tensor, liked: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over [l+, l-] with the like/dislike label, per example."""
    return F.cross_entropy(logits, (~liked.bool()).long(), reduction="none")


class PreferenceModel:
    """The embedder, the net and the training-user statistics, with a text-level API for the app."""

    def __init__(self, config: PreferenceConfig, stats: ItemStats, embedder=None):
        self.config = config
        self.stats = stats
        self.embedder = embedder if embedder is not None else load_embedder(_resolve(config.embedder))
        self.net = PreferenceNet(config, self.embedder.get_embedding_dimension())
        self.net.eval()
        self.members: list[PreferenceNet] = []  # more nets (other seeds) whose P(like) is averaged with `net`'s
        self._index: dict[str, int] = {"": 0}  # text -> row of `_table`; row 0 (zeros) pads histories
        self._table = torch.zeros(1, self.embedder.get_embedding_dimension())
        self._growing = threading.Lock()
        self.metrics: dict = {}
        self.seen_users: set[str] = set()  # users whose rows trained or selected the model; eval skips them

    # ---- embedding and batching
    def ids(self, texts: list[str]) -> list[int]:
        """Rows of the embedding table for texts, embedding the new ones once: histories repeat the same items,
        and training keeps (target, history) as row ids, not as copies of embeddings."""
        with self._growing:  # the app scores for several visitors at once: rows must match the texts they embed
            new = sorted({t for t in texts if t not in self._index})
            if new:
                vectors = self.embedder.encode(new, convert_to_tensor=True, batch_size=256, show_progress_bar=False)
                start = len(self._index)
                self._index.update({t: start + i for i, t in enumerate(new)})
                self._table = torch.cat([self._table, vectors.detach().float().cpu()])
            return [self._index[t] for t in texts]

    def embed(self, texts: list[str]) -> torch.Tensor:
        """Embeddings of texts [N, E]."""
        rows = self.ids(texts)  # first: it may grow the table
        return self._table[rows]

    def encode(self, examples: list[Example]) -> tuple[torch.Tensor, ...]:
        """Examples as padded tensors (target ids, history ids, labels, mask, features, prior); `inputs` turns
        them (or a slice) into `PreferenceNet.forward`'s arguments."""
        cap = self.config.max_history
        hists = [ex.history[:cap] for ex in examples]
        h = max([len(x) for x in hists] + [1])
        target = torch.tensor(self.ids([ex.target for ex in examples]), dtype=torch.long)
        flat = self.ids([t for items in hists for t, _ in items])
        hist = torch.zeros(len(examples), h, dtype=torch.long)
        labels = torch.zeros(len(examples), h, dtype=torch.long)
        mask = torch.zeros(len(examples), h, dtype=torch.bool)
        at = 0
        for i, items in enumerate(hists):
            if items:
                hist[i, : len(items)] = torch.tensor(flat[at : at + len(items)])
                labels[i, : len(items)] = torch.tensor([int(liked) for _, liked in items])
                mask[i, : len(items)] = True
                at += len(items)
        features = torch.tensor([ex.features or [0.0] * N_FEATURES for ex in examples], dtype=torch.float32)
        prior = torch.tensor([ex.prior for ex in examples], dtype=torch.float32)
        return target, hist, labels, mask, features, prior

    def inputs(self, encoded: tuple[torch.Tensor, ...], idx: torch.Tensor | slice = slice(None)) -> tuple[torch.Tensor, ...]:
        """`encode`'s tensors (rows `idx`) with the ids looked up: the arguments of `PreferenceNet.forward`."""
        target, hist, labels, mask, features, prior = (t[idx] for t in encoded)
        return self._table[target], self._table[hist], labels, mask, features, prior

    # ---- scoring
    @torch.no_grad()
    def like_probability(self, examples: list[Example], batch_size: int = 1024) -> list[float]:
        """P(like) of each example, averaged over `net` and the ensemble's other members."""
        nets = [self.net, *self.members]
        out = []
        for i in range(0, len(examples), batch_size):
            inputs = self.inputs(self.encode(examples[i : i + batch_size]))
            probs = [torch.softmax(net.eval()(*inputs), -1)[:, 0] for net in nets]
            out += torch.stack(probs).mean(0).tolist()
        return out

    def score(self, history_liked: list[str], history_disliked: list[str], targets: list[str]) -> list[float]:
        """P(like) of each target text for a user with these liked and disliked item texts (most recent first)."""
        history = interleave(history_liked, history_disliked)
        return self.like_probability([Example(t, history) for t in targets])

    @torch.no_grad()
    def user_vector(self, history_liked: list[str], history_disliked: list[str]) -> np.ndarray:
        """A unit vector of a user's taste: the liked-minus-disliked direction of their items in embedding
        space, joined with which preference tokens (of `net`, the first member) their history activates.
        Zero for an empty history."""
        parts = []
        for texts in (history_liked, history_disliked):
            parts.append(F.normalize(self.embed(texts).mean(0), dim=0) if texts else torch.zeros(self.embedder.get_embedding_dimension()))
        history = interleave(history_liked, history_disliked)
        if not history:
            return np.zeros(parts[0].shape[0] + self.config.n_tokens, dtype=np.float32)
        _, hist, labels, mask, _, _ = self.inputs(self.encode([Example("", history)]))
        tokens = self.net.token_activation(hist, labels, mask)[0]
        vector = torch.cat([F.normalize(parts[0] - parts[1], dim=0), F.normalize(tokens, dim=0)])
        return F.normalize(vector, dim=0).numpy()

    def similar_users(self, histories: dict[str, tuple[list[str], list[str]]], user: str, k: int = 5) -> list[tuple[str, float]]:
        """The k other users whose taste vectors are closest (cosine) to `user`'s, with their similarity."""
        if user not in histories:
            raise StylistError(f"unknown user {user!r}")
        me = self.user_vector(*histories[user])
        scored = [(other, float(me @ self.user_vector(*h))) for other, h in histories.items() if other != user and any(h)]
        return sorted(scored, key=lambda x: -x[1])[:k]

    # ---- persistence
    def probe(self) -> list[float]:
        """A short fingerprint of the embedder, saved with the model: the net only fits the embedder it trained on."""
        return [round(x, 4) for x in self.embed(PROBE).flatten()[:: max(1, len(PROBE) * self.embedder.get_embedding_dimension() // 16)].tolist()]

    def save(self, path: str | Path) -> None:
        path = Path(path)
        self.metrics["embedder_probe"] = self.probe()
        path.mkdir(parents=True, exist_ok=True)
        for old in path.glob("member*.safetensors"):  # a folder that held a larger ensemble keeps no stale member
            old.unlink()
        for name, net in [("model", self.net), *((f"member{i}", m) for i, m in enumerate(self.members, 1))]:
            save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path / f"{name}.safetensors"))
        (path / "config.json").write_text(json.dumps(asdict(self.config), indent=2) + "\n")
        (path / "item_stats.json").write_text(json.dumps(self.stats.to_json()) + "\n")
        (path / "metrics.json").write_text(json.dumps(self.metrics, indent=2) + "\n")
        (path / "seen_users.json").write_text(json.dumps(sorted(self.seen_users)) + "\n")

    @classmethod
    def load(cls, path: str | Path | None = None, embedder=None) -> PreferenceModel:
        """The committed model (None) or a folder written by `save`."""
        path = Path(path or DEFAULT_PATH)
        if not (path / "model.safetensors").is_file():
            raise StylistError(f"no preference model at {path}: run `python -m stylist train-preference`")
        try:
            config = PreferenceConfig(**json.loads((path / "config.json").read_text()))
            stats = ItemStats(**json.loads((path / "item_stats.json").read_text()))
        except (OSError, ValueError, TypeError) as exc:  # missing file, malformed JSON, a field this version lacks
            raise StylistError(f"{path} does not fit this version of the preference model ({exc}); retrain it") from exc
        model = cls(config, stats, embedder)
        members = sorted((f for f in path.glob("member*.safetensors") if f.stem[6:].isdigit()), key=lambda f: int(f.stem[6:]))
        model.members = [PreferenceNet(config, model.embedder.get_embedding_dimension()) for _ in members]
        try:
            for net, file in zip([model.net, *model.members], [path / "model.safetensors", *members]):
                net.load_state_dict(load_file(str(file)))
        except RuntimeError as exc:
            detail = str(exc).splitlines()[-1].strip()
            raise StylistError(f"{path} does not fit this version of the preference model ({detail}); retrain it") from exc
        for name in ("metrics", "seen_users"):
            if (path / f"{name}.json").is_file():
                setattr(model, name, json.loads((path / f"{name}.json").read_text()))
        model.seen_users = set(model.seen_users)
        saved = model.metrics.get("embedder_probe")
        if saved and not np.allclose(saved, model.probe(), atol=1e-3):
            warnings.warn(f"{path} was trained on another embedder than {config.embedder or 'checkpoints/embedder'}; "
                          "retrain it: python -m stylist train-preference", stacklevel=2)
        return model


def interleave(liked: list[str], disliked: list[str]) -> list[tuple[str, bool]]:
    """Liked and disliked texts as one history that alternates them, so a cap keeps both kinds."""
    out = []
    for i in range(max(len(liked), len(disliked))):
        out += [(liked[i], True)] if i < len(liked) else []
        out += [(disliked[i], False)] if i < len(disliked) else []
    return out


def _resolve(embedder: str | None) -> str | Path | None:
    """A relative embedder folder is read from the repo root, so checkpoints work from any directory."""
    if embedder and not Path(embedder).is_absolute() and (REPO / embedder).exists():
        return REPO / embedder
    return embedder


def rating_example(stats: ItemStats, target: Rating, history: list[Rating], minus: dict[str, list[float]] | None = None) -> Example:
    """A ratings row as a target for its user, with the user's other rows (most recent first) as history."""
    return Example(target.text, [(h.text, h.liked) for h in history], stats.features(target, history, minus),
                   stats.prior_logit(target, minus))
