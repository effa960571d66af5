"""Where things live: the repo's committed assets and checkpoints, the shared data, the user's data folder."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ASSETS = REPO / "assets"
CHECKPOINTS = REPO / "checkpoints"
DEMO_CATALOG = ASSETS / "demo"
EXAMPLES = ASSETS / "examples"


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
        from stylist.core.errors import StylistError

        raise StylistError(f"data folder {path} must not be inside {CHECKPOINTS}")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path
