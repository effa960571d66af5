"""The refine worker under `accelerate launch`: two CPU processes (gloo) train one DPO run data-parallel and
write one new adapter version, as several GPUs would.

    python bench/refine_multiproc.py                    # embedded LM, 2 processes, then 1 for comparison
    python bench/refine_multiproc.py --processes 1      # a single process only

A fresh data folder under runs/refine-multiproc gets a user who, on demo-catalog outfits with a piece missing,
likes the real piece and dislikes three others of its slot; `python -m stylist refine --all` then runs under
`accelerate launch` with N processes on the CPU, and the script prints the version it made, the steps, the time
and the held-out preference accuracy before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tqdm import tqdm

from stylist.core.adapters import AdapterRegistry
from stylist.core.catalog import load_catalog
from stylist.core.feedback import Context, FeedbackStore, Option
from stylist.core.paths import REPO, RUNS
from stylist.core.prompts import item_caption

USER = "sim-outfits"


def record_user(data: Path, outfits: int, seed: int = 0) -> int:
    """The user's clicks in `data`/feedback.sqlite; returns how many."""
    catalog, rng = load_catalog("demo"), random.Random(seed)
    store, clicks = FeedbackStore(data / "feedback.sqlite"), 0
    for outfit in tqdm(rng.sample(catalog.outfits, outfits), desc="clicks"):
        items = catalog.outfit_items(outfit)
        missing = items[rng.randrange(len(items))]
        others = [i for i in catalog.items.values() if i.slot == missing.slot and i not in items]
        shown = [missing, *rng.sample(others, 3)]
        context = Context(tuple(item_caption(i) for i in items if i is not missing), slot=missing.slot)
        options = [Option(i.id, item_caption(i)) for i in shown]
        for item, option in zip(shown, options):
            store.record(USER, context, option, "like" if item is missing else "dislike", options=options,
                         adapter_version=0)
            clicks += 1
    return clicks


def run(processes: int, data: Path, args: argparse.Namespace) -> dict:
    """One refine under `accelerate launch` with `processes` CPU processes; its JSON result and wall time.
    `--cpu --num_processes 2` would start one process only (accelerate issue #2741): `--multi_gpu` starts them
    through torchrun, and with no GPU visible the trainer's `use_cpu` makes them talk over gloo."""
    several = ["--multi_gpu"] if processes > 1 else []  # accelerate refuses --multi_gpu for one process
    command = [sys.executable, "-m", "accelerate.commands.launch", *several, "--num_processes", str(processes),
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "-m", "stylist", "refine", "--all", "--json", "--data-dir", str(data), "--steps", str(args.steps),
               "--batch-size", str(args.batch_size), "--fitb-questions", "0", "--anchors", "0"]
    start = time.time()
    done = subprocess.run(command, check=False, cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    if done.returncode:
        raise SystemExit(f"accelerate launch with {processes} processes failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, "processes": processes, "wall_seconds": round(time.time() - start, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--outfits", type=int, default=30)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=4, help="per process")
    parser.add_argument("--out", default=str(RUNS / "refine-multiproc"))
    args = parser.parse_args(argv)
    rows = []
    for processes in args.processes:
        data = Path(args.out) / f"data-{processes}"
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        record_user(data, args.outfits)
        row = run(processes, data, args)
        registry = AdapterRegistry(data / "adapters")
        assert registry.active_number() == row["version"] == 1, "the run did not activate version 1"
        rows.append(row)
        print(json.dumps({k: row[k] for k in ("processes", "version", "steps", "train_pairs", "train_seconds",
                                                "wall_seconds", "before", "after")}))
    Path(args.out, "results.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
