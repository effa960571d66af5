"""The per-user preference model: P(like | the user's liked and disliked history, a target item).

    python -m stylist train-preference                  # builds checkpoints/preference/
    python -m stylist eval preference --ratings ../shared/data/rtr/ratings.csv --json

Item texts are embedded by the project's frozen sentence embedder (`stylist.models.embedder`). The target attends
over the user's history (each item's embedding plus a liked/disliked embedding) and over K learnable
preference tokens shared by all users; a small head reads the target, the attended context, how close the
target is to the liked vs the disliked history, and side features (the item's smoothed like rate among
training users, the size gap to the user's liked sizes, the profile), and gives a "like" logit l+ and a
"dislike" logit l-. P(like) = softmax([l+, l-])[0]. Users and items never seen in training work: their
side features fall back to "unknown" and the history path reads text only.
"""

from __future__ import annotations

import json
import math
import statistics
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
from stylist.core.records import BODY_TYPES, PROFILE_NUMBERS, Rating
from stylist.models.embedder import load_embedder

DEFAULT_PATH = CHECKPOINTS / "preference"
PROBE = ["black wool coat", "gown for formal affair, size 8"]  # texts whose embeddings identify the embedder
N_SIMILARITY = 4  # max and mean cosine gap (liked - disliked), has-liked, has-disliked
N_ITEM = 4  # item like-rate logit, log count, known item, size gap to the liked history
N_PROFILE = len(PROFILE_NUMBERS) + len(BODY_TYPES) + 1
N_FEATURES = N_ITEM + N_PROFILE


@dataclass
class PreferenceConfig:
    embedder: str | None = None  # sentence-transformers folder or id; None = the project's checkpoints/embedder
    max_history: int = 20
    dim: int = 32
    heads: int = 4
    hidden: int = 64
    n_tokens: int = 10
    use_tokens: bool = True  # False = the stage (a) model alone (ablation "without preference tokens")
    dropout: float = 0.1
    smoothing: float = 10.0  # pseudo-counts pulling an item's like rate toward its category/occasion rate (10, not 3: CV, session 7)


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def count_keys(r: Rating) -> tuple[str, str, str]:
    """The keys of the three levels a row counts in: its item, its category/occasion, its category.
    They never collide, so one dict of a user's own counts can hold all three (`train_preference.own_counts`)."""
    return r.item_id, f"{r.category}|{r.rented_for}", f"category:{r.category}"


def tally(tables: tuple[dict[str, list[int]], ...], r: Rating) -> None:
    """Add one row to [likes, rows] of its key in each table (one table per level of `count_keys`)."""
    for table, key in zip(tables, count_keys(r)):
        counts = table.setdefault(key, [0, 0])
        counts[0] += r.liked
        counts[1] += 1


@dataclass
class ItemStats:
    """Like counts of items and of category/occasion groups among training users only, and profile scales."""

    likes: int = 0
    total: int = 0
    items: dict[str, list[int]] = field(default_factory=dict)  # item id -> [likes, rows]
    groups: dict[str, list[int]] = field(default_factory=dict)  # "category|rented_for" -> [likes, rows]
    categories: dict[str, list[int]] = field(default_factory=dict)  # category -> [likes, rows]
    profile_mean: dict[str, float] = field(default_factory=dict)
    profile_std: dict[str, float] = field(default_factory=dict)
    smoothing: float = PreferenceConfig.smoothing

    @classmethod
    def fit(cls, ratings: list[Rating], smoothing: float = PreferenceConfig.smoothing) -> ItemStats:
        stats = cls(smoothing=smoothing)
        for r in ratings:
            stats.likes += r.liked
            stats.total += 1
            tally((stats.items, stats.groups, stats.categories), r)
        for k in PROFILE_NUMBERS:
            values = [float(r.profile[k]) for r in ratings if not math.isnan(float(r.profile.get(k, math.nan)))]
            stats.profile_mean[k] = statistics.fmean(values) if values else 0.0
            stats.profile_std[k] = (statistics.pstdev(values) if len(values) > 1 else 0.0) or 1.0
        return stats

    @property
    def prior(self) -> float:
        return (self.likes + 1) / (self.total + 2)

    def like_rate(self, r: Rating, minus: dict[str, list[int]] | None = None) -> tuple[float, int]:
        """The item's like rate, smoothed toward its category/occasion group, and its row count.

        `minus` removes a user's own rows (leave-user-out), so training features look like test features."""
        minus = minus or {}
        item, group, category = (np.subtract(table.get(key, [0, 0]), minus.get(key, [0, 0]))
                                 for table, key in zip((self.items, self.groups, self.categories), count_keys(r)))
        m = self.smoothing
        category_rate = (category[0] + 10 * m * self.prior) / (category[1] + 10 * m)
        # a never-seen category/occasion (a file without rented_for, a new occasion) still has its category;
        # a seen one is shrunk toward the global rate (toward its category instead: worse in CV, session 8)
        group_prior = category_rate if group[1] == 0 else self.prior
        group_rate = (group[0] + 10 * m * group_prior) / (group[1] + 10 * m)
        return float((item[0] + m * group_rate) / (item[1] + m)), int(item[1])

    def features(self, target: Rating, history: list[Rating], minus: dict[str, list[int]] | None = None) -> list[float]:
        """Side features of a ratings target: only its item and the profile, never its own label or date."""
        rate, count = self.like_rate(target, minus)
        liked_sizes = [float(h.size) for h in history if h.liked and h.size.isdigit()]
        gap = abs(float(target.size) - statistics.median(liked_sizes)) / 10 if liked_sizes and target.size.isdigit() else 0.0
        item = [_logit(rate) - _logit(self.prior), math.log1p(count) / 5, float(count > 0), gap]
        profile = []
        for k in PROFILE_NUMBERS:
            x = float(target.profile.get(k, math.nan))
            profile.append(0.0 if math.isnan(x) else (x - self.profile_mean[k]) / self.profile_std[k])
        body = [float(target.profile.get("body_type") == b) for b in BODY_TYPES]
        return item + profile + body + [1.0]

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Example:
    """One target for one user: history as (text, liked) most recent first, and the target's side features."""

    target: str
    history: list[tuple[str, bool]]
    features: list[float] | None = None  # None = an app item: unknown item, no profile


