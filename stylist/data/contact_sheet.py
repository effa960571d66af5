"""Draw photos with their generated captions, for judging the captioner at a glance.

    python -m stylist contact-sheet --images DIR --out /tmp/captions.png [--n 24] [--captioner ID]

Photos are picked evenly across DIR (sub-folders included, sorted, so the sheet is reproducible) and each
tile shows the caption and, for `<class>/` folders, the true class when the predicted category differs.
A sheet drawn from `../shared` photos must not be committed: it contains the shared images.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageOps

from stylist.core.catalog import IMAGE_SUFFIXES, Item
from stylist.core.errors import StylistError
from stylist.core.images import load_image
from stylist.core.options import summary
from stylist.data.demo_catalog import contact_sheet
from stylist.models.captioner import CLASSES, Captioner

TILE = 200


def pick(folder: Path, n: int) -> list[Path]:
    """n image files spread evenly over the sorted listing (so every class folder shows up)."""
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise StylistError(f"{folder}: no images found")
    step = max(1, len(files) // n)
    return files[::step][:n]


def draw(captioner: Captioner, files: list[Path], header: str) -> Image.Image:
    """One tile per photo, captioned; a file that fails shows its error instead."""
    items, tiles = [], []
    for caption in captioner.caption_images(files):
        path = Path(caption.path)
        truth = path.parent.name if path.parent.name in CLASSES else ""
        title = caption.error or caption.caption
        if truth and not caption.error and truth != caption.category:
            title += f" (is {truth})"
        items.append(Item(id=path.name, title=title))
        try:
            image = load_image(path)
        except StylistError:
            image = Image.new("RGB", (TILE, TILE), (220, 220, 220))
        tiles.append(ImageOps.pad(image, (TILE, TILE), color=(255, 255, 255)))
    return contact_sheet(items, tiles, header)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylist contact-sheet", description=summary(__doc__))
    parser.add_argument("--images", required=True, help="folder of photos (sub-folders are searched)")
    parser.add_argument("--out", required=True, help="PNG file to write")
    parser.add_argument("--n", type=int, default=24)
    parser.add_argument("--captioner", default=None, help="checkpoint folder or Hugging Face model id (default: embedded)")
    args = parser.parse_args(argv)
    captioner = Captioner.load(args.captioner)
    files = pick(Path(args.images), args.n)
    sheet = draw(captioner, files, f"{len(files)} photos from {args.images}, captioned by {Path(captioner.name).name}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out} ({len(files)} photos)")
    return 0
