"""The refine protocol between the background DPO worker (the writer) and the app (the reader).

The worker keeps one `RefineStatus` in `<data>/refine/status.json`, replaced whole on every change, so a
reader never sees half of it; the page polls it. One run at a time: an OS file lock on `<data>/refine/lock`
is held from the instant a start is decided until the worker ends, and the OS releases it when the
process ends, however it ends. It lives in core because both the app and the training code use it; it
imports no torch or transformers, so reading it costs the page nothing.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from stylist.core.errors import StylistError
from stylist.core.paths import data_dir

RUNNING = ("starting", "running", "saving")  # states of a live worker
STATES = (*RUNNING, "done", "stopped", "failed", "idle")  # "idle": no run yet
LOCK_BUSY = "a refinement is already running (one at a time)"
SERVER_LOCK = 0x5717_0002  # the refine's advisory lock key on a shared (PostgreSQL) store: one run across replicas


@dataclass
class RefineResult:
    """What a finished or stopped run did: the CLI's JSON, and the status's `result` once the run ends."""

    version: int | None = None  # None when stopped
    parent: int = 0
    train_pairs: int = 0
    heldout_pairs: int = 0
    steps: int = 0
    seconds: float = 0.0
    train_seconds: float = 0.0
    anchor_pairs: int = 0
    losses: list[float] = field(default_factory=list)
    before: dict = field(default_factory=dict)  # metric -> value (None: not measured)
    after: dict = field(default_factory=dict)
    stopped: bool = False

    @classmethod
    def from_dict(cls, raw: dict) -> RefineResult:
        return cls(**_known(cls, raw))


@dataclass
class RefineStatus:
    """The worker's live state: where training is, its losses so far and, at the end, the result or the error."""

    state: str = "idle"  # one of STATES
    user: str | None = None  # None: everyone's pairs
    started: float | None = None
    updated: float | None = None  # time of the last write
    pid: int | None = None  # the worker, also its process group
    step: int = 0
    total: int | None = None  # training steps, known once training begins
    losses: list[float] = field(default_factory=list)  # one per step
    result: RefineResult | None = None  # set when the state is done or stopped
    error: str | None = None  # set when the state is failed
    log: str = ""  # the worker's last log lines, added by the reader to a failed state

    @property
    def running(self) -> bool:
        return self.state in RUNNING

    @property
    def version(self) -> int | None:
        """The adapter version the run made (None until done, or when stopped)."""
        return self.result.version if self.result else None

    @property
    def fraction(self) -> float:
        return 1.0 if self.state == "done" else (min(self.step / self.total, 1.0) if self.total else 0.0)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RefineStatus:
        """Missing keys take their defaults and unknown ones are ignored, so an older file still reads;
        what cannot be read at all reads as a failed state that says so, never as a live run."""
        try:
            raw = json.loads(text) if text.strip() else {}
            if not isinstance(raw, dict):
                raise TypeError(f"a JSON {type(raw).__name__}, not an object")
            result = raw.get("result")
            result = RefineResult.from_dict(result) if isinstance(result, dict) else None
            status = cls(**{**_known(cls, raw), "result": result})
        except (ValueError, TypeError) as exc:
            return cls(state="failed", error=f"unreadable refine status ({exc})")
        if status.state not in STATES:
            return cls(state="failed", error=f"unknown refine state {status.state!r}")
        return status

    def write(self, path: str | Path) -> None:
        """Stamp `updated` and replace the file in one step (write, then rename), so a reader never sees half."""
        self.updated = time.time()
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(self.to_json())
        os.replace(tmp, path)

    @classmethod
    def read(cls, path: str | Path) -> RefineStatus:
        """The last written state; idle when there is none."""
        try:
            return cls.from_json(Path(path).read_text())
        except FileNotFoundError:
            return cls()


def _known(cls: type, raw: dict) -> dict:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in raw.items() if k in names}


def job_dir(data: str | Path | None) -> Path:
    """`<data>/refine`: the status, stop, lock and log files of the data folder's refine runs."""
    path = data_dir(data) / "refine"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def refine_lock(data: str | Path | None, fd: int | None = None, wait: float = 0.5) -> Iterator[int]:
    """Hold the one-refine-at-a-time lock and yield its file descriptor, or raise StylistError(LOCK_BUSY).

    `fd`: a descriptor of the lock file, already locked, handed down by the process that took the lock (the
    app, starting a worker); it is adopted, and closed on exit like one opened here. `wait`: how long to
    retry, so that a reader checking the lock for an instant (`is_locked`) never makes a start fail. The
    lock is released by closing the descriptor, never by unlocking it: a worker that inherited it keeps it.
    """
    if fd is None:
        fd = os.open(job_dir(data) / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _lock(fd, wait)
        yield fd
    finally:
        os.close(fd)


def _lock(fd: int, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise StylistError(LOCK_BUSY) from None
            time.sleep(0.01)


def is_locked(data: str | Path | None) -> bool:
    """Whether a refine holds the lock now (a start being made, or a live worker)."""
    try:
        with refine_lock(data, wait=0.0):
            return False
    except StylistError:
        return True
