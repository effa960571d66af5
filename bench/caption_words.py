"""How often a pattern word is right on REAL photos: "printed" (written by the embedded captioner) and "striped"
(a spectrum detector left out of captions).

    python bench/caption_words.py [--json]

A caption word must be right at least 80% of the times it is written.

"printed": `bench/data/real_prints.json` labels photos of tops, dresses and skirts by eye (print, dots, stripes,
checks or plain); the word was fitted and its threshold chosen on the dev photos (`python -m stylist
train-caption-words`, cross-validated figures in `checkpoints/captioner/pattern_word.json`). Here the committed
captioner captions the test photos (clothing-small/validation and clothing-extra's test part) as the app does,
and the word counts as right on a print or dots.

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
from stylist.models.captioner import DEFAULT, PATTERN_WORD, Captioner

DATA = Path(__file__).resolve().parent / "data"
STRENGTHS = (40, 50, 60, 70, 80)
BAR = 0.8
RIGHT_FOR_PRINTED = ("print", "dots")


def printed(captioner: str) -> dict:
    """The committed word on the labelled test photos, captioned as the app captions them."""
    rows = [r for r in json.loads((DATA / "real_prints.json").read_text())["photos"] if r["split"] == "test"]
    captions = Captioner.load(captioner).caption_images([shared_data() / r["photo"] for r in rows])
    written = [(r, c) for r, c in zip(rows, captions) if c.pattern == "printed"]
    right = [r for r, _ in written if r["pattern"] in RIGHT_FOR_PRINTED]
    prints = sum(r["pattern"] in RIGHT_FOR_PRINTED for r in rows)
    fit = json.loads((Path(captioner) / PATTERN_WORD).read_text())["fit"]
    dev = next(c for c in fit["cv_curve"] if c["threshold"] == fit["threshold"])
    report = {"test_photos": len(rows), "test_prints": prints, "written": len(written), "right": len(right),
              "precision": round(len(right) / len(written), 4) if written else None,
              "recall": round(len(right) / prints, 4) if prints else None,
              "wrong_on": dict(Counter(r["pattern"] for r, _ in written if r["pattern"] not in RIGHT_FOR_PRINTED)),
              "written_by_type": dict(Counter(r["type"] for r, _ in written)), "dev_cross_validated": dev,
              "examples": [c.caption for _, c in written[:5]]}
    shown = f"{report['precision']:.3f}" if written else "-"
    print(f"'printed' on {len(rows)} labelled test photos ({prints} with a print or dots): written {len(written)} times, "
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
    parser.add_argument("--captioner", default=str(DEFAULT), help="the captioner whose pattern word is measured")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = {"printed": printed(args.captioner), "striped": striped()}
    if args.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
