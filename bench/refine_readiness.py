"""What the Refine tab's readiness costs at 101k events: rebuilding every pair (what the tab did at each run-state
change and visit) against the counts kept per outfit context (stylist/core/readiness.py), on SQLite and, when
Debian's PostgreSQL binaries are present, on a throw-away PostgreSQL cluster.

    python bench/refine_readiness.py [--events 101000] [--json]

The events are 2,000 visitors clicking in 1,000 outfit contexts (three suggestions shown each time). Printed:
the full rebuild, the counter's first refresh (one read of the table, once per app process), and its refresh
after one more vote (what the tab pays from then on), median of 5.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from stylist.core.feedback import Context, FeedbackStore, Option, open_store, readiness
from stylist.core.readiness import ReadinessCounter
from stylist.core.refine_options import training_examples

SLOTS = ["shoes", "bag", "outerwear", "hat", "jewellery"]  # 200 captions x 5 slots: 1,000 outfit contexts


def fill(store: FeedbackStore, n: int) -> None:
    rng, now, rows = random.Random(0), time.time() - 86400, []
    for i in range(n):
        ctx = Context((f"white tee {rng.randrange(200)}", "blue jeans"), rng.choice(SLOTS))
        shown = [Option(f"i{rng.randrange(500)}", f"item {rng.randrange(500)}") for _ in range(3)]
        rows.append((f"v-{rng.randrange(2000):04x}", now + i * 0.1, ctx.key, json.dumps(asdict(ctx)),
                     json.dumps([asdict(o) for o in shown]), shown[0].id, shown[0].text, 0,
                     rng.choice(["like", "dislike"])))
    with store._write() as db:
        for start in range(0, n, 10_000):
            for row in rows[start:start + 10_000]:
                db.execute('INSERT INTO events ("user", time, context_key, context, options, item_id, item_text, '
                           "adapter_version, label) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(store: FeedbackStore, n: int) -> dict:
    fill(store, n)
    full = statistics.median(timed(lambda: readiness(training_examples(store, "dpo"), 8, 20)) for _ in range(3))
    counter = ReadinessCounter(store)
    first = timed(lambda: counter.readiness("dpo", 8, 20))
    after = []
    for i in range(5):
        store.record(f"v-new{i}", Context(("white tee 1", "blue jeans"), "shoes"), Option("i1", "item 1"), "like")
        after.append(timed(lambda: counter.readiness("dpo", 8, 20)))
    assert counter.readiness("dpo", 8, 20) == readiness(training_examples(store, "dpo"), 8, 20)
    return {"events": n + 5, "full_rebuild_s": round(full, 3), "first_refresh_s": round(first, 3),
            "refresh_after_a_vote_s": round(statistics.median(after), 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=101_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        results["sqlite"] = measure(FeedbackStore(Path(folder) / "feedback.sqlite"), args.events)
    from pg_server import BIN, cluster, new_database

    if BIN:
        with cluster() as server:
            results["postgresql"] = measure(open_store(new_database(server, "bench")), args.events)
    if args.json:
        print(json.dumps(results))
    else:
        for backend, r in results.items():
            print(f"{backend:10s} {r['events']} events: full rebuild {r['full_rebuild_s']:.2f} s, counter: first "
                  f"refresh {r['first_refresh_s']:.2f} s, then {r['refresh_after_a_vote_s'] * 1000:.1f} ms after a "
                  "vote")
    return 0


if __name__ == "__main__":
    sys.exit(main())
