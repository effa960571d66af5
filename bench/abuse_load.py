"""Load with an abusive client: the load test's visitors alone, then beside one client that tries to starve them.

    python bench/abuse_load.py [--visitors 20] [--seconds 60]

Two arms back to back, each on a freshly started `python app.py` (fresh data folder): N visitors x D seconds as in
`bench/load_test.py` (page load, recommend, vote, think), first alone, then beside one abusive client on its own
address (and in its own process). The abuser uploads a 7999x7999 RGBA PNG and a 7999x7999 16-bit PNG (a few hundred kB each, under the
64-megapixel limit) and, every second, sends 80 parallel queue joins of `caption` on them (one photo each, so
each is within the per-request pixel budget), reading their results; it also asks for a new visitor id 5 times a
second (the page load's handler, as `/gradio_api/call/welcome` once minted them).

Printed per arm: the visitors' recommend and page-load p50/p95, their 503 answers ("queue is full") and other
failures, whether their acknowledged votes are the rows stored; the CPU time the app used (and its children: the photo decoder); the abuser's joins accepted and refused, captions
done, ids minted and refused; the app's resident memory at rest (models loaded, before the visitors), its peak
during the run (sampled every 0.2 s) and 20 s after the run, each with its child processes (the
photo decoder); and the targets: visitors' recommend p95 with the
abuser within 2x of without, no 503 to a visitor.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import resource
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from load_test import TINY_REFINE, App, Stats, check_store, visitor  # a sibling script
from PIL import Image

ABUSER_ADDRESS = "127.0.2.1"  # its own address, apart from the visitors' 127.0.1.n
JOINS = 80  # parallel caption joins a round, a round a second (--joins)


def hostile_photos(folder: Path) -> list[Path]:
    """The two worst photos under the pixel limit: small files that decode to 64 megapixels (RGBA: 256 MB)."""
    side = 7999
    photos = []
    for mode, colour in (("RGBA", (200, 30, 30, 128)), ("I;16", 1000)):
        path = folder / f"bomb-{mode.replace(';', '')}.png"
        Image.new(mode, (side, side), colour).save(path, compress_level=9)
        photos.append(path)
    return photos


class Abuser:
    """One client on one address that floods captioning with the worst photos and mints visitor ids."""

    def __init__(self, url: str, config: dict, photos: list[Path], until: float, joins: int):
        self.api, self.photos, self.until, self.joins = url + "gradio_api/", photos, until, joins
        self.http = httpx.Client(timeout=120, limits=httpx.Limits(max_connections=joins + 8),
                                 transport=httpx.HTTPTransport(local_address=ABUSER_ADDRESS))
        deps = {d["api_name"]: d for d in config["dependencies"]}
        self.caption, self.welcome = deps["caption"]["id"], deps["welcome"]["id"]
        self.session = secrets.token_hex(6)
        self.counts: Counter = Counter()
        self.lock = threading.Lock()

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1

    def run(self) -> dict[str, int]:
        threads = [threading.Thread(target=fn, daemon=True) for fn in (self.flood, self.drain, self.mint)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=max(0.0, self.until - time.monotonic()) + 60)
        return dict(self.counts)


    def flood(self) -> None:
        with ThreadPoolExecutor(self.joins) as pool:
            while time.monotonic() < self.until:
                begin = time.monotonic()
                try:
                    files = self.upload()
                except (httpx.HTTPError, ValueError) as exc:
                    self.count(f"upload failed ({type(exc).__name__})")
                    time.sleep(1)
                    continue
                list(pool.map(self.join, [files[i % len(files)] for i in range(self.joins)]))
                time.sleep(max(0.0, 1.0 - (time.monotonic() - begin)))

    def upload(self) -> list[dict]:
        answer = self.http.post(self.api + "upload", files=[("files", (p.name, p.read_bytes(), "image/png"))
                                                            for p in self.photos])
        answer.raise_for_status()
        return [{"path": path, "orig_name": p.name, "meta": {"_type": "gradio.FileData"}}
                for path, p in zip(answer.json(), self.photos)]

    def join(self, photo: dict) -> None:
        try:
            answer = self.http.post(self.api + "queue/join", json={
                "data": [[photo]], "fn_index": self.caption, "session_hash": self.session, "trigger_id": None,
                "event_data": None})
            self.count("caption joins accepted" if answer.status_code == 200
                       else f"caption joins refused ({answer.status_code})")
        except httpx.HTTPError as exc:
            self.count(f"caption joins failed ({type(exc).__name__})")

    def drain(self) -> None:
        """Read the session's results, as a page would."""
        while time.monotonic() < self.until + 30:
            try:
                with self.http.stream("GET", self.api + "queue/data", params={"session_hash": self.session}) as s:
                    for line in s.iter_lines():
                        message = json.loads(line[5:]) if line.startswith("data:") else {}
                        if message.get("msg") == "process_completed":
                            self.count("captions done" if message.get("success") else "captions refused")
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)

    def mint(self) -> None:
        while time.monotonic() < self.until:
            try:
                answer = self.http.post(self.api + "run/predict", json={
                    "data": [None], "fn_index": self.welcome, "session_hash": secrets.token_hex(6),
                    "trigger_id": None, "event_data": None})
                self.count("ids minted" if answer.status_code == 200 and "error" not in answer.json()
                           else "ids refused")
            except (httpx.HTTPError, ValueError):
                self.count("ids refused")
            time.sleep(0.2)


def abuse(url: str, config: dict, photos: list[Path], until: float, joins: int) -> dict[str, int]:
    """The abuser, in its own process: its 80 threads would otherwise share the visitors' interpreter (and GIL)
    and slow the visitors' own clients, not the app."""
    counts = Abuser(url, config, photos, until, joins).run()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return counts | {"CPU s of its own process (on this machine too)": round(usage.ru_utime + usage.ru_stime)}