class PreferenceNet(nn.Module):
    """Target-over-history attention with K preference tokens as extra keys, and a like/dislike head."""

    def __init__(self, config: PreferenceConfig, embed_dim: int):
        super().__init__()
        d = config.dim
        self.proj = nn.Linear(embed_dim, d)
        self.label = nn.Embedding(2, d)  # 0 = disliked, 1 = liked
        self.attn = nn.MultiheadAttention(d, config.heads, dropout=config.dropout, batch_first=True)
        self.tokens = nn.Parameter(torch.randn(config.n_tokens, d) * 0.02)
        self.head = nn.Sequential(
            nn.Linear(2 * d + N_SIMILARITY + N_FEATURES, config.hidden), nn.GELU(), nn.Dropout(config.dropout),
            nn.Linear(config.hidden, 2),
        )
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
                features: torch.Tensor) -> torch.Tensor:
        """target [B, E], hist [B, H, E], labels [B, H] (1 = liked), mask [B, H] (True = real), features [B, F]
        -> logits [B, 2] = (l+, l-)."""
        q = self.proj(target)
        kv, valid = self.memory(hist, labels, mask)
        context = self.attn(q[:, None], kv, kv, key_padding_mask=~valid, need_weights=False)[0][:, 0]
        cos = torch.einsum("be,bhe->bh", F.normalize(target, dim=-1), F.normalize(hist, dim=-1))
        liked, disliked = mask & (labels == 1), mask & (labels == 0)
        has_l, has_d = liked.any(1).float(), disliked.any(1).float()
        max_gap = cos.masked_fill(~liked, -1).amax(1) * has_l - cos.masked_fill(~disliked, -1).amax(1) * has_d
        mean_gap = (cos * liked).sum(1) / liked.sum(1).clamp(min=1) - (cos * disliked).sum(1) / disliked.sum(1).clamp(min=1)
        similarity = torch.stack([max_gap, mean_gap, has_l, has_d], 1)
        return self.head(torch.cat([q, context, similarity, features], 1))

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
        self._cache: dict[str, torch.Tensor] = {}
        self.metrics: dict = {}
        self.seen_users: set[str] = set()  # users whose rows trained or selected the model; eval skips them

    # ---- embedding and batching
    def embed(self, texts: list[str]) -> torch.Tensor:
        """Embeddings of texts [N, E], cached, since histories repeat the same items over and over."""
        new = sorted({t for t in texts if t not in self._cache})
        if new:
            vectors = self.embedder.encode(new, convert_to_tensor=True, batch_size=256, show_progress_bar=False)
            self._cache.update(zip(new, vectors.detach().float().cpu()))
        dim = self.embedder.get_embedding_dimension()
        return torch.stack([self._cache[t] for t in texts]) if texts else torch.zeros(0, dim)

    def batch(self, examples: list[Example]) -> tuple[torch.Tensor, ...]:
        """Padded tensors (target, hist, labels, mask, features) for `PreferenceNet.forward`."""
        cap = self.config.max_history
        hists = [ex.history[:cap] for ex in examples]
        h = max([len(x) for x in hists] + [1])
        target = self.embed([ex.target for ex in examples])
        hist = torch.zeros(len(examples), h, target.shape[1])
        labels = torch.zeros(len(examples), h, dtype=torch.long)
        mask = torch.zeros(len(examples), h, dtype=torch.bool)
        for i, items in enumerate(hists):
            if items:
                hist[i, : len(items)] = self.embed([t for t, _ in items])
                labels[i, : len(items)] = torch.tensor([int(liked) for _, liked in items])
                mask[i, : len(items)] = True
        features = torch.tensor([ex.features or [0.0] * N_FEATURES for ex in examples], dtype=torch.float32)
        return target, hist, labels, mask, features

    # ---- scoring
    @torch.no_grad()
    def like_probability(self, examples: list[Example], batch_size: int = 512) -> list[float]:
        """P(like) of each example, averaged over `net` and the ensemble's other members."""
        nets = [self.net, *self.members]
        out = []
        for i in range(0, len(examples), batch_size):
            inputs = self.batch(examples[i : i + batch_size])
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
        _, hist, labels, mask, _ = self.batch([Example("", history)])
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


def rating_example(stats: ItemStats, target: Rating, history: list[Rating], minus: dict[str, list[int]] | None = None) -> Example:
    """A ratings row as a target for its user, with the user's other rows (most recent first) as history."""
    return Example(target.text, [(h.text, h.liked) for h in history], stats.features(target, history, minus))
