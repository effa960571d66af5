"""Run `python app.py` as a child process on a free local port and wait until it answers.

The browser tests, the security tests and the load test (`bench/load_test.py`) all start the app this way, so
they see what a visitor sees: the real launch, its options and its web server.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from stylist.core.paths import REPO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180, models: bool = True,
              since: int = 0) -> None:
    """Poll until the app answers 200 and, with `models`, until its log says its models have loaded (the page is
    served while they load), in what the log holds past byte `since` (a log appended to by several starts);
    fail early with its log if the process dies."""
    from stylist.app.service import READY

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200 and (not models or READY.encode() in log.read_bytes()[since:]):
                    return
        time.sleep(0.2)
    raise TimeoutError(f"app did not answer {url} within {timeout}s:\n{log.read_text()[-4000:]}")


@contextlib.contextmanager
def running_app(args: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run `python app.py ARGS --port <free>` and yield its URL; stop it (and only it) afterwards."""
    port = free_port()
    cmd = [sys.executable, str(REPO / "app.py"), *args, "--port", str(port)]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_http(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
