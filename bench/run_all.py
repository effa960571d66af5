"""The performance benchmarks of docs/performance.md in one command, with the machine's CPU count and load.

    python bench/run_all.py [--quick] [--only caption app refine contention] [--sizes 250 10000 100000]
                            [--pairs 50 200 1000] [--runs 3] [--json runs/perf.json]

- caption: milliseconds per photo (one at a time, one thread; `caption_speed.py`) and photos/s when a folder is
  indexed (`Captioner.caption_images`, torch's own thread count), median of `--runs`;
- app: per catalog size (250 = the demo, the others made by `make_catalogs.py`), `python app.py` started with a
  fresh data folder (first start: it builds the catalog index) and again on the same folder (second start,
  median of `--runs`): seconds until the page is served, until the models have loaded (the page is served while
  they load), and resident memory at rest; after each second start
  "Complete my outfit" for distinct 3-item outfits through the page (`load_test.Page`), p50 and p95 per run and
  their medians over the runs;
- refine: wall time and peak resident memory (worker and its children, sampled every 0.2 s) of the refine
  the page starts (`RefineWorker`, default settings) on N seeded preference pairs;
- contention: recommend p95 on the demo catalog while that refine trains, against its idle value.

--quick: sizes 250 and 10,000, 50 pairs, one run, fewer requests. Everything runs in temporary folders.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import psutil
from caption_speed import default_images, per_photo_ms, photos
from load_test import OCCASIONS, SEASONS, TINY_REFINE, App, Page
from make_catalogs import make_catalog
from recommend_latency import BOTTOMS, SHOES, TOPS
from tqdm import tqdm

from stylist.app.refine_worker import RefineWorker
from stylist.core.catalog import load_catalog
from stylist.core.feedback import Context, FeedbackStore, Option
from stylist.core.prompts import item_caption
from stylist.core.vocabulary import SLOTS
from stylist.models.captioner import Captioner

ROOT = Path(tempfile.mkdtemp(prefix="stylist-bench-"))


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def say(text: str) -> None:
    print(f"{text}   [load {load()}]", flush=True)


def percentiles(times: list[float]) -> dict[str, float]:
    return {"p50_s": round(float(np.percentile(times, 50)), 3), "p95_s": round(float(np.percentile(times, 95)), 3),
            "n": len(times)}


def outfits() -> list[tuple[list[str], str, str]]:
    """Distinct 3-item outfits with an occasion and a season, in a fixed shuffled order (no two requests alike,
    so the recommender's memory of recent requests never answers)."""
    every = [([t, b, s], o, z) for t, b, s in itertools.product(TOPS, BOTTOMS, SHOES)
             for o, z in [(random.Random(t + b + s).choice(OCCASIONS), random.Random(s + t).choice(SEASONS))]]
    random.Random(0).shuffle(every)
    return every


def caption(runs: int, n: int) -> dict:
    import torch

    files = photos(default_images(), n)
    captioner = Captioner.load()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    per_photo = [statistics.median(per_photo_ms(captioner, files)[0]) for _ in range(runs)]
    torch.set_num_threads(threads)
    rates = []
    for _ in range(runs):
        begin = time.perf_counter()
        captioner.caption_images(files)
        rates.append(len(files) / (time.perf_counter() - begin))
    result = {"ms_per_photo_1_thread": round(statistics.median(per_photo), 1),
              "folder_photos_per_s": round(statistics.median(rates), 1), "photos": len(files), "threads": threads}
    say(f"caption: {result['ms_per_photo_1_thread']} ms per photo (1 thread), indexing a folder "
        f"{result['folder_photos_per_s']} photos/s ({threads} threads, {len(files)} photos), median of {runs}")
    return result


def started(app: App) -> dict:
    """Start the app; seconds until it serves the page (its models load meanwhile), until its models have loaded
    and a first recommendation has run (the start's warm-up), and resident memory at rest."""
    page = app.start(models=False)
    ready = app.ready()
    time.sleep(2)
    return {"page_s": round(page, 1), "start_s": round(ready, 1),
            "rss_mb": round(psutil.Process(app.proc.pid).memory_info().rss / 2**20)}


def recommends(app: App, requests: list[tuple[list[str], str, str]], until: Callable[[], bool] = lambda: False
               ) -> list[float]:
    """Seconds per "Complete my outfit" (with the card grid it fills) through one page, one after another;
    stops early once `until()` is true."""
    page = Page(app.url, app.config, httpx.Client(timeout=300))
    page.open()
    times = []
    for captions, occasion, season in tqdm(requests, desc="recommend", leave=False):
        if until():
            break
        begin = time.perf_counter()
        page.recommend(captions, occasion, season)
        times.append(time.perf_counter() - begin)
    return times


def app_at(size: int, runs: int, requests: int) -> dict:
    catalog = "demo" if size == 250 else str(make_catalog(size))
    data = ROOT / f"app-{size}" / "data"
    data.mkdir(parents=True)
    app = App(data, None, TINY_REFINE)
    app.args += ["--catalog", catalog]
    first = started(app)
    app.stop()
    second, per_run = [], []
    for run in range(runs):
        second.append(started(app))
        per_run.append(percentiles(recommends(app, outfits()[run * requests:(run + 1) * requests])))
        app.stop()
    result = {"catalog": catalog, "first": first,
              "second": {k: statistics.median(s[k] for s in second) for k in second[0]},
              **{k: statistics.median(r[k] for r in per_run) for k in ("p50_s", "p95_s")}, "runs": per_run}
    say(f"{size} items: first start: page {first['page_s']} s, ready {first['start_s']} s, {first['rss_mb']} MB; "
        f"second start: page {result['second']['page_s']} s, ready {result['second']['start_s']} s, "
        f"{result['second']['rss_mb']} MB (median of {runs}); "
        f"recommend p50 {result['p50_s']} s, p95 {result['p95_s']} s (median of {runs} runs of {requests} "
        f"outfits; each run's p50: {', '.join(str(r['p50_s']) for r in per_run)})")
    return result


def seed_pairs(data: Path, pairs: int) -> int:
    """`pairs` preference pairs in the data folder's store: per outfit, one liked and one disliked item of the
    options shown (demo catalog items), each outfit by another visitor; returns the pairs the store makes."""
    store = FeedbackStore(data / "feedback.sqlite")
    items = load_catalog("demo").wearable()
    by_slot = {slot: [Option(i.id, item_caption(i)) for i in items if i.slot == slot] for slot in SLOTS}
    by_slot = {slot: options for slot, options in by_slot.items() if len(options) >= 2}
    for n in tqdm(range(pairs), desc="seeding votes", leave=False):
        slot = list(by_slot)[n % len(by_slot)]
        options = by_slot[slot]
        liked, disliked = options[n % len(options)], options[(n * 7 + 1) % len(options)]
        if liked == disliked:
            disliked = options[(n + 1) % len(options)]
        context = Context((TOPS[n % 5], BOTTOMS[n // 5 % 5]), slot, None, None)
        for item, label in ((liked, "like"), (disliked, "dislike")):
            store.record(f"bench-{n}", context, item, label, options=[liked, disliked])
    return len(store.pairs())


def watch_refine(job: RefineWorker) -> dict:
    """Wait for the refine to end; its wall time, peak memory (sampled) and final state."""
    begin, peak = time.perf_counter(), 0
    while job.running():
        pid = job.status().pid
        try:
            tree = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)] if pid else []
            peak = max(peak, sum(p.memory_info().rss for p in tree))
        except psutil.Error:  # it ended between two looks
            pass
        time.sleep(0.2)
    status = job.status()
    return {"wall_s": round(time.perf_counter() - begin, 1), "peak_mb": round(peak / 2**20), "state": status.state,
            "steps": status.step, "train_s": round(status.result.train_seconds, 1) if status.result else None,
            "error": status.error}


def refine(pairs: int) -> dict:
    data = ROOT / f"refine-{pairs}" / "data"
    data.mkdir(parents=True)
    seeded = seed_pairs(data, pairs)
    job = RefineWorker(data)
    job.start()
    result = {"pairs": seeded, **watch_refine(job)}
    say(f"refine {seeded} pairs: {result['wall_s']} s ({result['train_s']} s of training steps), peak "
        f"{result['peak_mb']} MB, {result['state']} after {result['steps']} steps"
        + (f" ({result['error']})" if result["error"] else ""))
    return result


def contention(pairs: int, requests: int) -> dict:
    data = ROOT / "contention" / "data"
    data.mkdir(parents=True)
    app = App(data, None, TINY_REFINE)
    started(app)
    try:
        requested = outfits()
        idle = recommends(app, requested[:requests])
        seed_pairs(data, pairs)
        job = RefineWorker(data)
        job.start()
        while job.status().state != "running" and job.running():  # measure while it trains, not while it loads
            time.sleep(0.2)
        busy = recommends(app, requested[requests:], until=lambda: not job.running())
        job.stop()
        while job.running():
            time.sleep(0.2)
    finally:
        app.stop()
    result = {"idle": percentiles(idle), "during_refine": percentiles(busy)}
    result["ratio_p95"] = round(result["during_refine"]["p95_s"] / result["idle"]["p95_s"], 2)
    say(f"recommend p95 idle {result['idle']['p95_s']} s, during a refine on {pairs} pairs "
        f"{result['during_refine']['p95_s']} s ({len(busy)} outfits): {result['ratio_p95']}x")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="+", choices=["caption", "app", "refine", "contention"],
                        default=["caption", "app", "refine", "contention"])
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--pairs", type=int, nargs="+")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    runs = args.runs or (1 if args.quick else 3)
    sizes = args.sizes or ([250, 10_000] if args.quick else [250, 10_000, 100_000])
    pairs = args.pairs or ([50] if args.quick else [50, 200, 1000])
    requests = 10 if args.quick else 30
    say(f"{os.cpu_count()} CPUs; temporary folders in {ROOT}")
    figures: dict = {"cpus": os.cpu_count(), "load_at_start": load()}
    if "caption" in args.only:
        figures["caption"] = caption(runs, 24 if args.quick else 48)
    if "app" in args.only:
        figures["app"] = {size: app_at(size, runs, requests) for size in sizes}
    if "refine" in args.only:
        figures["refine"] = [refine(n) for n in pairs]
    if "contention" in args.only:
        figures["contention"] = contention(200 if not args.quick else 50, requests)
    figures["load_at_end"] = load()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
