"""The catalog index retrieval searches (items, their caption embeddings and slots) and its copy in the data
folder.

Building the index embeds every item's caption and reads every item's slot, which grows with the catalog
(about 30 s for 100,000 items on 2 cores), so it is built once per catalog content and embedder and stored in
`<data>/catalog-index-<catalog>.npz`; the next start loads it in a fraction of a second. The file is keyed by
a hash of every item's id, title, category and caption, the embedder's weights, the slot rules and a format
number: any change to one of them rebuilds it. A damaged file is reported in one line and rebuilt; a data
folder that cannot be written keeps the index in memory only.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from tqdm import tqdm

from stylist.core import vocabulary
from stylist.core.catalog import Catalog, Item
from stylist.core.prompts import item_caption
from stylist.core.vocabulary import OTHER, SLOTS, slot_of
from stylist.models.embedder import embedder_identity

FORMAT = 1  # raise when the file's layout or what the vectors are computed from changes
CHUNK = 4096  # items embedded at a time (and the progress bar's step)
NOUNS = 8  # category names per slot a description may be completed with (each costs one LM likelihood)
HEAD = 256  # nearest items of a slot sorted first: a request reads a few dozen unless its conditions rule them out


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class CatalogIndex:
    """The items retrieval searches, their caption embeddings and slots, as one read-only snapshot: adding
    items builds a new one, so a request that reads the index once never sees items without vectors."""

    items: tuple[Item, ...] = ()
    vectors: np.ndarray = field(default_factory=lambda: _frozen(np.zeros((0, 1), dtype=np.float32)))
    slots: np.ndarray = field(default_factory=lambda: _frozen(np.array([], dtype=str)))

    def extended(self, items: Sequence[Item], vectors: np.ndarray, slots: Sequence[str]) -> CatalogIndex:
        """A new index with these items (their embeddings and slots) after the current ones."""
        return CatalogIndex(self.items + tuple(items),
                            _frozen(np.concatenate([self.vectors, vectors]) if self.items else vectors),
                            _frozen(np.concatenate([self.slots, np.array(slots, dtype=str)])))

    @cached_property
    def rows(self) -> dict[str, np.ndarray]:
        """Each slot's row numbers, found once per snapshot rather than by comparing every slot per request."""
        return {slot: np.flatnonzero(self.slots == slot) for slot in np.unique(self.slots).tolist()}

    @cached_property
    def categories(self) -> dict[str, list[str]]:
        """Each slot's NOUNS most common category names that name the slot (the nouns a description may end in):
        a shop's catalog has dozens per slot, and the LM weighs each of them when a description needs one."""
        names: dict[str, list[str]] = {}
        for slot, rows in self.rows.items():
            counts = Counter(self.items[r].category.lower() for r in rows.tolist())
            counts = Counter({c: n for c, n in counts.items() if slot_of(c) == slot})  # once per distinct name
            names[slot] = sorted(sorted(counts), key=lambda c: -counts[c])[:NOUNS]
        return names

    def ranked(self, query: np.ndarray, slot: str) -> Iterator[Item]:
        """The items of a slot, nearest to the query (a normalised embedding) first. Exact search, which takes
        milliseconds at 100,000 items; only the nearest HEAD are sorted unless the caller reads past them."""
        rows = self.rows.get(slot)
        if rows is None:
            return
        distance = -(self.vectors[rows] @ query)
        head = np.argpartition(distance, HEAD)[:HEAD] if len(rows) > HEAD else np.arange(len(rows))
        yield from (self.items[r] for r in rows[head[np.argsort(distance[head], kind="stable")]].tolist())
        if len(rows) > HEAD:
            rest = np.setdiff1d(np.arange(len(rows)), head, assume_unique=True)
            yield from (self.items[r] for r in rows[rest[np.argsort(distance[rest], kind="stable")]].tolist())

    def nearest(self, query: np.ndarray, slot: str, k: int) -> list[Item]:
        """The k items of a slot whose embeddings are nearest to the query."""
        return [item for item, _ in zip(self.ranked(query, slot), range(k))]


