"""How long `python app.py` takes to be useful: until the page answers, until a page gets its visitor id, and
until the first suggestions (the models load in the background while the page is served).

    python bench/start_time.py [--runs 3]

Each run starts the app on a fresh data folder (demo catalog), as a first start does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from load_test import App, Page


def one_start() -> tuple[float, float, float]:
    """Seconds to the page, to the visitor id, to the first suggestions."""
    app = App(Path(tempfile.mkdtemp(prefix="stylist-start-")) / "data", None, "")
    begin = time.monotonic()
    try:
        page_s = app.start(models=False)
        page = Page(app.url, app.config, httpx.Client(timeout=120))
        page.open()
        visitor_s = time.monotonic() - begin
        page.recommend(["navy cotton t-shirt", "blue denim jeans"], "", "")
        return page_s, visitor_s, time.monotonic() - begin
    finally:
        app.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [one_start() for _ in range(args.runs)]
    page, visitor, first = (statistics.median(x) for x in zip(*runs))
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}: page {page:.1f} s, visitor id {visitor:.1f} s, "
          f"first suggestions {first:.1f} s (median of {args.runs} starts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
