"""How often a caption word is right on REAL photos: "printed" and "denim" (written by the embedded captioner) and
"striped" (a spectrum detector left out of captions).

    python bench/caption_words.py [--json]

A caption word must be right at least 80% of the times it is written.

"printed" and "denim": photos labelled by eye (`bench/data/real_prints.json`: tops, dresses and skirts, print,
dots, stripes, checks or plain; `real_materials.json`: trousers, shorts, skirts and jackets, denim or not). Each
word was fitted and its threshold chosen on the dev photos (`python -m stylist train-caption-words`; the
cross-validated figures are in `checkpoints/captioner/caption_words.json`). Here the committed captioner captions
the test photos (clothing-small/validation and clothing-extra's test part) as the app does.

"striped": `bench/data/real_stripes.json` holds every real photo the detector
(`stylist.experimental.patterns.garment_pattern`) calls striped at strength 40 or more, labelled by eye (is the
garment striped?), dev and test split as above. Since every photo flagged at 40 is labelled, the precision at 40
and above is exact; the strength is chosen on dev, test is read after.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from stylist.core.colors import garment_mask, thumbnail
from stylist.core.images import load_image
from stylist.core.paths import shared_data
from stylist.experimental.patterns import garment_pattern
from stylist.models.captioner import CAPTION_WORDS, DEFAULT, Captioner
from stylist.train.caption_words import RECIPES, WordConfig

DATA = Path(__file__).resolve().parent / "data"
STRENGTHS = (40, 50, 60, 70, 80)
BAR = 0.8


def committed_word(captioner: Captioner, folder: str, recipe: WordConfig) -> dict:
    """A committed word on its labelled test photos, captioned as the app captions them."""
    rows = [r for r in json.loads(Path(recipe.labels).read_text())["photos"] if r["split"] == "test"]
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


def striped() -> dict[str, dict[str, dict]]:
    """The spectrum detector's precision at each strength on the photos it flags."""
    rows = json.loads((DATA / "real_stripes.json").read_text())["photos"]
    report: dict[str, dict[str, dict]] = {"dev": {}, "test": {}}
    flagged = {split: {s: [] for s in STRENGTHS} for split in report}
    for row in tqdm(rows, desc="labelled photos"):
        image = load_image(shared_data() / row["photo"]).convert("RGB")
        mask = garment_mask(thumbnail(image))
        for strength in STRENGTHS:
            if garment_pattern(image, mask, strength=strength) == "striped":
                flagged[row["split"]][strength].append(row["striped"])
    for split, by_strength in flagged.items():
        for strength, right in by_strength.items():
            precision = sum(right) / len(right) if right else None
            report[split][str(strength)] = {"written": len(right), "right": sum(right), "precision": precision}
            shown = f"{precision:.3f}" if precision is not None else "-"
            print(f"{split:4s} strength {strength:3d}: 'striped' written {len(right):3d} times, right {sum(right):3d}"
                  f" ({shown}; bar {BAR})")
    best = [s for s in STRENGTHS if (report["dev"][str(s)]["precision"] or 0) >= BAR]
    print(f"strengths reaching {BAR:.0%} on dev: {best or 'none'}: " + (
        "the word stays in captions" if best else "'striped' is left out of captions"))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captioner", default=str(DEFAULT), help="the captioner whose words are measured")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    captioner = Captioner.load(args.captioner)
    report = {name: committed_word(captioner, args.captioner, recipe) for name, recipe in RECIPES.items()}
    report["striped"] = striped()
    if args.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
