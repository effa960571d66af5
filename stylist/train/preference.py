"""Train the per-user preference model on a user split of the RentTheRunway ratings, in two stages.

    python -m stylist train-preference                       # ratings-full.csv -> checkpoints/preference/ (1 CPU thread)
    python -m stylist train-preference --contrastive 0 --out runs/pref-nocontrast   # ablations
    python -m stylist train-preference --feedback data/ --out runs/pref-app          # + the app's recorded users

Stage (a): everything but the preference tokens, on the base loss (cross-entropy of [l+, l-] against the
label, every row of every training user with other rows as a target, those rows as history; a row without
history is the prior alone and teaches nothing) plus the contrastive preference loss on (liked, disliked)
target pairs of the same user with the same history (the protocol's pair first, then random ones).
Stage (b): the K preference tokens join the attention and are the only thing trained. Each stage keeps
the epoch (or its start) with the best pairwise accuracy on the validation users (`ratings.split_users`); test
users are never read here. Item statistics use only training users' rows, leave-user-out for a user's own
targets. The residual head starts at zero, so training starts from the item prior and moves only as far as
validation allows.
Synthetic "taste users" (like titles with one word, dislike titles with another, over Polyvore training
titles) are mixed in, so that with no item statistics or profile (the app's case) the history path reads text.
The saved model is `--members` (default 3) such models of consecutive seeds; its P(like) is their average.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import TypeVar

import torch
import torch.nn.functional as F
from tqdm import tqdm

from stylist.core.errors import StylistError
from stylist.core.feedback import FeedbackStore
from stylist.core.options import config_from, config_parser, option, summary
from stylist.core.ratings import Rating
from stylist.data.rtr import by_user, episodes, load_ratings, split_users
from stylist.data.splits import polyvore_catalog, polyvore_split
from stylist.evaluation.preference import bucket_metrics, metrics, model_scores
from stylist.models.preference import (
    DEFAULT_PATH,
    Example,
    ItemStats,
    PreferenceConfig,
    PreferenceModel,
    base_losses,
    pair_losses,
    rating_example,
    user_counts,
)

T = TypeVar("T")


SELECT = {  # how a stage picks its epoch: a key that is higher for the better epoch
    "accuracy": lambda row: row["valid_pairwise_accuracy"],
    "loss": lambda row: -row["valid_pairwise_loss"],
    "last": lambda row: row["epoch"],
}


@dataclass
class PreferenceTrainConfig:
    ratings: str | None = option(None, "ratings CSV (default: the shared rtr/ratings-full.csv)")
    out: str = option(str(DEFAULT_PATH), "where the model is written")
    contrastive: float = option(1.0, "weight of the contrastive preference loss; 0 = ablation without it")
    tokens: bool = option(True, "run stage (b), the preference tokens; --no-tokens = ablation without them")
    epochs: int = option(6, "stage (a)'s epochs; it keeps the one (or its start) the validation users pick")
    token_epochs: int = option(3, "stage (b)'s epochs")
    lr: float = option(1e-3, "stage (a)'s AdamW learning rate, chosen by the validation users' pairwise loss")
    token_lr: float = option(1e-2, "stage (b)'s learning rate")
    weight_decay: float = option(0.01, "AdamW weight decay")
    batch_size: int = option(128, "pointwise rows per step")
    pairs_per_user: int = option(8, "(liked, disliked) pairs per user, the protocol pair first")
    taste_users: int = option(600, "synthetic users over Polyvore training titles; 0 = ratings only")
    taste_words: int = option(2, "a taste user likes titles with one of up to this many words (and dislikes as many "
                                 "others)")
    select: str = option("accuracy", "the epoch each stage keeps (its start included): the best validation pairwise "
                                     "accuracy, the lowest pairwise loss, or the last", choices=SELECT)
    feedback: str | None = option(None, "a FeedbackStore (folder or .sqlite) whose users also train, as text-only "
                                        "users")
    seed: int = option(0, "seed of the initialisation, the batches and the taste users")
    members: int = option(3, "an ensemble of this many seeds (seed, seed + 1, ...), P(like) averaged: less residual "
                             "noise")


def user_examples(rows: list[T], liked: list[bool], make: Callable[[T, list[T]], Example], pairs_per_user: int,
                  rng: random.Random) -> tuple[list[Example], list[bool], list[tuple[Example, Example]]]:
    """One user's pointwise examples (each row, the other rows as history; none for a one-row user), their labels,
    and up to `pairs_per_user` (liked, disliked) pairs sharing one history (the user's rows minus both targets,
    not empty): the protocol's pair (latest liked, latest not-liked; rows are newest first) and random others."""
    if len(rows) < 2:
        return [], [], []
    points = [make(r, rows[:i] + rows[i + 1 :]) for i, r in enumerate(rows)]
    combos = [(i, j) for i in range(len(rows)) for j in range(len(rows)) if liked[i] and not liked[j]]
    pairs = []
    if combos and len(rows) > 2:
        first = (liked.index(True), liked.index(False))
        others = [c for c in combos if c != first]
        for i, j in [first, *rng.sample(others, min(pairs_per_user - 1, len(others)))]:
            history = [r for k, r in enumerate(rows) if k not in (i, j)]
            pairs.append((make(rows[i], history), make(rows[j], history)))
    return points, liked, pairs


