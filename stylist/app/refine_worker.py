"""The background refine worker the app starts, watches and stops; it outlives the page and the app.

`RefineWorker.start()` launches `python -m stylist refine --status-file ... --stop-file ... --lock-fd ...` in
its own session with its output going to a log file, so nothing depends on the page, on the app process or
on a pipe someone must drain. The worker keeps its `RefineStatus` in `<data>/refine/status.json` (see
stylist/core/refine_protocol.py); `status()` reads it (and notices a worker that died without saying so);
`stop()` drops a stop file that the worker checks between training steps. One run at a time: `start()`
takes the refine lock before it touches anything shared and hands it down to the worker, which holds it
for its whole life, so of simultaneous starts exactly one launches a worker.

    python -c "from stylist.app.refine_worker import RefineWorker; print(RefineWorker('data').status())"
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from stylist.core.errors import StylistError
from stylist.core.feedback import FeedbackStore
from stylist.core.paths import REPO, data_dir
from stylist.core.refine_protocol import LOCK_BUSY, SERVER_LOCK, RefineStatus, is_locked, job_dir, refine_lock
from stylist.models.spec import LMSpec


class RefineWorker:
    """Start, watch and stop the refine worker of one data folder; any app process may do so at any time."""

    command = (sys.executable, "-m", "stylist", "refine")  # the worker (a test may swap in a fake one)

    def __init__(self, data: str | Path | None = None, lm: LMSpec | None = None, store: FeedbackStore | None = None):
        """`lm`: the outfit LM the app serves, with version 0's adapter; the worker trains that LLM (default:
        the embedded one), on the same device, dtype and quantisation. `store`: the app's feedback store; a shared
        (PostgreSQL) one is handed to the worker as `$STYLIST_DB`, and its lock is checked with the data folder's."""
        self.data = data_dir(data)
        self.dir = job_dir(self.data)
        self.status_file, self.stop_file, self.log_file = (self.dir / n for n in ("status.json", "stop", "log.txt"))
        self.lm = lm or LMSpec()
        self.shared = store if store is not None and store.shared else None
        self.env = {**os.environ, "STYLIST_DB": self.shared.url} if self.shared is not None else None

    def start(self, user: str | None = None, steps: int | None = None, extra: list[str] | None = None) -> RefineStatus:
        """Launch a refine on one user's pairs (or everyone's). While another start or a worker holds the
        lock this raises StylistError at once and changes nothing: not the status, the stop file or the log."""
        cmd = [*self.command, "--data-dir", str(self.data), "--json",
               "--status-file", str(self.status_file), "--stop-file", str(self.stop_file)]
        cmd += ["--user", user] if user else ["--all"]
        cmd += ["--steps", str(steps)] if steps else []
        cmd += self.lm.cli_args()
        cmd += extra or []
        with refine_lock(self.data) as lock_fd:
            if self.shared is not None and self.shared.locked(SERVER_LOCK):
                raise StylistError(f"{LOCK_BUSY}, started by another replica")
            self.stop_file.unlink(missing_ok=True)
            RefineStatus("starting", user, time.time()).write(self.status_file)
            if self.log_file.exists():  # the previous run's log stays readable beside this one's
                os.replace(self.log_file, self.log_file.with_suffix(".previous.txt"))
            with open(self.log_file, "w") as log:
                # the worker inherits the locked descriptor: the lock is held throughout, by this process
                # until the worker runs and by the worker afterwards, and released when the worker ends
                process = subprocess.Popen([*cmd, "--lock-fd", str(lock_fd)], cwd=REPO, stdin=subprocess.DEVNULL,
                                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                           pass_fds=(lock_fd,), env=self.env)
        threading.Thread(target=process.wait, name=f"reap-refine-{process.pid}", daemon=True).start()  # no zombie
        return self.status()

    def running(self) -> bool:
        """True while a start is being made or a worker is alive: whoever holds the lock (here, or on the shared
        store for a worker another replica started)."""
        return is_locked(self.data) or (self.shared is not None and self.shared.locked(SERVER_LOCK))

    def status(self) -> RefineStatus:
        """The worker's last written state; a live state with no one holding the lock reads as failed."""
        status = RefineStatus.read(self.status_file)
        if status.running and not (self.shared is not None and self.shared.locked(SERVER_LOCK)):
            try:
                with refine_lock(self.data, wait=0.0):  # free: no worker is alive, and none can start meanwhile
                    status = RefineStatus.read(self.status_file)  # it may have written its last state meanwhile
                    if status.running:
                        status.state, status.error = "failed", "the refine worker ended unexpectedly"
                        status.write(self.status_file)
            except StylistError:
                pass  # taken: the run is alive
        if status.state == "failed":
            status.log = self.log_tail()
        return status

    def stop(self, timeout: float | None = None) -> RefineStatus:
        """Ask the worker to stop after its current step; after `timeout` seconds, terminate it."""
        if not self.running():
            return self.status()
        self.stop_file.touch()
        deadline = time.time() + (timeout or 0)
        while timeout is not None and self.running() and time.time() < deadline:
            time.sleep(0.2)
        pid = RefineStatus.read(self.status_file).pid
        if timeout is not None and pid and self.running():
            os.killpg(pid, signal.SIGTERM)  # the worker leads its own process group
        return self.status()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""
