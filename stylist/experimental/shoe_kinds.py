"""Can the embedded captioner tell sneakers, boots, heels and sandals apart? A linear probe on its own features.

    python -m stylist.experimental.shoe_kinds [--captioner checkpoints/captioner] [--json]

A caption in the method's style says "black ankle boots", not "black shoes". `assets/labels/real_shoe_kinds.json`
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

import torch
import torch.nn.functional as F
from tqdm import tqdm

from stylist.core.images import load_image
from stylist.core.options import summary
from stylist.core.paths import ASSETS, shared_data
from stylist.models.captioner import DEFAULT, Captioner
from stylist.train.caption_words import THRESHOLDS, out_of_fold

LABELS = ASSETS / "labels" / "real_shoe_kinds.json"
L2 = (0.03, 0.3, 3.0)  # penalty on the weights, per unit of mean cross-entropy
BAR, MIN_WRITTEN = 0.8, 10


def stage_features(captioner: Captioner, photos: list[str], batch: int = 16) -> list[torch.Tensor]:
    """Per stage of the classifier, the photos' globally averaged feature maps (members concatenated, photo and
    mirror averaged), as the captioner's pattern word reads them."""
    chunks = []
    for begin in tqdm(range(0, len(photos), batch), desc="features", leave=False):
        images = [load_image(shared_data() / p).convert("RGB") for p in photos[begin:begin + batch]]
        chunks.append(captioner.backend.logits_and_stages(images, stages=True)[1])
    return [torch.cat(stage) for stage in zip(*chunks)]


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
    parser = argparse.ArgumentParser(description=summary(__doc__))
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
