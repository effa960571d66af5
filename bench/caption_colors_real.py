"""Main-colour accuracy of the captioner on REAL garment photos, against hand labels.

    python bench/caption_colors_real.py --split dev     # 72 photos from clothing-small/train (naming tuned here)
    python bench/caption_colors_real.py --split test    # 72 photos from clothing-small/validation (measured once)

`assets/labels/real_colors.json` gives, per photo, the palette names accepted as its main colour (labelled by eye
before any colour change was tried; see its "about"). A photo counts as right when the caption's first colour
is one of them. bench/caption_colors.py measures the same on rendered photos with exactly known colours; this
one checks that naming holds on real phone photos, which are dimmer and less saturated than renders.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

from tqdm import tqdm

from stylist.core.paths import ASSETS, shared_data
from stylist.models.captioner import Captioner

LABELS = ASSETS / "labels" / "real_colors.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["dev", "test"], default="dev")
    parser.add_argument("--captioner", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    labels: dict[str, list[str]] = json.loads(LABELS.read_text())[args.split]
    captioner = Captioner.load(args.captioner)
    root = shared_data() / "clothing-small"
    right, misses = 0, Counter()
    for rel, accepted in tqdm(labels.items(), desc=f"{args.split} photos"):
        named = captioner.caption_image(root / rel).colors[0]
        right += named in accepted
        if named not in accepted:
            misses[f"{accepted[0]}->{named}"] += 1
    result = {"split": args.split, "n": len(labels), "main_colour_accuracy": round(right / len(labels), 4),
              "misses": dict(misses.most_common())}
    print(f"{args.split}: {right}/{len(labels)} photos named right = {result['main_colour_accuracy']:.3f}")
    print("misses (labelled -> named):", ", ".join(f"{k} x{v}" for k, v in misses.most_common()))
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
