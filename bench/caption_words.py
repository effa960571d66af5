"""How often "striped" is right on REAL photos, for the spectrum stripe detector at several strengths.

    python bench/caption_words.py [--json]

A caption word must be right at least 80% of the times it is written. `bench/data/real_stripes.json` holds
every real photo the detector (`stylist.experimental.patterns.garment_pattern`) calls striped at strength 40
or more, labelled by eye (is the garment striped?): dev = clothing-small/train and clothing-extra's training
part, test = clothing-small/validation and clothing-extra's test part. Since every photo flagged at 40 is
labelled, the precision at 40 and above is exact; the strength is chosen on dev, test is read after.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tqdm import tqdm

from stylist.core.colors import garment_mask, thumbnail
from stylist.core.images import load_image
from stylist.core.paths import shared_data
from stylist.experimental.patterns import garment_pattern

LABELS = Path(__file__).resolve().parent / "data" / "real_stripes.json"
STRENGTHS = (40, 50, 60, 70, 80)
BAR = 0.8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = json.loads(LABELS.read_text())["photos"]
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
    if args.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