def taste_users(texts: list[str], n_users: int, rng: random.Random, words: int = 1) -> list[list[tuple[str, bool]]]:
    """Synthetic app-like users over garment titles: each likes the items whose title has one of 1..`words`
    random words and dislikes those with one of as many others. They teach the history path to read text
    when nothing else is known."""
    tokens = [set(re.findall(r"[a-z]{3,}", t.lower())) for t in texts]
    counts = Counter(w for ws in tokens for w in ws)
    vocab = sorted(w for w, c in counts.items() if 20 <= c <= len(texts) // 10)
    users = []
    while len(users) < n_users:
        k = rng.randint(1, words)
        picked = rng.sample(vocab, 2 * k)
        a, b = set(picked[:k]), set(picked[k:])
        liked = [t for t, ws in zip(texts, tokens) if ws & a and not ws & b]
        disliked = [t for t, ws in zip(texts, tokens) if ws & b and not ws & a]
        rows = [(t, True) for t in rng.sample(liked, min(len(liked), rng.randint(3, 12)))]
        rows += [(t, False) for t in rng.sample(disliked, min(len(disliked), rng.randint(3, 12)))]
        rng.shuffle(rows)
        users.append(rows)
    return users


def feedback_users(path: str) -> list[list[tuple[str, bool]]]:
    """The app's recorded users as (item text, liked) histories, newest first; undone clicks are left out."""
    store = FeedbackStore(path)
    users = [[(e.item_text, e.label == "like") for e in store.events(user)] for user in store.users()]
    return [rows for rows in users if len(rows) >= 2]


def polyvore_titles() -> list[str]:
    """Item titles of the Polyvore outfits outside the test part (never the demo catalog the bench uses)."""
    catalog = polyvore_catalog()
    return sorted({i.text for o in polyvore_split(catalog)["fit"] for i in catalog.outfit_items(o) if i.text})


def training_data(stats: ItemStats, users: dict[str, list[Rating]], text_users: list[list[tuple[str, bool]]],
                  pairs_per_user: int, rng: random.Random) -> tuple[list[Example], list[bool], list[tuple[Example, Example]]]:
    """Examples and labels of every ratings row (leave-user-out item rates) and of every text-only user
    (synthetic taste users, the app's feedback users): those have no item statistics and no profile."""
    points, labels, pairs = [], [], []
    for rows in tqdm(list(users.values()), desc="ratings users", leave=False):
        minus = user_counts(rows)
        p, y, q = user_examples(rows, [r.liked for r in rows], lambda t, h: rating_example(stats, t, h, minus), pairs_per_user, rng)
        points += p
        labels += y
        pairs += q
    for rows in text_users:
        p, y, q = user_examples(rows, [liked for _, liked in rows], lambda t, h: Example(t[0], h), pairs_per_user, rng)
        points += p
        labels += y
        pairs += q
    return points, labels, pairs


def pairwise_loss(pos: list[float], neg: list[float]) -> float:
    """Mean -log sigmoid(logit p+ - logit p-): a smooth stand-in for pairwise accuracy to select epochs on."""
    p, n = torch.tensor(pos).clamp(1e-6, 1 - 1e-6), torch.tensor(neg).clamp(1e-6, 1 - 1e-6)
    return float(-F.logsigmoid(torch.logit(p) - torch.logit(n)).mean())


def train_epoch(model: PreferenceModel, opt: torch.optim.Optimizer, cfg: PreferenceTrainConfig, data: tuple,
                gen: torch.Generator, desc: str) -> float:
    """One pass over the pointwise rows, with a slice of the (liked, disliked) pairs in every step; the mean loss."""
    (point_t, point_y), (pos_t, neg_t) = data
    n_points, n_pairs = len(point_y), len(pos_t[0])
    net, inputs = model.net, model.inputs
    steps = (n_points + cfg.batch_size - 1) // cfg.batch_size
    pair_batch = max(1, n_pairs // steps)
    order, pair_order = torch.randperm(n_points, generator=gen), torch.randperm(n_pairs, generator=gen)
    model.net.train()
    total = 0.0
    for step in tqdm(range(steps), desc=desc, leave=False):
        idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
        loss = base_losses(net(*inputs(point_t, idx)), point_y[idx]).mean()
        if cfg.contrastive > 0:
            j = pair_order[step * pair_batch : (step + 1) * pair_batch]
            loss = loss + cfg.contrastive * pair_losses(net(*inputs(pos_t, j)), net(*inputs(neg_t, j))).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
    return total / steps


def validation_row(model: PreferenceModel, valid: list, stage: str, epoch: int, train_loss: float | None) -> dict:
    """The validation users' pairwise loss and accuracy (overall and by history length) after an epoch."""
    pos, neg = model_scores(model, valid)
    return {"stage": stage, "epoch": epoch, "train_loss": None if train_loss is None else round(train_loss, 4),
            "valid_pairwise_loss": round(pairwise_loss(pos, neg), 4), **{f"valid_{k}": v for k, v in metrics(pos, neg).items()},
            "valid_by_history": {b: m["pairwise_accuracy"] for b, m in bucket_metrics(valid, pos, neg).items()}}


def run_stage(model: PreferenceModel, params: list[torch.nn.Parameter], cfg: PreferenceTrainConfig, lr: float,
              epochs: int, data: tuple, valid: list, name: str) -> list[dict]:
    """Train `params` for `epochs` and keep the weights of the epoch that `cfg.select` picks on the validation
    users, the stage's start (epoch 0) included, so a stage that does not help changes nothing."""
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    key = SELECT[cfg.select]
    history = [validation_row(model, valid, name, 0, None)]
    best = (key(history[0]), copy.deepcopy(model.net.state_dict()))
    for epoch in range(1, epochs + 1):
        loss = train_epoch(model, opt, cfg, data, gen, f"{name} epoch {epoch}")
        history.append(validation_row(model, valid, name, epoch, loss))
        print(json.dumps(history[-1]), flush=True)
        if key(history[-1]) > best[0]:  # ties keep the earlier epoch
            best = (key(history[-1]), copy.deepcopy(model.net.state_dict()))
    model.net.load_state_dict(best[1])
    return history


def train(cfg: PreferenceTrainConfig, model_config: PreferenceConfig | None = None, embedder=None,
          parts: dict[str, set[str]] | None = None) -> PreferenceModel:
    """Both stages on the training users of `cfg.ratings`, for a model shaped by `model_config`; the returned model
    carries its metrics and seen users. `parts` replaces the standard user split (`ratings.split_users`), e.g. for
    cross-validation folds."""
    if cfg.select not in SELECT:
        raise StylistError(f"select must be one of {', '.join(SELECT)}, not {cfg.select!r}")
    start = time.time()
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    ratings = load_ratings(cfg.ratings)
    parts = parts or split_users(ratings)
    users = by_user(ratings)
    train_users = {u: users[u] for u in sorted(parts["train"])}
    model_config = model_config or PreferenceConfig()
    stats = ItemStats.fit(train_users, model_config.smoothing)
    model = PreferenceModel(replace(model_config, use_tokens=cfg.tokens), stats, embedder)
    model.seen_users = parts["train"] | parts["valid"]
    tastes = taste_users(polyvore_titles(), cfg.taste_users, rng, cfg.taste_words) if cfg.taste_users else []
    app = feedback_users(cfg.feedback) if cfg.feedback else []
    points, labels, pairs = training_data(stats, train_users, tastes + app, cfg.pairs_per_user, rng)
    valid = episodes(ratings, parts["valid"])
    if not valid:
        raise StylistError(f"{cfg.ratings or 'ratings.csv'}: no validation users to select epochs on (too few users with both labels)")
    print(f"{len(train_users)} ratings users + {len(tastes)} taste users + {len(app)} app users: {len(points)} rows, {len(pairs)} pairs; "
          f"{len(valid)} validation users")
    data = ((model.encode(points), torch.tensor(labels)),
            (model.encode([p for p, _ in pairs]), model.encode([n for _, n in pairs])))
    model.net.use_tokens = False
    params = [p for name, p in model.net.named_parameters() if name != "tokens"]
    history = run_stage(model, params, cfg, cfg.lr, cfg.epochs, data, valid, "a")
    if cfg.tokens and cfg.token_epochs:
        model.net.use_tokens = True
        history += run_stage(model, [model.net.tokens], cfg, cfg.token_lr, cfg.token_epochs, data, valid, "b")
    pos, neg = model_scores(model, valid)
    model.metrics = {
        "train_config": asdict(cfg), "train_users": len(train_users), "train_rows": len(points), "train_pairs": len(pairs),
        "valid_users": len(valid), "valid": metrics(pos, neg), "valid_by_history": bucket_metrics(valid, pos, neg),
        "gate_k": round(F.softplus(model.net.gate).item(), 3), "seconds": round(time.time() - start, 1), "history": history,
    }
    return model


def train_ensemble(cfg: PreferenceTrainConfig, model_config: PreferenceConfig | None = None,
                   embedder=None) -> PreferenceModel:
    """`cfg.members` models of seeds cfg.seed, cfg.seed + 1, ... on the same user split, as one model whose
    P(like) is their average (the first keeps the user vectors' tokens); the metrics are the ensemble's."""
    models = [train(cfg, model_config, embedder)]
    for i in range(1, cfg.members):
        models.append(train(replace(cfg, seed=cfg.seed + i), model_config, models[0].embedder))
    model = models[0]
    if len(models) > 1:
        model.members = [m.net for m in models[1:]]
        model.metrics["members"] = [{"seed": cfg.seed + i, "valid": m.metrics["valid"]} for i, m in enumerate(models)]
        ratings = load_ratings(cfg.ratings)
        valid = episodes(ratings, split_users(ratings)["valid"])
        pos, neg = model_scores(model, valid)
        model.metrics["valid"], model.metrics["valid_by_history"] = metrics(pos, neg), bucket_metrics(valid, pos, neg)
    return model


def _model_options(parser: argparse.ArgumentParser) -> None:
    """The two settings of the model itself (`PreferenceConfig`) a training run may change."""
    parser.add_argument("--n-tokens", type=int, default=PreferenceConfig.n_tokens, help="preference tokens K")
    parser.add_argument("--embedder", default=None,
                        help="sentence-transformers folder or id (default: checkpoints/embedder)")


def main(argv: list[str] | None = None) -> int:
    parser = config_parser(PreferenceTrainConfig, "python -m stylist train-preference", summary(__doc__),
                           more=_model_options)
    args = parser.parse_args(argv)
    model_config = PreferenceConfig(n_tokens=args.n_tokens, embedder=args.embedder)
    torch.set_num_threads(1)
    cfg = config_from(PreferenceTrainConfig, args)
    model = train_ensemble(cfg, model_config)
    model.save(cfg.out)
    print(f"saved {cfg.out}: validation {model.metrics['valid']}")
    return 0
