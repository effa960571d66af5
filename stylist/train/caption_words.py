"""Fit the captioner's pattern and material words ("printed", "striped", "denim") on hand-labelled real photos.

    python -m stylist train-caption-words [--words printed striped denim] [--captioner checkpoints/captioner]

A caption word must be right at least 80% of the times it is written. Each word has a recipe (`RECIPES`): its labels
(`assets/labels/real_prints.json`, `real_patterns_more.json`, `real_materials.json`, by eye), the garment types they
cover and which labels the word is right for; only the dev photos are read here. The inputs are the classifier's own
pooled stage features and the garment's texture statistics (`stylist.models.captioner.word_inputs`); a logistic
regression over them is cross-validated on dev (5 folds, stratified), the word's threshold is the lowest probability
at which the out-of-fold predictions were right at least `precision` of the time over at least `min_written` photos,
and the regression refitted on every dev photo is written beside the classifier in `caption_words.json`. Retraining
the classifier means running this again: the file is refused by a classifier whose features it was not fitted to.
`bench/caption_words.py` reads the test photos.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from stylist.core.colors import garment_mask, thumbnail
from stylist.core.errors import StylistError
from stylist.core.images import load_image
from stylist.core.options import option, parse_config, summary
from stylist.core.paths import REPO, shared_data
from stylist.core.texture import texture_statistics
from stylist.models.captioner import CAPTION_WORDS, DEFAULT, Captioner, CaptionWord, word_inputs

LABELS = REPO / "assets" / "labels"
FOLDS = 5
THRESHOLDS = np.round(np.arange(0.30, 0.96, 0.05), 2)


@dataclass(frozen=True)
class WordConfig:
    """One caption word's recipe: its labels and the regression's inputs, penalty and precision bar."""

    word: str = field(metadata={"help": "the caption word"})
    kind: str = field(metadata={"help": "pattern or material: where the caption puts it"})
    labels: tuple[str, ...] = field(
        metadata={"help": "hand-label files: photo (under ../shared/data), type, <label field>, split"})
    label_field: str = field(metadata={"help": "the labels' field the word is judged by"})
    right: tuple[str, ...] = field(metadata={"help": "values of that field the word is right for"})
    stages: tuple[int, ...] = field(default=(2, 3), metadata={"help": "classifier stages whose pooled features it reads"})
    l2: float = field(default=0.3, metadata={"help": "penalty on the weights, per unit of mean cross-entropy"})
    precision: float = field(default=0.85, metadata={"help": "cross-validated precision the threshold must reach"})
    min_written: int = field(default=10, metadata={"help": "dev photos the word must be written on at that threshold"})


# inputs and penalty of each: the set that wrote the most dev photos at CV precision >= 0.85 (docs/experiments)
RECIPES = {
    "printed": WordConfig("printed", "pattern", (str(LABELS / "real_prints.json"),), "pattern", ("print", "dots")),
    "striped": WordConfig("striped", "pattern", (str(LABELS / "real_prints.json"),
                                                 str(LABELS / "real_patterns_more.json")), "pattern", ("stripes",)),
    "denim": WordConfig("denim", "material", (str(LABELS / "real_materials.json"),), "material", ("denim",), l2=0.03),
}


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


def precision_curve(p: np.ndarray, right: np.ndarray) -> list[dict]:
    """At each threshold: how often the word is written (p >= threshold) and how often it is then right."""
    rows = []
    for t in THRESHOLDS:
        written = p >= t
        n = int(written.sum())
        rows.append({"threshold": float(t), "written": n, "right": int((written & right).sum()),
                     "precision": round(float((written & right).sum() / n), 4) if n else None})
    return rows


def labelled_inputs(captioner: Captioner, photos: list[str], stages: tuple[int, ...], batch: int = 16) -> np.ndarray:
    """`word_inputs` of labelled photos (paths under ../shared/data, or absolute), as the captioner computes them."""
    rows = []
    for begin in tqdm(range(0, len(photos), batch), desc="photo features", leave=False):
        images = [load_image(shared_data() / p).convert("RGB") for p in photos[begin:begin + batch]]
        smalls = [thumbnail(image) for image in images]
        textures = np.stack([texture_statistics(small, garment_mask(small)) for small in smalls])
        _, pooled = captioner.backend.logits_and_stages(images, stages=True)
        rows.append(word_inputs(pooled, stages, textures))
    return np.concatenate(rows)


def labelled_rows(config: WordConfig) -> list[dict]:
    """Every labelled photo of a recipe's label files, in file order."""
    return [row for labels in config.labels for row in json.loads(Path(labels).read_text())["photos"]]


