"""Load test of the running app: simulated visitors against `python app.py` on 127.0.0.1, then the SQLite check.

    python bench/load_test.py [--visitors 20] [--seconds 60] [--threads N]   # recommend + vote + think, in a loop
    python bench/load_test.py --refine       # the same while a refine started from the page trains
    python bench/load_test.py --kill         # kill -9 the app halfway through, restart it, keep voting
    python bench/load_test.py --refine-kill  # kill -9 the refine worker while training and while saving

Each visitor is one page speaking Gradio's protocol as the page's JavaScript does (join the queue, then read the
session's event stream; one POST for the page load, which runs outside the queue): page load (which issues the
visitor token), "Complete my outfit" (which also fills the card grid), and Like/Dislike on 1-2 of them, through
the page's own handlers (`gradio_client` makes a visit through the API endpoints instead: README, "Use it from
Python"). `bench/abuse_load.py` runs these visitors beside an abusive client.
The app runs with a fresh temporary data folder and an admin password; everything stops by itself.

Printed: requests and failures per kind (with the first error texts), latency p50/p95/max, the load average,
and whether the votes the page acknowledged are exactly the rows in `<data>/feedback.sqlite`, plus
`PRAGMA integrity_check`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from stylist.app.server import REPO, free_port, wait_http

OUTFITS = [["navy cotton t-shirt", "blue denim jeans"], ["white linen shirt", "black wool trousers"],
           ["floral summer dress"], ["grey wool sweater", "olive chino trousers", "white leather sneakers"],
           ["black silk blouse", "red pleated skirt"], ["beige knit top", "white cotton shorts", "beige sandals"]]
OCCASIONS = ["", "casual", "work", "evening"]
SEASONS = ["", "summer", "winter"]
TINY_REFINE = "--steps 300 --fitb-questions 0 --min-pairs 4 --heldout-percent 0 --anchors 0"
PASSWORD = secrets.token_hex(8)


class PageError(Exception):
    """A request the app answered with an error, or did not answer."""


class Page:
    """One visitor's browser page: its session, its visitor token and the handlers its page has rendered."""

    def __init__(self, url: str, config: dict, http: httpx.Client, saved: str | None = None):
        self.api, self.session, self.http, self.saved = url + "gradio_api/", secrets.token_hex(6), http, saved
        self.deps = {d["api_name"]: d for d in config["dependencies"]}
        self.elem = {c["props"].get("elem_id"): c["id"] for c in config["components"] if c.get("props")}
        self.grid = _vote_handlers(config)
        self.key, self.cards, self.visitor = "", [], ""  # the rendering shown, its cards' (row, column)

    def call(self, dep: dict, data: list) -> dict:
        """Run one handler as the page does (one outside the queue, such as the page load, by one POST); returns
        its output or raises PageError."""
        body = {"data": data, "fn_index": dep["id"], "session_hash": self.session,
                "trigger_id": dep["targets"][0][0] if dep["targets"] else None, "event_data": None}
        try:
            if dep.get("queue") is False:
                answer = self.http.post(self.api + "run/predict", json=body)
                if answer.status_code >= 500:
                    answer.raise_for_status()
                output = answer.json()
                if "error" in output or answer.status_code != 200:
                    raise PageError(str(output.get("error") or answer.text[:300]))
                return output
            joined = self.http.post(self.api + "queue/join", json=body)
            joined.raise_for_status()
            event = joined.json()["event_id"]
            with self.http.stream("GET", self.api + "queue/data", params={"session_hash": self.session}) as stream:
                for line in stream.iter_lines():
                    message = json.loads(line[5:]) if line.startswith("data:") else {}
                    if message.get("event_id") == event and message.get("msg") == "process_completed":
                        if not message.get("success"):
                            raise PageError(str((message.get("output") or {}).get("error")))
                        return message["output"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise PageError(f"{type(exc).__name__}: {exc}") from None
        raise PageError("the event stream ended without a result")

    def open(self) -> str:
        """The page load: the server issues (or renews, from the browser's saved copy) the visitor token;
        returns the visitor id."""
        self.saved = self.call(self.deps["welcome"], [self.saved])["data"][1]
        self.visitor = self.saved.rsplit(".", 2)[0]  # the token: visitor.time.signature
        return self.visitor

    def recommend(self, captions: list[str], occasion: str, season: str) -> int:
        """"Complete my outfit" (one event: two states, the rendering's key, the summary, then per row of the card
        grid its slot name and its cards' HTML, "" where none); returns the number of cards."""
        shown = self.call(self.deps["complete"], [None, None, occasion, season, [], *(captions + [""] * 4)[:4]])["data"]
        self.key, grid = shown[2], shown[4:]
        per_row = len(grid) // len(self.grid)
        self.cards = [(r, c) for r in range(len(self.grid)) for c in range(per_row - 1) if grid[r * per_row + 1 + c]]
        return len(self.cards)

    def vote(self, card: int, label: str) -> str:
        """Click Like or Dislike on a card (each card at most once, so no click takes a vote back); returns the
        page's acknowledgement."""
        row, col = self.cards[card]
        message = self.call(self.grid[row][col][label], [None, self.key, None, None])["data"][2]
        if not message.startswith("Recorded:"):
            raise PageError(f"not acknowledged: {message}")
        return message

    def click(self, elem_id: str, data: list) -> dict:
        """An admin button of the page, by its element id."""
        dep = next(d for d in self.deps.values() if d["targets"] and d["targets"][0][0] == self.elem[elem_id])
        return self.call(dep, data)


def _vote_handlers(config: dict) -> list[list[dict[str, dict]]]:
    """The Like/Dislike handlers of the page's fixed card grid: [row][column]["like" | "dislike"]."""
    kinds = {c["id"]: (c["props"].get("elem_classes") or [""])[0] for c in config["components"] if c.get("props")}
    cells: list[dict[str, dict]] = []  # one per card, in the grid's order (a card's Like is made before its Dislike)
    clicks = [d for d in config["dependencies"] if d["targets"] and d["targets"][0][0] is not None]
    for dep in sorted(clicks, key=lambda d: d["targets"][0][0]):
        kind = kinds.get(dep["targets"][0][0])
        if kind == "like":
            cells.append({"like": dep})
        elif kind == "dislike":
            cells[-1]["dislike"] = dep
    rows = sum(kind == "suggestions" for kind in kinds.values())
    per_row = len(cells) // rows
    return [cells[i:i + per_row] for i in range(0, len(cells), per_row)]


class App:
    """`python app.py` on a free port over one data folder; it can be killed with SIGKILL and started again."""

    def __init__(self, data: Path, threads: int | None, refine_args: str, port: int | None = None,
                 env: dict[str, str] | None = None):
        """`port`: the same one at every start (a replica behind nginx), else a free one each time; `env`: more
        environment (a replica's store and secret)."""
        self.data, self.port = data, port
        self.log = data.parent / (f"app-{port}.log" if port else "app.log")
        self.env = {**os.environ, "STYLIST_ADMIN_PASSWORD": PASSWORD, **(env or {})}
        if threads:
            self.env |= {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        self.args = ["--data-dir", str(data), "--refine-args", refine_args]
        self.proc: subprocess.Popen | None = None

    def start(self, models: bool = True) -> float:
        """Start it and wait until it serves the page (and, with `models`, until its models have loaded); returns
        the seconds that took."""
        self.begin, port = time.monotonic(), self.port or free_port()
        self.since = self.log.stat().st_size if self.log.exists() else 0  # the log is appended to by every start
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen([sys.executable, str(REPO / "app.py"), *self.args, "--port", str(port)],
                                         cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=self.env)
        self.url = f"http://127.0.0.1:{port}/"
        wait_http(self.url, self.proc, self.log, models=models, since=self.since)
        self.config = httpx.get(self.url + "config", timeout=30).json()
        return time.monotonic() - self.begin

    def ready(self) -> float:
        """Wait until the started app's models have loaded; returns the seconds since it was started."""
        wait_http(self.url, self.proc, self.log, models=True, since=self.since)
        return time.monotonic() - self.begin

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class Stats:
    """What the visitors measured. `until`: when visitors stop; `down`: set while the app is killed and restarted."""

    until: float

    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    began: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # when each of those started
    failures: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    while_down: Counter = field(default_factory=Counter)  # requests refused while the app was down (expected)
    limited: int = 0  # votes refused by the app's votes-a-minute limit (its policy: no vote stored, none lost)
    acked: Counter = field(default_factory=Counter)  # visitor -> votes the page acknowledged
    unknown: Counter = field(default_factory=Counter)  # visitor -> votes cut off by the kill: stored or not
    down: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, kind: str, fn, *args):
        """Run one request, recording its latency or its failure; returns None when it failed (every request
        returns something else)."""
        begin = time.monotonic()
        try:
            result = fn(*args)
        except PageError as exc:
            with self.lock:
                if "votes a minute" in str(exc):
                    self.limited += 1
                elif self.down:
                    self.while_down[kind] += 1
                else:
                    self.failures[kind].append(str(exc)[:300])
            return None
        with self.lock:
            self.latency[kind].append(time.monotonic() - begin)
            self.began[kind].append(begin)
        return result


def visitor_client(n: int) -> httpx.Client:
    """Visitor `n`'s connection, from its own loopback address (127.0.1.n): the app limits votes, new visitor ids
    and queue places per address, as it would for visitors on separate machines."""
    return httpx.Client(timeout=120, transport=httpx.HTTPTransport(local_address=f"127.0.1.{n % 250 + 1}"))


def visitor(app: App, stats: Stats, seed: int) -> None:
    """One visitor's loop: recommend, vote on 1-2 cards, think 1-3 s; after a failure the page is reloaded (the
    app may have been restarted), keeping the browser's saved token as a browser would."""
    rng, page, reload, http = random.Random(seed), None, True, visitor_client(seed)
    for _ in range(1000):  # bounded: each round sleeps at least a second
        if time.monotonic() >= stats.until:
            return
        if reload:
            fresh = Page(app.url, app.config, http, saved=page.saved if page else None)
            if stats.timed("page load", fresh.open) is None:
                time.sleep(2)
                continue
            page, reload = fresh, False
        cards = stats.timed("recommend", page.recommend, rng.choice(OUTFITS), rng.choice(OCCASIONS),
                            rng.choice(SEASONS))
        reload = cards is None
        for card in rng.sample(range(cards or 0), min(cards or 0, rng.randint(1, 2))):
            if stats.timed("vote", page.vote, card, rng.choice(["like", "dislike"])) is not None:
                stats.acked[page.visitor] += 1
            elif stats.down:  # cut off by the kill: it may or may not have been stored
                stats.unknown[page.visitor] += 1
        time.sleep(rng.uniform(1.0, 3.0))


def seed_votes(app: App, stats: Stats, pages: int = 3) -> None:
    """A few visitors like the first card and dislike the others of an outfit: the pairs a refine needs (one
    outfit per visitor, within the votes-per-minute limit)."""
    for outfit in OUTFITS[:pages]:
        page = Page(app.url, app.config, httpx.Client(timeout=120))
        page.open()
        for card in range(page.recommend(outfit, "casual", "")):
            page.vote(card, "like" if card == 0 else "dislike")
            stats.acked[page.visitor] += 1


def check_store(data: Path, stats: Stats) -> dict:
    """Compare the acknowledged votes with the rows stored, per visitor, and check the database file."""
    with sqlite3.connect(f"file:{data / 'feedback.sqlite'}?mode=ro", uri=True) as db:
        rows = Counter(dict(db.execute("SELECT user, COUNT(*) FROM events GROUP BY user").fetchall()))
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    visitors = set(rows) | set(stats.acked)
    lost = sum(max(0, stats.acked[v] - rows[v]) for v in visitors)
    extra = sum(max(0, rows[v] - stats.acked[v] - stats.unknown[v]) for v in visitors)
    cut = sum(max(0, rows[v] - stats.acked[v]) for v in visitors) - extra
    return {"acknowledged": sum(stats.acked.values()), "rows": sum(rows.values()), "lost": lost,
            "unasked rows": extra, "cut off by the kill, stored": cut, "cut off by the kill": sum(stats.unknown.values()),
            "integrity": integrity}


def report(stats: Stats, seconds: float, store: dict, notes: list[str]) -> None:
    print(f"\nran {seconds:.0f} s; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"(1/5/15 min) on {os.cpu_count()} cores")
    print(f"{'request':<10} {'ok':>5} {'failed':>6} {'p50 s':>7} {'p95 s':>7} {'max s':>7}")
    for kind in sorted(set(stats.latency) | set(stats.failures)):
        times = np.array(stats.latency[kind] or [np.nan])
        print(f"{kind:<10} {len(stats.latency[kind]):>5} {len(stats.failures[kind]):>6} "
              f"{np.percentile(times, 50):>7.2f} {np.percentile(times, 95):>7.2f} {times.max():>7.2f}")
    began = np.array(stats.began["recommend"] or [0.0])
    latency = np.array(stats.latency["recommend"] or [np.nan])
    windows = ((began - began.min()) // 10).astype(int)
    print("recommend p95 by 10-s window of the run: " + ", ".join(
        f"{10 * w}-{10 * w + 10} s {np.percentile(latency[windows == w], 95):.2f}" for w in np.unique(windows)))
    for kind, texts in stats.failures.items():
        for text in list(dict.fromkeys(texts))[:3]:
            print(f"  {kind} failed: {text}")
    if stats.limited:
        print(f"votes refused by the votes-a-minute limit (expected, nothing stored): {stats.limited}")
    if stats.while_down:
        print(f"refused while the app was down (expected): {dict(stats.while_down)}")
    print("votes: " + ", ".join(f"{k} {v}" for k, v in store.items()))
    ok = store["lost"] == 0 and store["unasked rows"] == 0 and store.get("integrity", "ok") == "ok"
    print(f"votes acknowledged = rows stored: {'yes' if ok else 'NO'}")
    for note in notes:
        print(note)


def start_refine(app, stats: Stats) -> Page:
    """Votes enough for a refine, then the admin's Refine click on the page (the method: the worker's default)."""
    seed_votes(app, stats)
    admin = Page(app.url, app.config, httpx.Client(timeout=120))
    admin.open()
    admin.click("refine-start", [PASSWORD, None])
    return admin


def start_visitors(app, stats: Stats, visitors: int, seconds: float, gap: float) -> tuple[float, list[threading.Thread]]:
    """The visitors' threads, arriving `gap` seconds apart (not in one instant), running for `seconds`."""
    begin = time.monotonic()
    stats.until = begin + seconds
    threads = [threading.Thread(target=visitor, args=(app, stats, n), daemon=True) for n in range(visitors)]
    for t in threads:
        t.start()
        time.sleep(gap)
    return begin, threads


def load_test(args: argparse.Namespace) -> int:
    root = Path(tempfile.mkdtemp(prefix="stylist-load-"))
    app, stats, notes = App(root / "data", args.threads, args.refine_args), Stats(until=0.0), []
    notes.append(f"app ready in {app.start():.0f} s (data folder {root / 'data'}, log {app.log})")
    admin = None
    try:
        if args.refine:
            admin = start_refine(app, stats)
            notes.append(f"refine started from the page: {args.refine_args}")
        begin, threads = start_visitors(app, stats, args.visitors, args.seconds, gap=0.1)
        if args.kill:
            time.sleep(args.seconds / 2)
            with stats.lock:
                stats.down, stats.until = True, float("inf")  # the visitors keep reloading until it is back
            app.kill()
            notes.append(f"kill -9 of the app after {time.monotonic() - begin:.0f} s, "
                         f"restarted in {app.start():.0f} s; then {args.seconds / 2:.0f} s more")
            with stats.lock:
                stats.down, stats.until = False, time.monotonic() + args.seconds / 2
        for t in threads:
            t.join(timeout=max(0.0, stats.until - time.monotonic()) + 180)
        elapsed = time.monotonic() - begin
        if admin is not None:
            notes.append(refine_outcome(app.data, admin))
    finally:
        app.stop()
    report(stats, elapsed, check_store(app.data, stats), notes)
    return 0


def refine_outcome(data: Path, admin: Page) -> str:
    """How the refine ended: done, or stopped from the page if the run outlasted the test."""
    from stylist.app.refine_worker import RefineWorker

    job = RefineWorker(data)
    state = job.status()
    if state.running:
        admin.click("refine-stop", [PASSWORD])
        for _ in range(120):
            if not job.running():
                break
            time.sleep(0.5)
        return f"refine still {state.state} at step {state.step}/{state.total} when the test ended: " \
               f"stopped from the page -> {job.status().state}"
    return f"refine {state.state}: version {state.version}, {len(state.losses)} steps"


def refine_kill(args: argparse.Namespace) -> int:
    """kill -9 the refine worker while it trains and while it saves; the active version must stay complete,
    no numbered partial version may appear, and the next refine must start and finish."""
    from stylist.app.refine_worker import RefineWorker
    from stylist.core.adapters import TMP_PREFIX, AdapterRegistry, check_adapter
    from stylist.core.catalog import load_catalog
    from stylist.core.feedback import Context, FeedbackStore, Option
    from stylist.core.prompts import item_caption

    data = Path(tempfile.mkdtemp(prefix="stylist-refine-kill-")) / "data"
    data.mkdir()
    store, registry, job = FeedbackStore(data / "feedback.sqlite"), AdapterRegistry(data / "adapters"), RefineWorker(data)
    shoes = [Option(i.id, item_caption(i)) for i in load_catalog("demo").wearable() if i.slot == "shoes"][:6]
    for n, outfit in enumerate(OUTFITS):
        store.record(f"seed-{n}", Context(tuple(outfit), "shoes", None, None), shoes[n % 6], "like", options=shoes[:3])
        store.record(f"seed-{n}", Context(tuple(outfit), "shoes", None, None), shoes[(n + 1) % 6], "dislike",
                     options=shoes[:3])
    tiny = TINY_REFINE.replace("--steps 300", "").split()
    rows = []

    def run(steps: int, kill_at: str | None) -> None:
        before, active = registry.numbers(), registry.active_number()
        begin = time.monotonic()
        job.start(steps=steps, extra=tiny)
        status = job.status()
        while job.running() and time.monotonic() - begin < 600:
            status = job.status()
            if kill_at and status.state == kill_at and status.pid:
                os.killpg(status.pid, signal.SIGKILL)
                break
            time.sleep(0.02)
        while job.running() and time.monotonic() - begin < 660:
            time.sleep(0.1)
        after = job.status()
        new = [n for n in registry.numbers() if n not in before]
        tmp = sorted(p.name for p in registry.root.glob(TMP_PREFIX + "*"))
        complete = check_adapter(registry.active_path()) is None if registry.active_number() else True
        rows.append((f"kill -9 while {kill_at}" if kill_at else f"refine {steps} steps", status.state if kill_at else "-",
                     after.state, active, registry.active_number(), new, complete, tmp,
                     f"{time.monotonic() - begin:.0f}"))

    for _ in range(args.rounds):
        run(2, None)
        run(300, "running")
        run(4, "saving")
    run(2, None)
    print(f"\nload average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; data folder {data}")
    print("run | state at kill | state after | active before | active after | new versions | active complete | "
          ".tmp folders | s")
    for row in rows:
        print(" | ".join(str(x) for x in row))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--threads", type=int, default=None,
                        help="OMP/MKL threads of the app process (default: torch's own choice)")
    parser.add_argument("--refine", action="store_true", help="run while a refine trains")
    parser.add_argument("--refine-args", default=TINY_REFINE, help="the app's --refine-args")
    parser.add_argument("--kill", action="store_true", help="kill -9 the app halfway, restart it, keep going")
    parser.add_argument("--refine-kill", action="store_true", help="kill -9 the refine worker instead (no app)")
    parser.add_argument("--rounds", type=int, default=1, help="--refine-kill: kill rounds")
    args = parser.parse_args()
    return refine_kill(args) if args.refine_kill else load_test(args)


if __name__ == "__main__":
    sys.exit(main())