def tree(pid: int) -> list[int]:
    """A process and all its descendants (the app's photo decoder is a child process)."""
    found = [pid]
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as children:
                found += [p for child in children.read().split() for p in tree(int(child))]
    return found


def rss_mb(pid: int) -> float:
    """Resident memory of the process tree."""
    total = 0.0
    for p in tree(pid):
        with contextlib.suppress(OSError, StopIteration), open(f"/proc/{p}/status") as status:
            total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
    return total


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time (user + system) the process and its descendants have used so far."""
    times = []
    for p in tree(pid):
        with contextlib.suppress(OSError), open(f"/proc/{p}/stat") as stat:
            times.append(sum(int(x) for x in stat.read().rsplit(")", 1)[1].split()[11:13]) / os.sysconf("SC_CLK_TCK"))
    return times[0] if times else 0.0, sum(times[1:])


def arm(args: argparse.Namespace, abusive: bool, photos: list[Path]) -> dict:
    """One run on a fresh app; returns its figures."""
    root = Path(tempfile.mkdtemp(prefix="stylist-abuse-"))
    app, stats = App(root / "data", None, TINY_REFINE), Stats(until=0.0)
    app.start()
    time.sleep(5)  # the warm-up recommendation's memory settles
    rest, peak, done = rss_mb(app.proc.pid), [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(app.proc.pid))
            time.sleep(0.2)

    load, cpu = os.getloadavg()[0], cpu_seconds(app.proc.pid)
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) if abusive else None
    try:
        begin = time.monotonic()
        stats.until = begin + args.seconds
        threading.Thread(target=sample, daemon=True).start()
        abuser = pool.submit(abuse, app.url, app.config, photos, stats.until, args.joins) if pool else None
        workers = [threading.Thread(target=visitor, args=(app, stats, n), daemon=True) for n in range(args.visitors)]
        for w in workers:
            w.start()
            time.sleep(0.1)  # visitors arrive over two seconds
        for w in workers:
            w.join(timeout=max(0.0, stats.until - time.monotonic()) + 180)
        counts = abuser.result(timeout=120) if abuser else {}
        cpu = tuple(after - before for after, before in zip(cpu_seconds(app.proc.pid), cpu))
        done.set()
        time.sleep(20)
        after = rss_mb(app.proc.pid)
    finally:
        done.set()
        app.stop()
        if pool:
            pool.shutdown(cancel_futures=True)
    recommend = np.array(stats.latency["recommend"] or [np.nan])
    page = np.array(stats.latency["page load"] or [np.nan])
    failures = [text for texts in stats.failures.values() for text in texts]
    store = check_store(app.data, stats)
    return {"arm": "with the abuser" if abusive else "visitors alone", "recommends": len(stats.latency["recommend"]),
            "p50": np.percentile(recommend, 50), "p95": np.percentile(recommend, 95), "max": recommend.max(),
            "page p95": np.percentile(page, 95), "503": sum("503" in f or "queue is full" in f.lower() for f in failures),
            "failed": len(failures), "first failures": list(dict.fromkeys(failures))[:3],
            "votes": f"{store['acknowledged']} = {store['rows']}, integrity {store['integrity']}"
            + ("" if store["lost"] == 0 and store["unasked rows"] == 0 else f" (lost {store['lost']}, "
               f"unasked {store['unasked rows']})"),
            "cpu": cpu, "rest": rest, "peak": peak[0], "after": after, "load": (load, os.getloadavg()[0]),
            "abuser": counts}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--joins", type=int, default=JOINS, help="the abuser's parallel caption joins a second")
    args = parser.parse_args()
    photos = hostile_photos(Path(tempfile.mkdtemp(prefix="stylist-bombs-")))
    print("photos: " + ", ".join(f"{p.name} {p.stat().st_size / 1e3:.0f} kB" for p in photos))
    rows = [arm(args, False, photos), arm(args, True, photos)]
    print(f"\n{args.visitors} visitors x {args.seconds:.0f} s, {os.cpu_count()} cores; load average at start / end")
    print("arm | recommends | p50 s | p95 s | max s | page load p95 s | 503 | failed | votes acknowledged = stored | "
          "app CPU s (its children) | RSS rest / peak / 20 s after, MB | load")
    for r in rows:
        print(f"{r['arm']} | {r['recommends']} | {r['p50']:.2f} | {r['p95']:.2f} | {r['max']:.2f} | {r['page p95']:.2f} "
              f"| {r['503']} | {r['failed']} | {r['votes']} | {r['cpu'][0]:.0f} ({r['cpu'][1]:.0f}) | {r['rest']:.0f} / {r['peak']:.0f} / {r['after']:.0f} | "
              f"{r['load'][0]:.1f} / {r['load'][1]:.1f}")
        for text in r["first failures"]:
            print(f"  failed: {text}")
    print("abuser: " + ", ".join(f"{k} {v}" for k, v in sorted(rows[1]["abuser"].items())))
    alone, abused = rows
    ratio = abused["p95"] / alone["p95"]
    print(f"recommend p95 with the abuser / alone: {ratio:.2f} (target <= 2: {'met' if ratio <= 2 else 'NOT met'}); "
          f"503 to visitors with the abuser: {abused['503']} (target 0: {'met' if abused['503'] == 0 else 'NOT met'}); "
          f"RSS 20 s after the abuse - at rest: {abused['after'] - abused['rest']:.0f} MB (target <= 200: "
          f"{'met' if abused['after'] - abused['rest'] <= 200 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
