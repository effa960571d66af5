"""Can the embedded captioner tell sneakers, boots, heels and sandals apart? A linear probe on its own features.

    python bench/shoe_kinds.py [--captioner checkpoints/captioner] [--json]

A caption in the method's style says "black ankle boots", not "black shoes". `bench/data/real_shoe_kinds.json`
labels every shoe photo of the shared folders by eye (dev: the training photos, test: clothing-small/validation and
clothing-extra's test part). On the dev photos, a multinomial logistic regression is fitted on the captioner's
pooled feature maps of each stage (its members' concatenated, photo and mirror averaged) and judged by 5-fold
cross-validation: accuracy against always saying "other", and for each word the best precision it reaches at any
probability threshold where it is written at least 10 times. A word must be right at least 80% of the times it
is written to enter captions; test is read only if some word reaches that on dev.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from stylist.core.images import load_image
from stylist.core.paths import shared_data
from stylist.models.captioner import DEFAULT, Captioner, model_pixels

LABELS = Path(__file__).resolve().parent / "data" / "real_shoe_kinds.json"
L2 = (0.03, 0.3, 3.0)  # penalty on the weights, per unit of mean cross-entropy
THRESHOLDS = np.arange(0.30, 0.96, 0.05)
BAR, MIN_WRITTEN, FOLDS = 0.8, 10, 5


def stage_features(captioner: Captioner, photos: list[str], batch: int = 16) -> list[torch.Tensor]:
    """Per stage of the classifier, the photos' globally averaged feature maps (members concatenated)."""
    backend = captioner.backend
    stages: list[list[torch.Tensor]] = []
    for begin in tqdm(range(0, len(photos), batch), desc="features", leave=False):
        images = [load_image(shared_data() / p).convert("RGB") for p in photos[begin:begin + batch]]
        x = torch.stack([torch.from_numpy(model_pixels(image, backend.size)) for image in images])
        x = (x.permute(0, 3, 1, 2).float() / 255.0 - backend.mean) / backend.std
        x = torch.cat([x, x.flip(-1)])
        with torch.inference_mode():
            hidden = [m(pixel_values=x, output_hidden_states=True).hidden_states for m in backend.models]
        for s in range(len(hidden[0])):
            if len(stages) <= s:
                stages.append([])
            pooled = torch.cat([h[s].mean((2, 3)) for h in hidden], -1)
            stages[s].append(sum(pooled.split(len(images))) / 2)
    return [torch.cat(s) for s in stages]


def fit(x: torch.Tensor, y: torch.Tensor, classes: int, l2: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Multinomial logistic regression (L-BFGS; convex, so no seed matters)."""
    weight = torch.zeros(classes, x.shape[1], requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=300, line_search_fn="strong_wolfe")

    def loss():
        optimizer.zero_grad()
        value = F.cross_entropy(x @ weight.T + bias, y) + l2 * weight.pow(2).sum()
        value.backward()
        return value

    optimizer.step(loss)
    return weight.detach(), bias.detach()


def out_of_fold(x: torch.Tensor, y: torch.Tensor, classes: int, l2: float) -> torch.Tensor:
    """Each photo's probabilities from a fit on the other folds (stratified by label, standardised on them)."""
    fold = torch.empty(len(y), dtype=torch.long)
    for label in range(classes):
        rows = (y == label).nonzero().flatten()
        fold[rows] = torch.arange(len(rows)) % FOLDS
    probs = torch.zeros(len(y), classes)
    for k in range(FOLDS):
        train = fold != k
        mean, std = x[train].mean(0), x[train].std(0) + 1e-6
        weight, bias = fit((x[train] - mean) / std, y[train], classes, l2)
        probs[~train] = (((x[~train] - mean) / std) @ weight.T + bias).softmax(-1)
    return probs


def best_precision(probs: torch.Tensor, y: torch.Tensor, word: int) -> tuple[float, int]:
    """The highest precision of a word over the thresholds where it is written >= MIN_WRITTEN times, and how
    often it is written there (0.0, 0 if it never is)."""
    p, best = probs.max(-1)
    found = (0.0, 0)
    for t in THRESHOLDS:
        written = (best == word) & (p >= t)
        n = int(written.sum())
        if n >= MIN_WRITTEN:
            found = max(found, (int((written & (y == word)).sum()) / n, n))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captioner", default=str(DEFAULT))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [r for r in json.loads(LABELS.read_text())["photos"] if r["split"] == "dev"]
    words = sorted({r["kind"] for r in rows} - {""}) + [""]
    y = torch.tensor([words.index(r["kind"]) for r in rows])
    stages = stage_features(Captioner.load(args.captioner), [r["photo"] for r in rows])
    majority = float((y == torch.bincount(y).argmax()).float().mean())
    print(f"{len(rows)} dev photos; saying the commonest kind ('{words[int(torch.bincount(y).argmax())]}' = other) "
          f"is right {majority:.3f}")
    report: dict = {"n_dev": len(rows), "majority": majority, "stages": []}
    for s, x in enumerate(stages):
        for l2 in L2:
            probs = out_of_fold(x, y, len(words), l2)
            row = {"stage": s, "dim": x.shape[1], "l2": l2,
                   "log_loss": round(F.nll_loss(probs.clamp_min(1e-9).log(), y).item(), 3),
                   "accuracy": round(float((probs.argmax(-1) == y).float().mean()), 3),
                   "best_precision": {w: best_precision(probs, y, k) for k, w in enumerate(words[:-1])}}
            report["stages"].append(row)
            shown = ", ".join(f"{w} {p:.2f} ({n})" for w, (p, n) in row["best_precision"].items())
            print(f"stage {s} ({row['dim']} features), l2 {l2:g}: log-loss {row['log_loss']}, accuracy "
                  f"{row['accuracy']}; best precision (times written): {shown}")
    reached = sorted({w for r in report["stages"] for w, (p, _) in r["best_precision"].items() if p >= BAR})
    print(f"words reaching {BAR:.0%} on dev: {reached or 'none'}" + ("" if reached else ": no kind word is written"))
    if args.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
