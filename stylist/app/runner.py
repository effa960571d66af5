"""The background refine worker the app starts, watches and stops; it outlives the page and the app.

`RefineJob.start()` launches `python -m stylist refine --status-file ... --stop-file ...` in its own
session with its output going to a log file, so nothing depends on the page, on the app process or on
a pipe someone must drain. The worker writes its live state atomically to `<data>/refine/status.json`;
`status()` reads it (and notices a worker that died without saying so); `stop()` drops a stop file
that the worker checks between training steps. One run at a time: the worker holds an OS file lock
on `<data>/refine/lock` for its whole life, and the OS releases it when the process ends, however it ends.

    python -c "from stylist.app.runner import RefineJob; print(RefineJob('data').status())"
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stylist.core.errors import StylistError
from stylist.core.paths import REPO, data_dir

RUNNING = ("starting", "running", "saving")  # states of a live worker; the others are final
LOCK_BUSY = "a refinement is already running (one at a time)"


def job_dir(data: str | Path | None) -> Path:
    path = data_dir(data) / "refine"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def refine_lock(data: str | Path | None) -> Iterator[None]:
    """Hold the one-refine-at-a-time lock, or raise at once when another process holds it."""
    with open(job_dir(data) / "lock", "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StylistError(LOCK_BUSY) from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def is_locked(data: str | Path | None) -> bool:
    try:
        with refine_lock(data):
            return False
    except StylistError:
        return True


def write_status(path: str | Path, status: dict) -> None:
    """Replace the status file in one step, so a reader never sees half of it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**status, "updated": time.time()}))
    os.replace(tmp, path)


def read_status(path: str | Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


class RefineJob:
    """Start, watch and stop the refine worker of one data folder; any app process may do so at any time."""

    def __init__(self, data: str | Path | None = None, llm: str | None = None, sft_adapter: str | None = None):
        self.data = data_dir(data)
        self.dir = job_dir(self.data)
        self.status_file, self.stop_file, self.log_file = (self.dir / n for n in ("status.json", "stop", "log.txt"))
        self.llm, self.sft_adapter = llm, sft_adapter

    def start(self, user: str | None = None, steps: int | None = None, extra: list[str] | None = None) -> dict:
        """Launch a refine on one user's pairs (or everyone's); refuses while one runs."""
        if self.running():
            raise StylistError(LOCK_BUSY)
        self.stop_file.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "stylist", "refine", "--data-dir", str(self.data), "--json",
               "--status-file", str(self.status_file), "--stop-file", str(self.stop_file)]
        cmd += ["--user", user] if user else ["--all"]
        cmd += ["--steps", str(steps)] if steps else []
        cmd += ["--llm", self.llm] if self.llm else []
        cmd += ["--sft-adapter", self.sft_adapter] if self.sft_adapter else []
        cmd += extra or []
        write_status(self.status_file, {"state": "starting", "user": user, "started": time.time()})
        with open(self.log_file, "w") as log:
            process = subprocess.Popen(cmd, cwd=REPO, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        write_status(self.status_file, {**read_status(self.status_file), "pid": process.pid})
        return self.status()

    def running(self) -> bool:
        """True while a worker holds the lock, or one was just started and has not taken it yet."""
        status = read_status(self.status_file)
        if is_locked(self.data):
            return True
        if status.get("state") != "starting":
            return False
        pid = status.get("pid")  # none yet in the instant between writing "starting" and the launch
        return _alive(pid) if pid else time.time() - status.get("started", 0) < 10

    def status(self) -> dict:
        """The worker's last written state: state, step, total, losses, metrics, version, error, log tail."""
        status = read_status(self.status_file)
        if status.get("state") in RUNNING and not self.running():
            status = {**status, "state": "failed", "error": "the refine worker ended unexpectedly"}
            write_status(self.status_file, status)
        if status.get("state") == "failed":
            status["log"] = self.log_tail()
        return status or {"state": "idle"}

    def stop(self, timeout: float | None = None) -> dict:
        """Ask the worker to stop after its current step; after `timeout` seconds, terminate it."""
        if not self.running():
            return self.status()
        self.stop_file.touch()
        deadline = time.time() + (timeout or 0)
        while timeout is not None and self.running() and time.time() < deadline:
            time.sleep(0.2)
        pid = read_status(self.status_file).get("pid")
        if timeout is not None and self.running() and _alive(pid):
            os.killpg(pid, signal.SIGTERM)
        return self.status()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a finished child of this process stays a zombie until reaped: reap it so it counts as gone
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True
