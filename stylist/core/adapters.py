"""Adapter versions: version 0 is the LLM's starting adapter, each refine adds a numbered folder, one is active.

    python -m stylist adapters list [--data-dir D]
    python -m stylist adapters activate N
    python -m stylist adapters rollback          # back to the version the active one was refined from

Layout of `<data folder>/adapters/`: `1/`, `2/`, ... (a PEFT adapter folder plus `version.json` with its
parent, pair count and before/after metrics), `active.json` (the pointer) and, for an LLM given without an
adapter, `initial-<LLM>/` (its version 0, a fresh LoRA; see `models.outfit.with_initial_adapter`). A refine
writes into a hidden `.tmp-*` folder and renames it to the next number only when complete, so a crash or
kill never leaves a version that `list` would show; leftovers are removed by the next refine.

A numbered version whose files do not load (adapter_config.json unreadable, adapter_model.safetensors
truncated) is reported once on stderr and marked broken with a `broken` file holding the reason; it is
never deleted. `active()` then falls back along the parent chain to a complete version (finally 0), `list`
shows it as broken and `activate` refuses it. Delete the `broken` file after repairing the folder.

With a PostgreSQL feedback store (`--db`, shared by several app replicas) the active version is recorded in the
database instead of `active.json`, so every replica switches on its next request; the version folders are on a
folder all replicas mount. A replica that does not see the active version's folder (yet) says so once and keeps
serving the last version it served.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from safetensors import SafetensorError, safe_open

from stylist.core.errors import StylistError
from stylist.core.feedback import FeedbackStore, open_store
from stylist.core.options import summary
from stylist.core.paths import CHECKPOINTS, data_dir, writing

SFT_ADAPTER = CHECKPOINTS / "adapters" / "sft"
META = "version.json"
POINTER = "active.json"
TMP_PREFIX = ".tmp-"
BROKEN = "broken"  # marker file in a version folder that does not load; holds the reason
CONFIG = "adapter_config.json"
WEIGHTS = "adapter_model.safetensors"

ACTIVE_KEY = "adapter_active"  # the active version's entry in a shared store's meta table
_reported: set[Path] = set()  # broken folders already reported by this process (unmarked ones recur)


@dataclass
class AdapterVersion:
    number: int
    path: Path
    parent: int | None = None
    created: float | None = None
    pairs: int = 0
    user: str | None = None
    metrics: dict = field(default_factory=dict)  # {"before": {...}, "after": {...}} for refined versions
    method: str | None = None  # how a refined version was trained: "dpo" or "kto"
    active: bool = False
    broken: str | None = None  # why the version does not load; such a version is never used

    @property
    def name(self) -> str:
        return f"v{self.number}"


class AdapterRegistry:
    """The versions under `root` (default `<data folder>/adapters`); version 0 is `initial`: the committed SFT
    adapter of the embedded LLM, or the adapter the app or refine was given with another LLM (a fresh LoRA when
    none was). `store`: a shared (PostgreSQL) feedback store, which then holds the active version."""

    def __init__(self, root: str | Path | None = None, initial: str | Path | None = None,
                 store: FeedbackStore | None = None):
        self.root = Path(root) if root is not None else data_dir() / "adapters"
        self.initial = Path(initial) if initial is not None else SFT_ADAPTER
        self.shared = store if store is not None and store.shared else None
        self._served: int | None = None  # the last version `active_number` returned
        self._missing: set[int] = set()  # active versions whose folder this replica lacked (said once)
        with writing(self.root):
            self.root.mkdir(parents=True, exist_ok=True)

    def path(self, number: int) -> Path:
        return self.initial if number == 0 else self.root / str(number)

    def numbers(self) -> list[int]:
        """Complete versions only: numbered folders (temporary folders never have a number for a name)."""
        return [0] + sorted(int(p.name) for p in self.root.iterdir() if p.is_dir() and p.name.isdigit())

    def get(self, number: int | str) -> AdapterVersion:
        number = _number(number)
        if number not in self.numbers():
            raise StylistError(f"no adapter version {number} (have {', '.join(map(str, self.numbers()))})")
        broken = self.broken(number)
        meta = self._meta(number)
        return AdapterVersion(number, self.path(number), meta.get("parent"), meta.get("created"),
                              meta.get("pairs", 0), meta.get("user"), meta.get("metrics", {}),
                              meta.get("config", {}).get("method", "dpo") if number else None,
                              number == self.active_number(), broken)

    def list(self) -> list[AdapterVersion]:
        return [self.get(n) for n in self.numbers()]

    def broken(self, number: int) -> str | None:
        """Why a numbered version does not load, or None; checked cheaply (config parses, weights' header fits).

        The first time a version is found broken it is reported on stderr and marked (see the module doc).
        Version 0, the starting adapter, is trusted and never marked.
        """
        if number == 0:
            return None
        folder = self.path(number)
        try:
            return (folder / BROKEN).read_text(encoding="utf-8").strip() or "marked broken"
        except FileNotFoundError:
            pass
        except (OSError, UnicodeDecodeError) as exc:
            return f"unreadable {BROKEN} marker ({exc})"
        problem = check_adapter(folder)
        if problem is not None:
            if folder not in _reported:
                _reported.add(folder)
                print(f"warning: adapter version {number} ({folder}) is broken: {problem}; it will not be used",
                      file=sys.stderr)
            try:
                (folder / BROKEN).write_text(problem + "\n", encoding="utf-8")
            except OSError:
                pass  # a read-only data folder: still skipped, just checked again next time
        return problem

    def active_number(self) -> int:
        """The pointer's version, or the nearest complete one it was refined from (0 when there is none)."""
        number = self._pointer()
        if number not in self.numbers():
            if self.shared is None or not number:
                number = 0
            else:  # activated by a replica whose folder this one does not see (yet)
                if number not in self._missing:
                    self._missing.add(number)
                    print(f"warning: adapter version {number} is active in {self.shared.location}, but "
                          f"{self.root / str(number)} is missing here; serving v{self._served or 0} until it appears",
                          file=sys.stderr)
                return self._served or 0
        self._served = self._usable(number)
        return self._served

    def _pointer(self) -> int:
        """The version set active: the shared store's (else `active.json`'s, until one is activated there)."""
        value = self.shared.meta(ACTIVE_KEY) if self.shared is not None else None
        return int(value) if value is not None else _read_json(self.root / POINTER).get("version", 0)

    def active(self) -> AdapterVersion:
        return self.get(self.active_number())

    def active_path(self) -> Path:
        return self.path(self.active_number())

    def activate(self, number: int | str) -> AdapterVersion:
        version = self.get(number)
        if version.broken:
            raise StylistError(f"adapter version {version.number} is broken ({version.broken}) and cannot be "
                               f"activated; the nearest complete version it came from is v{self._usable(version.number)}")
        with writing(self.root):
            _write_json(self.root / POINTER, {"version": version.number, "time": time.time()})
        if self.shared is not None:
            self.shared.set_meta(ACTIVE_KEY, str(version.number))
        version.active = True
        return version

    def rollback(self) -> AdapterVersion:
        """Activate the version the active one was refined from."""
        active = self.active()
        if active.number == 0:
            raise StylistError("version 0 (the starting adapter) is active: there is nothing to roll back to")
        return self.activate(self._usable(active.parent or 0))

    def new_tmp(self) -> Path:
        """A fresh hidden folder to write a version into; `commit` turns it into the next number."""
        return Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=self.root))

    def commit(self, tmp: Path, meta: dict) -> AdapterVersion:
        """Write the metadata, then rename the complete folder to the next free number (atomic)."""
        with writing(self.root):
            _write_json(tmp / META, {**meta, "created": time.time()})
            number = self.numbers()[-1] + 1
            while True:
                try:
                    os.rename(tmp, self.root / str(number))  # fails if the number was taken meanwhile
                    return self.get(number)
                except OSError:
                    if not (self.root / str(number)).exists():
                        raise
                    number += 1

    def _meta(self, number: int) -> dict:
        """version.json of a numbered version; {} for version 0, or when unreadable (the weights may still load)."""
        try:
            return _read_json(self.path(number) / META) if number else {}
        except StylistError:
            return {}

    def _usable(self, number: int) -> int:
        """`number`, or the first version along its parent chain that is not broken (finally 0)."""
        seen = set()
        while number and number not in seen and self.broken(number):
            seen.add(number)
            parent = self._meta(number).get("parent")
            number = parent if isinstance(parent, int) and parent in self.numbers() else 0
        return 0 if number in seen else number

    def clean(self) -> None:
        """Remove temporary folders left by a refine that crashed or was killed (call under the refine lock)."""
        for path in self.root.glob(TMP_PREFIX + "*"):
            shutil.rmtree(path, ignore_errors=True)


