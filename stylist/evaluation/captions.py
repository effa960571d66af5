"""Category accuracy of a captioner on photos sorted into `<class>/*.jpg` folders.

    python -m stylist eval captions --images ../shared/data/clothing-small/validation [--json] [--captioner ID]

Every photo goes through the same `Captioner.caption_images` the app uses (loading, EXIF, colour, caption),
and the caption's category is compared with the folder name. With --json the last line is one JSON object
with accuracy, n, per_class (accuracy per true class), confusion and ms_per_image.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from pathlib import Path

from stylist.core.catalog import IMAGE_SUFFIXES
from stylist.core.errors import StylistError


def labelled_photos(root: Path) -> list[tuple[Path, str]]:
    """(photo, class) for every image file in the class folders under `root`."""
    if not root.is_dir():
        raise StylistError(f"{root}: not a folder of <class>/ image folders")
    photos = [(f, d.name) for d in sorted(root.iterdir()) if d.is_dir()
              for f in sorted(d.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    if not photos:
        raise StylistError(f"{root}: no images in <class>/ folders")
    return photos


def evaluate(captioner, photos: list[tuple[Path, str]]) -> dict:
    """Accuracy overall and per class; unreadable photos count as wrong and are listed."""
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
    return {"accuracy": round(sum(right.values()) / n, 4), "n": n,
            "per_class": {c: round(right[c] / total[c], 4) for c in sorted(total)},
            "n_per_class": dict(sorted(total.items())),
            "confusion": {c: dict(confusion[c].most_common()) for c in sorted(confusion)},
            "errors": [c.error for c in captions if c.error],
            "ms_per_image": round(1000 * seconds / n, 1), "captioner": captioner.name}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylist eval captions", description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=["captions"])
    parser.add_argument("--images", required=True, help="folder with <class>/*.jpg")
    parser.add_argument("--captioner", default=None, help="checkpoint folder or Hugging Face model id (default: embedded)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of all metrics")
    args = parser.parse_args(argv)
    from stylist.models.captioner import Captioner

    photos = labelled_photos(Path(args.images))
    result = evaluate(Captioner.load(args.captioner), photos)
    print(f"category accuracy {result['accuracy']:.4f} on {result['n']} photos ({result['ms_per_image']} ms/photo)")
    for name, acc in result["per_class"].items():
        top = ", ".join(f"{k} {v}" for k, v in result["confusion"][name].items())
        print(f"  {name:12s} {acc:.3f}  n={result['n_per_class'][name]:4d}  predicted: {top}")
    for error in result["errors"]:
        print(f"  error: {error}")
    if args.json:
        print(json.dumps(result))
    return 0
