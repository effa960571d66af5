"""Category accuracy of a captioner on labelled garment photos: `<type>/*.jpg` folders or an images.csv.

    python -m stylist eval captions --images ../shared/data/clothing-small/validation [--json] [--captioner ID]
    python -m stylist eval captions --csv ../shared/data/clothing-extra/images.csv --split test [--no-kids]

The labels may be any of the garment types in `stylist.core.vocabulary.GARMENT_TYPES` (17 in the real photo
sets), in any spelling `garment_type` reads ("T-Shirt", "Long sleeve", "Outerwear", plurals). Every photo goes
through the same `Captioner.caption_images` the app uses (loading, EXIF, colour, caption), and the caption's category is compared with the label. A photo of a type the captioner cannot name
counts as wrong; the report says which types those are. With --json the last line is one JSON object with
accuracy, n, per_class (accuracy per true type), confusion, confusion_pairs, unknown_classes and ms_per_image.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections import Counter, defaultdict
from pathlib import Path

from stylist.core.catalog import IMAGE_SUFFIXES
from stylist.core.errors import StylistError
from stylist.core.options import summary
from stylist.data.splits import photo_test_set
from stylist.models.captioner import garment_type


def labelled_photos(root: Path) -> list[tuple[Path, str]]:
    """(photo, class) for every image file in the class folders under `root`; folder names are read as garment
    types whatever their spelling ("T-Shirt", "Outerwear"), so other copies of the photo sets score as they should."""
    if not root.is_dir():
        raise StylistError(f"{root}: not a folder of <class>/ image folders")
    photos = [(f, garment_type(d.name)) for d in sorted(root.iterdir()) if d.is_dir()
              for f in sorted(d.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    if not photos:
        raise StylistError(f"{root}: no images in <class>/ folders")
    return photos


def csv_photos(path: Path, kids: bool = True, split: str = "all") -> list[tuple[Path, str]]:
    """(photo, label) from an images.csv with `image` (path under the csv's folder) and `label` columns; an
    optional `kids` column (True for children's clothes) drops those rows when `kids` is False. `split` "test"
    keeps the held-out part (`photo_test_set`, never trained on), "train" the rest, "all" every row."""
    if not path.is_file():
        raise StylistError(f"{path}: no such file")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"image", "label"} <= set(rows[0]):
        raise StylistError(f"{path}: needs `image` and `label` columns")
    test = photo_test_set((r["image"], r["label"]) for r in rows)
    photos = [(path.parent / r["image"], garment_type(r["label"])) for r in rows
              if (kids or r.get("kids", "").strip().lower() not in ("true", "1"))
              and (split == "all" or (r["image"] in test) == (split == "test"))]
    if not photos:
        raise StylistError(f"{path}: no rows left")
    return photos


def evaluate(captioner, photos: list[tuple[Path, str]], top_pairs: int = 10) -> dict:
    """Accuracy overall and per class, the most frequent true -> predicted mistakes, and the true classes the
    captioner cannot name (all wrong by construction); unreadable photos count as wrong and are listed."""
    start = time.perf_counter()
    captions = captioner.caption_images([p for p, _ in photos])
    seconds = time.perf_counter() - start
    right, total = Counter(), Counter()
    confusion: dict[str, Counter] = defaultdict(Counter)
    for caption, (_, truth) in zip(captions, photos):
        total[truth] += 1
        right[truth] += caption.category == truth
        confusion[truth][caption.category or "(error)"] += 1
    n = sum(total.values())
    unknown = sorted(set(total) - set(captioner.classes))
    known = [c for c in total if c not in unknown]
    mistakes = Counter({(t, p): k for t in confusion for p, k in confusion[t].items() if p != t})
    return {"accuracy": round(sum(right.values()) / n, 4), "n": n,
            "accuracy_known": round(sum(right[c] for c in known) / max(1, sum(total[c] for c in known)), 4),
            "per_class": {c: round(right[c] / total[c], 4) for c in sorted(total)},
            "n_per_class": dict(sorted(total.items())),
            "confusion": {c: dict(confusion[c].most_common()) for c in sorted(confusion)},
            "confusion_pairs": [{"true": t, "predicted": p, "n": k} for (t, p), k in mistakes.most_common(top_pairs)],
            "unknown_classes": unknown,
            "errors": [c.error for c in captions if c.error],
            "ms_per_image": round(1000 * seconds / n, 1), "captioner": captioner.name}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylist eval captions", description=summary(__doc__))
    parser.add_argument("task", choices=["captions"])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", help="folder with <type>/*.jpg")
    source.add_argument("--csv", help="images.csv with image (path under its folder) and label columns")
    parser.add_argument("--no-kids", action="store_true", help="with --csv: skip rows whose kids column is True")
    parser.add_argument("--split", choices=["all", "test", "train"], default="all",
                        help="with --csv: the held-out test part (30%% of each type, never trained on) or the rest")
    parser.add_argument("--captioner", default=None, help="checkpoint folder or Hugging Face model id (default: embedded)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of all metrics")
    args = parser.parse_args(argv)
    from stylist.models.captioner import Captioner

    photos = csv_photos(Path(args.csv), kids=not args.no_kids, split=args.split) if args.csv else labelled_photos(Path(args.images))
    result = evaluate(Captioner.load(args.captioner), photos)
    print(f"category accuracy {result['accuracy']:.4f} on {result['n']} photos ({result['ms_per_image']} ms/photo)")
    if result["unknown_classes"]:
        print(f"  the captioner does not know {', '.join(result['unknown_classes'])}: those photos count as wrong; "
              f"accuracy on the types it knows {result['accuracy_known']:.4f}")
    for name, acc in result["per_class"].items():
        top = ", ".join(f"{k} {v}" for k, v in result["confusion"][name].items())
        print(f"  {name:12s} {acc:.3f}  n={result['n_per_class'][name]:4d}  predicted: {top}")
    print("  most frequent mistakes: " + ", ".join(f"{p['true']} -> {p['predicted']} {p['n']}"
                                                   for p in result["confusion_pairs"]))
    for error in result["errors"]:
        print(f"  error: {error}")
    if args.json:
        print(json.dumps(result))
    return 0
