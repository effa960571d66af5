"""Where things live: the repo's committed assets and checkpoints, the shared data, the user's data folder."""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stylist.core.errors import StylistError

REPO = Path(__file__).resolve().parents[2]
ASSETS = REPO / "assets"
CHECKPOINTS = REPO / "checkpoints"
RUNS = REPO / "runs"
DEMO_CATALOG = ASSETS / "demo"
EXAMPLES = ASSETS / "examples"

_ADVICE = {"read-only": "make it writable or pass another --data-dir",
           "full": "free some disk space or pass another --data-dir",
           "read-only or full": "make it writable, free some disk space, or pass another --data-dir"}


def shared_data() -> Path:
    """The read-only real data beside the repo (`../shared/data`), or `$STYLIST_SHARED_DIR`."""
    return Path(os.environ.get("STYLIST_SHARED_DIR", REPO.parent / "shared" / "data"))


def data_dir(override: str | os.PathLike | None = None, create: bool = True) -> Path:
    """The writable folder for feedback and adapter versions: `--data-dir`, `$STYLIST_DATA_DIR`, or `./data`.

    It is git-ignored and never inside `checkpoints/`, so user data and committed weights never mix. Readers
    pass `create=False`, so a mistyped folder is reported rather than created empty.
    """
    path = Path(override or os.environ.get("STYLIST_DATA_DIR") or REPO / "data").expanduser().resolve()
    if path == CHECKPOINTS or CHECKPOINTS in path.parents:
        raise StylistError(f"data folder {path} must not be inside {CHECKPOINTS}")
    if create:
        with writing(path):
            path.mkdir(parents=True, exist_ok=True)
    return path


def unwritable(exc: BaseException) -> str | None:
    """'read-only', 'full' or 'read-only or full' when `exc` is the disk refusing a write; None otherwise."""
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        if "readonly" in text:
            return "read-only"
        if "full" in text:
            return "full"
        if "disk i/o error" in text or "unable to open database file" in text:
            return "read-only or full"
        return None
    if isinstance(exc, PermissionError) or (isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES)):
        return "read-only"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "full"
    return None


@contextmanager
def writing(folder: Path) -> Iterator[None]:
    """Turn a refused write into one line naming the folder (what the user can fix), not a bare OSError.

    Other errors pass through unchanged: they are bugs or input problems, reported elsewhere.
    """
    try:
        yield
    except (OSError, sqlite3.OperationalError) as exc:
        reason = unwritable(exc)
        if reason is None:
            raise
        detail = getattr(exc, "strerror", None) or str(exc)
        raise StylistError(f"cannot save in {folder}: the data folder is {reason} ({detail}); "
                           f"{_ADVICE[reason]}") from exc