def train(config: WordConfig, folder: str | Path = DEFAULT) -> dict:
    """Cross-validate on dev, choose the threshold, refit on all of dev and write the word into the classifier
    folder's `caption_words.json` (in place of an earlier fit of the same word; the others are kept)."""
    captioner = Captioner.load(folder)
    if not hasattr(captioner.backend, "logits_and_stages") or not hasattr(captioner.backend.model.config, "hidden_sizes"):
        raise StylistError(f"{folder} is not a convolutional image classifier: a caption word reads its stages")
    dev = [r for r in labelled_rows(config) if r["split"] == "dev"]
    x = torch.from_numpy(labelled_inputs(captioner, [r["photo"] for r in dev], config.stages))
    right = np.array([r[config.label_field] in config.right for r in dev])
    y = torch.from_numpy(right.astype(np.int64))
    cv = out_of_fold(x, y, 2, config.l2)[:, 1].numpy()
    curve = precision_curve(cv, right)
    passing = [r for r in curve if r["written"] >= config.min_written and r["precision"] >= config.precision]
    if not passing:
        raise StylistError(f"no threshold makes {config.word!r} right {config.precision:.0%} of the time on dev: not written")
    mean, std = x.mean(0), x.std(0) + 1e-6
    weight, bias = fit((x - mean) / std, y, 2, config.l2)
    word = CaptionWord(config.word, config.kind, frozenset(r["type"] for r in dev), config.stages, mean.numpy(),
                       std.numpy(), (weight[1] - weight[0]).numpy(), float(bias[1] - bias[0]), passing[0]["threshold"])
    files = [Path(labels).resolve() for labels in config.labels]
    shown = [str(f.relative_to(REPO)) if f.is_relative_to(REPO) else str(f) for f in files]
    report = {"config": {**asdict(config), "labels": shown}, "dev_photos": len(dev), "dev_right_for_word": int(right.sum()),
              "cv_auc": round(float((cv[right][:, None] > cv[~right][None]).mean()), 4), "cv_curve": curve,
              "threshold": word.threshold}
    path = Path(folder) / CAPTION_WORDS
    kept = [w for w in json.loads(path.read_text())["words"] if w["word"] != word.word] if path.exists() else []
    path.write_text(json.dumps({"words": [*kept, {**word.to_json(), "fit": report}]}) + "\n")
    return report


@dataclass
class CaptionWordsConfig:
    """What `python -m stylist train-caption-words` fits, and where."""

    words: tuple[str, ...] = option(tuple(RECIPES), "recipes to fit", choices=RECIPES)
    captioner: str = option(str(DEFAULT), "classifier folder the words are fitted to and written into")


def main(argv: list[str] | None = None) -> int:
    args = parse_config(CaptionWordsConfig, argv, "python -m stylist train-caption-words", summary(__doc__))
    for name in args.words:
        report = train(RECIPES[name], args.captioner)
        chosen = next(r for r in report["cv_curve"] if r["threshold"] == report["threshold"])
        print(f"{name!r}: {report['dev_photos']} dev photos, {report['dev_right_for_word']} it is right for; "
              f"cross-validated AUC {report['cv_auc']}; written from p >= {report['threshold']}: {chosen['written']} "
              f"times, right {chosen['right']} ({chosen['precision']}); in {Path(args.captioner) / CAPTION_WORDS}")
    return 0