def check_adapter(folder: Path) -> str | None:
    """What stops a PEFT adapter folder from loading, or None; reads only the config and the weights' header."""
    try:
        config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"{CONFIG} is missing"
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"{CONFIG} is unreadable ({exc})"
    if not isinstance(config, dict):
        return f"{CONFIG} is not a JSON object"
    if not (folder / WEIGHTS).is_file():
        return f"{WEIGHTS} is missing"
    try:
        with safe_open(str(folder / WEIGHTS), framework="numpy"):  # checks the header against the file's size
            pass
    except (SafetensorError, OSError) as exc:
        return f"{WEIGHTS} is damaged ({exc})"
    return None


def _number(number: int | str) -> int:
    text = str(number).strip().lstrip("v")
    if not text.isdigit():
        raise StylistError(f"adapter version must be a number like 2 or v2, got {number!r}")
    return int(text)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as exc:
        raise StylistError(f"{path}: unreadable ({exc})") from exc


def _write_json(path: Path, data: dict) -> None:
    """Write-then-rename, so a reader sees the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def format_version(v: AdapterVersion) -> str:
    after = v.metrics.get("after", {})
    shown = ", ".join(f"{k} {val:.3f}" for k, val in after.items() if isinstance(val, float))
    origin = (f"starting adapter {v.path}" if v.number == 0 else
              f"{v.method.upper()} from v{v.parent}, {v.pairs} examples" + (f", user {v.user}" if v.user else ""))
    line = f"{'*' if v.active else ' '} {v.name:4s} {origin}" + (f"; {shown}" if shown else "")
    return line + (f"; BROKEN: {v.broken}" if v.broken else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylist adapters", description=summary(__doc__))
    parser.add_argument("action", choices=["list", "activate", "rollback"])
    parser.add_argument("version", nargs="?", help="version number to activate (e.g. 2 or v2)")
    parser.add_argument("--data-dir", default=None, help="data folder (default: $STYLIST_DATA_DIR or ./data)")
    parser.add_argument("--sft-adapter", default=None, help=f"version 0 (default: {SFT_ADAPTER})")
    parser.add_argument("--db", default=None, help="the replicas' postgresql:// store, which holds the active "
                                                   "version (default: $STYLIST_DB; none: active.json)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    data = data_dir(args.data_dir)
    store = open_store(args.db, data) if args.db or os.environ.get("STYLIST_DB") else None
    registry = AdapterRegistry(data / "adapters", args.sft_adapter, store)
    if args.action == "activate":
        if args.version is None:
            raise StylistError("say which version to activate, e.g. `adapters activate 2`")
        registry.activate(args.version)
    elif args.action == "rollback":
        registry.rollback()
    versions = registry.list()
    if args.json:
        print(json.dumps([{**v.__dict__, "path": str(v.path)} for v in versions]))
    else:
        print("\n".join(format_version(v) for v in versions))
    return 0