def embed(embedder, items: Sequence[Item], progress: bool = False) -> tuple[list[Item], np.ndarray, list[str]]:
    """The wearable items among `items` (those with a slot), their normalised caption embeddings and slots."""
    kept, vectors, slots = [], [], []
    with tqdm(total=len(items), desc="indexing the catalog", unit="item", disable=not progress) as bar:
        for start in range(0, len(items), CHUNK):
            chunk = [(item, item.slot) for item in items[start:start + CHUNK]]
            chunk = [(item, slot) for item, slot in chunk if slot != OTHER]
            if chunk:
                kept += [item for item, _ in chunk]
                slots += [slot for _, slot in chunk]
                found = embedder.encode([item_caption(item) for item, _ in chunk], normalize_embeddings=True,
                                        convert_to_numpy=True)
                vectors.append(np.asarray(found, dtype=np.float32))
            bar.update(min(CHUNK, len(items) - start))
    return kept, np.concatenate(vectors) if vectors else np.zeros((0, 1), dtype=np.float32), slots


def index_key(items: Sequence[Item], embedder_id: str) -> str:
    """What the stored index was computed from: every item's id, title, category and caption (slot and
    embedding come from them), the embedder, the slot rules (the vocabulary module's source) and FORMAT."""
    digest = hashlib.blake2b(f"{FORMAT}\x1e{embedder_id}\x1e".encode(), digest_size=16)
    digest.update(Path(vocabulary.__file__).read_bytes())
    for item in items:
        digest.update(f"\x1e{item.id}\x1f{item.title}\x1f{item.category}\x1f{item_caption(item)}".encode())
    return digest.hexdigest()


class IndexStore:
    """One catalog's index file in the data folder, replaced whole (temporary file, then `os.replace`), so a
    crash while writing leaves the previous file or none, never half of one."""

    def __init__(self, folder: Path, catalog: str):
        self.path = Path(folder) / f"catalog-index-{re.sub(r'[^A-Za-z0-9._-]', '_', catalog)}.npz"

    def read(self, key: str, catalog: Catalog) -> CatalogIndex | None:
        """The stored index when it was built from this key; None when absent, stale or damaged (said once)."""
        if not self.path.exists():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as stored:
                if int(stored["format"]) != FORMAT or str(stored["key"]) != key:
                    return None
                ids, slots, vectors = stored["ids"], stored["slots"], stored["vectors"]
            if not (vectors.ndim == 2 and vectors.dtype == np.float32 and len(ids) == len(slots) == len(vectors)
                    and set(slots.tolist()) <= set(SLOTS)):
                raise ValueError("arrays of the wrong shape or type")
            items = tuple(catalog.items[i] for i in ids.tolist())
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            print(f"warning: ignoring the damaged catalog index {self.path} ({exc!r:.200}); rebuilding it",
                  file=sys.stderr)
            return None
        return CatalogIndex(items, _frozen(vectors), _frozen(slots))

    def write(self, key: str, index: CatalogIndex) -> None:
        """Store the index; a folder that refuses the write leaves it in memory only (said once)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as out:
                np.savez(out, format=np.array(FORMAT), key=np.array(key), ids=np.array([i.id for i in index.items]),
                         slots=index.slots, vectors=index.vectors)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            print(f"warning: catalog index kept in memory only: cannot write {self.path} ({exc.strerror or exc})",
                  file=sys.stderr)
            with contextlib.suppress(OSError):
                tmp.unlink()


def load_index(catalog: Catalog, embedder, folder: Path | None = None) -> CatalogIndex:
    """The index of the catalog's wearable items: read from `folder` when it holds one built from the same
    catalog and embedder, else built (with a progress bar) and stored there. folder=None: memory only."""
    items = list(catalog.items.values())
    embedder_id = embedder_identity(embedder) if folder is not None else None
    if embedder_id is None:
        return CatalogIndex().extended(*embed(embedder, items))
    store, key = IndexStore(folder, catalog.name), index_key(items, embedder_id)
    index = store.read(key, catalog)
    if index is None:
        print(f"indexing {len(items)} catalog items (once: stored in {store.path})", file=sys.stderr)
        index = CatalogIndex().extended(*embed(embedder, items, progress=True))
        store.write(key, index)
    return index
