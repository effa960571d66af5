"""Milliseconds per photo for the embedded captioner on ONE CPU core (load + classify + colour + pattern).

    python bench/caption_speed.py [--images DIR] [--n 50] [--json]

Torch is limited to one thread. Besides wall-clock time it reports the process's CPU time per photo, which
stays meaningful when other jobs share the machine (wall time then also counts waiting for the core).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from stylist.core.catalog import IMAGE_SUFFIXES
from stylist.core.paths import DEMO_CATALOG, shared_data
from stylist.models.captioner import Captioner


def default_images() -> Path:
    """Real photos when the shared data is there, else the demo catalog's."""
    real = shared_data() / "clothing-small" / "validation"
    return real if real.exists() else DEMO_CATALOG / "images"


def photos(images: str | Path, n: int) -> list[Path]:
    """Every seventh photo of the folder (all classes), n at most."""
    return sorted(p for p in Path(images).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[:: 7][:n]


def per_photo_ms(captioner: Captioner, files: list[Path]) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of captioning each photo alone, after one warm-up call (lazy imports, kernels)."""
    captioner.caption_image(files[0])
    wall, cpu = [], []
    for path in files:
        w, c = time.perf_counter(), time.process_time()
        captioner.caption_image(path)
        wall.append(1000 * (time.perf_counter() - w))
        cpu.append(1000 * (time.process_time() - c))
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", default=str(default_images()))
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--captioner", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    files = photos(args.images, args.n)
    wall, cpu = per_photo_ms(Captioner.load(args.captioner), files)
    result = {"n": len(files), "cpu_ms_median": round(statistics.median(cpu), 1), "cpu_ms_mean": round(statistics.mean(cpu), 1),
              "wall_ms_median": round(statistics.median(wall), 1), "threads": torch.get_num_threads(), "images": args.images}
    print(f"{result['cpu_ms_median']} ms CPU per photo (median; mean {result['cpu_ms_mean']}), "
          f"{result['wall_ms_median']} ms wall (median), 1 thread, {len(files)} photos from {args.images}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
