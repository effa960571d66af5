"""Load test of several app replicas behind nginx on one PostgreSQL store (the README's recipe, on this machine).

    python bench/replicas_load.py [--replicas 2] [--visitors 40] [--seconds 60]   # with a refine and a kill -9
    python bench/replicas_load.py --replicas 1 --plain    # throughput baseline: no refine, no kill
    python bench/replicas_load.py --replicas 2 --plain

A throw-away PostgreSQL cluster (bench/pg_server.py), `python app.py` replicas on one data folder with
`STYLIST_DB` and one `STYLIST_SECRET`, and Debian's nginx in front (`hash $remote_addr consistent`: sticky per
visitor address; `ip_hash` would send every 127.0.1.n visitor to one replica, since it hashes an IPv4 /24;
`proxy_buffering off`). The visitors are bench/load_test.py's (page load, recommend, 1-2 votes, think 1-3 s, each
from its own loopback address), all through nginx. Unless `--plain`: a refine is started from the page before
the burst, and halfway through the last replica is killed with SIGKILL and started again on its port. After the
burst, once the refine has activated its version, one visitor per replica (straight to its port) recommends and
votes: the vote's adapter version shows what that replica served on its first request after activation.

Printed: bench/load_test.py's table (p50/p95 per request kind), recommendations a second, the votes the page
acknowledged against the rows in the database, the refine's outcome and each replica's version.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import httpx
import psycopg
from load_test import TINY_REFINE, App, Page, Stats, report, start_refine, start_visitors
from pg_server import BIN, cluster, new_database

from stylist.app.server import free_port

NGINX = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log;
{user}
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    upstream stylist {{
        hash $remote_addr consistent;
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 45m;
        location / {{
            proxy_pass http://stylist;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_buffering off;
            proxy_read_timeout 600s;
        }}
    }}
}}
"""


def start_nginx(root: Path, ports: list[int]) -> tuple[str, subprocess.Popen]:
    front = free_port()
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in ports)
    conf = root / "nginx.conf"
    conf.write_text(NGINX.format(root=root, port=front, servers=servers,
                                 user="user root;" if os.geteuid() == 0 else ""))
    proc = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-c", str(conf), "-p", str(root),
                             "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{front}/"
    for _ in range(100):
        try:
            httpx.get(url, timeout=5).raise_for_status()
            return url, proc
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"nginx did not answer: {(root / 'nginx-error.log').read_text()[-2000:]}")


def stored(url: str) -> Counter:
    with psycopg.connect(url) as conn:
        return Counter(dict(conn.execute('SELECT "user", COUNT(*) FROM events GROUP BY "user"').fetchall()))


def check_store(url: str, stats: Stats) -> dict:
    """The votes acknowledged by the page against the rows in the database, per visitor (load_test.py's rule)."""
    rows = stored(url)
    visitors = set(rows) | set(stats.acked)
    lost = sum(max(0, stats.acked[v] - rows[v]) for v in visitors)
    extra = sum(max(0, rows[v] - stats.acked[v] - stats.unknown[v]) for v in visitors)
    cut = sum(max(0, rows[v] - stats.acked[v]) for v in visitors) - extra
    return {"acknowledged": sum(stats.acked.values()), "rows": sum(rows.values()), "lost": lost,
            "unasked rows": extra, "cut off by the kill, stored": cut, "cut off by the kill": sum(stats.unknown.values())}


def wait_refine(data: Path, seconds: float) -> str:
    from stylist.app.refine_worker import RefineWorker
    from stylist.core.feedback import open_store

    job, deadline = RefineWorker(data, store=open_store()), time.monotonic() + seconds
    while job.running() and time.monotonic() < deadline:
        time.sleep(1)
    state = job.status()
    return f"refine {state.state}: version {state.version}, {len(state.losses)} steps" + (
        f" ({state.error})" if state.error else "")


def versions_served(replicas: list[App], url: str, stats: Stats) -> list[str]:
    """Each replica's first recommendation after the activation, voted on: the version the vote records (the vote
    counts as acknowledged, as every other)."""
    with psycopg.connect(url) as conn:
        active = conn.execute("SELECT value FROM meta WHERE key = 'adapter_active'").fetchone()
    lines = [f"active version in the database: {active[0] if active else 0}"]
    for n, replica in enumerate(replicas):
        page = Page(replica.url, replica.config, httpx.Client(timeout=120))
        page.open()
        page.recommend(["navy cotton t-shirt", "blue denim jeans"], "casual", "")
        page.vote(0, "like")
        stats.acked[page.visitor] += 1
        with psycopg.connect(url) as conn:
            version = conn.execute('SELECT adapter_version FROM events WHERE "user" = %s ORDER BY id DESC LIMIT 1',
                                   (page.visitor,)).fetchone()[0]
        lines.append(f"replica {n} (port {replica.port}): its next recommendation used v{version}")
    return lines


def run(args: argparse.Namespace, db: str) -> int:
    root = Path(tempfile.mkdtemp(prefix="stylist-replicas-"))
    data = root / "data"
    env = {"STYLIST_DB": db, "STYLIST_SECRET": secrets.token_hex(32)}
    os.environ.update(env)  # this process reads the same store (refine state, versions)
    replicas = [App(data, args.threads, args.refine_args, port=free_port(), env=env) for _ in range(args.replicas)]
    notes = []
    for n, replica in enumerate(replicas):  # one after another: the first builds the catalog index
        notes.append(f"replica {n} ready in {replica.start():.0f} s (port {replica.port}, log {replica.log})")
    front_url, nginx = start_nginx(root, [r.port for r in replicas])
    front = SimpleNamespace(url=front_url, config=httpx.get(front_url + "config", timeout=30).json())
    stats = Stats(until=0.0)
    try:
        if not args.plain:
            start_refine(front, stats)
            notes.append(f"refine started from the page through nginx: {args.refine_args}")
        begin, threads = start_visitors(front, stats, args.visitors, args.seconds, gap=0.05)
        if not args.plain:
            time.sleep(args.seconds / 2)
            with stats.lock:
                stats.down = True
            replicas[-1].kill()
            killed = time.monotonic() - begin
            restart = replicas[-1].start()
            with stats.lock:
                stats.down = False
            notes.append(f"kill -9 of replica {len(replicas) - 1} after {killed:.0f} s, started again in {restart:.0f} s "
                         "(requests it held failed and reloaded through nginx: counted as while down)")
        for t in threads:
            t.join(timeout=max(0.0, stats.until - time.monotonic()) + 180)
        elapsed = time.monotonic() - begin
        recommends = len(stats.latency["recommend"])
        notes.append(f"{args.replicas} replica(s), {args.visitors} visitors: {recommends} recommendations in "
                     f"{elapsed:.0f} s = {recommends / elapsed:.2f} a second")
        if not args.plain:
            notes.append(wait_refine(data, 900))
            notes += versions_served(replicas, db, stats)
    finally:
        for replica in replicas:
            replica.stop()
        nginx.terminate()
        nginx.wait(10)
    report(stats, elapsed, check_store(db, stats), notes)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--visitors", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--threads", type=int, default=1, help="OMP/MKL threads of each replica")
    parser.add_argument("--plain", action="store_true", help="no refine and no kill: throughput only")
    parser.add_argument("--refine-args", default=TINY_REFINE, help="the replicas' --refine-args")
    args = parser.parse_args()
    if not BIN or not shutil.which("nginx"):
        raise SystemExit("needs Debian's postgresql and nginx: apt-get install postgresql nginx")
    with cluster() as server:
        return run(args, new_database(server, "stylist"))


if __name__ == "__main__":
    sys.exit(main())
