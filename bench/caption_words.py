"""How often a caption word is right on REAL photos: "printed", "striped" and "denim", as the embedded captioner
writes them.

    python bench/caption_words.py [--json]

A caption word must be right at least 80% of the times it is written. The photos are labelled by eye
(`assets/labels/real_prints.json` and `real_patterns_more.json`: tops, dresses and skirts, print, dots, stripes,
checks or plain; `real_materials.json`: trousers, shorts, skirts and jackets, denim or not). Each word was fitted
and its threshold chosen on the dev photos (`python -m stylist train-caption-words`; the cross-validated figures
are in `checkpoints/captioner/caption_words.json`). Here the committed captioner captions the test photos
(clothing-small/validation and clothing-extra's test part) as the app does.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from stylist.core.paths import shared_data
from stylist.models.captioner import CAPTION_WORDS, DEFAULT, Captioner
from stylist.train.caption_words import RECIPES, WordConfig, labelled_rows

BAR = 0.8


def committed_word(captioner: Captioner, folder: str, recipe: WordConfig) -> dict:
    """A committed word on its labelled test photos, captioned as the app captions them."""
    rows = [r for r in labelled_rows(recipe) if r["split"] == "test"]
    captions = captioner.caption_images([shared_data() / r["photo"] for r in rows])
    written = [(r, c) for r, c in zip(rows, captions) if recipe.word in (c.pattern, c.material)]
    right = [r for r, _ in written if r[recipe.label_field] in recipe.right]
    shows = sum(r[recipe.label_field] in recipe.right for r in rows)
    fit = next(w for w in json.loads((Path(folder) / CAPTION_WORDS).read_text())["words"] if w["word"] == recipe.word)["fit"]
    dev = next(c for c in fit["cv_curve"] if c["threshold"] == fit["threshold"])
    report = {"test_photos": len(rows), "test_showing_it": shows, "written": len(written), "right": len(right),
              "precision": round(len(right) / len(written), 4) if written else None,
              "recall": round(len(right) / shows, 4) if shows else None,
              "wrong_on": dict(Counter(r[recipe.label_field] for r, _ in written if r[recipe.label_field] not in recipe.right)),
              "written_by_type": dict(Counter(r["type"] for r, _ in written)), "dev_cross_validated": dev,
              "examples": [c.caption for _, c in written[:5]]}
    shown = f"{report['precision']:.3f}" if written else "-"
    print(f"{recipe.word!r} on {len(rows)} labelled test photos ({shows} it is right for): written {len(written)} times, "
          f"right {len(right)} ({shown}; bar {BAR}); recall {report['recall']}; wrong on {report['wrong_on']}")
    print(f"  dev, cross-validated at the chosen threshold {fit['threshold']}: written {dev['written']}, right "
          f"{dev['right']} ({dev['precision']}); e.g. {', '.join(report['examples'])}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captioner", default=str(DEFAULT), help="the captioner whose words are measured")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    captioner = Captioner.load(args.captioner)
    report = {name: committed_word(captioner, args.captioner, recipe) for name, recipe in RECIPES.items()}
    if args.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
