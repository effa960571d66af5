"""The active catalog as the app keeps it: photo-folder captions, visitors' additions, search, served files.

    python app.py --catalog ../shared/data/clothing-small/validation   # a photo folder, captioned once
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from stylist.app.access import Access, check_text
from stylist.app.model_thread import ModelThread
from stylist.core.catalog import IMAGE_SUFFIXES, Catalog, Item, load_catalog, parse_item
from stylist.core.errors import StylistError
from stylist.core.paths import EXAMPLES, unwritable, writing
from stylist.models.captioner import Captioner
from stylist.recommend.recommender import Recommender

ADDED, SERVED = "catalog-images", "served"  # folders of the data folder: visitors' added photos, catalog photos


def open_catalog(source: str, data: Path, captioner: Captioner) -> Catalog:
    """The catalog with its cached photo captions and the photos visitors added before."""
    catalog = load_catalog(source)
    path = _additions_path(data, catalog)
    for n, raw in enumerate(_read_json(path, [])):
        item = parse_item(raw, f"{path}, item #{n}")
        if item.id not in catalog.items:
            catalog.add(item)
    _drop_non_images(catalog)
    _caption_untitled(catalog, data, captioner)
    return catalog


def _drop_non_images(catalog: Catalog) -> None:
    """A catalog's `image` must name a photo: anything else (a typo, or `/etc/passwd`) is never shown or served."""
    for item in catalog.items.values():
        if item.image and Path(item.image).suffix.lower() not in IMAGE_SUFFIXES:
            print(f"warning: catalog item {item.id}: {item.image} is not an image file; shown without a photo",
                  file=sys.stderr)
            item.image = None


def _additions_path(data: Path, catalog: Catalog) -> Path:
    return data / f"catalog-additions-{catalog.name}.json"


def _caption_untitled(catalog: Catalog, data: Path, captioner: Captioner) -> None:
    """Photo-folder catalogs come without titles: caption their photos once, cached in the data folder for
    this captioner (another one, or a retrained one, writes its own captions)."""
    bare = [i for i in catalog.items.values() if not i.title and i.image]
    if not bare:
        return
    path = data / f"catalog-captions-{catalog.name}-{captioner.identity[:16]}.json"
    cache = _read_json(path, {})
    todo = [i.image for i in bare if i.image not in cache]
    if todo:
        print(f"captioning {len(todo)} catalog photos (once: cached in {path})", file=sys.stderr)
        for c in captioner.caption_images(todo):
            if not c.error:
                cache[c.path] = {"title": c.caption, "colors": c.colors, "pattern": c.pattern, "material": c.material}
        with writing(data):
            _write_json(path, cache)
    for item in bare:  # the folder's class name stays the category
        for key, value in cache.get(item.image, {}).items():
            setattr(item, key, value)


class ActiveCatalog:
    """Browse, search and grow the catalog; additions are indexed for retrieval at once and kept across restarts."""

    def __init__(self, catalog: Catalog, data: Path, access: Access, captioner: Captioner,
                 recommender: Recommender, models: ModelThread):
        self.catalog, self.data, self.access = catalog, data, access
        self.captioner, self.recommender, self.models = captioner, recommender, models
        self._adding = threading.Lock()  # the additions file is read, extended and rewritten by one request at a time
        self._images = data / ADDED
        _serve_photos(catalog, data, keep=self._images)

    def __len__(self) -> int:
        return len(self.catalog)

    def search(self, query: str | None, limit: int = 60) -> list[Item]:
        return self.catalog.search(check_text(query, self.access.config.search_chars, "a search"), limit=limit)

    def add_photos(self, paths: list[str], password: str | None) -> list[Item]:
        """Caption new photos, copy them into the data folder and add them to the catalog."""
        self.access.check_admin(password, "adding to the catalog")
        added = []
        for name, photo in self.access.check_uploads(paths, limit=self.access.config.max_catalog_photos):
            caption = self.models.run(self.captioner.caption_image, photo, path=name)
            item_id = f"added-{secrets.token_hex(4)}"
            image = self._images / f"{item_id}.png"
            with writing(self.data):
                self._images.mkdir(parents=True, exist_ok=True)
                photo.save(image)
            added.append(Item(id=item_id, title=caption.caption, category=caption.category,
                              colors=list(caption.colors), pattern=caption.pattern, material=caption.material,
                              image=str(image)))
        path = _additions_path(self.data, self.catalog)
        with self._adding:  # no addition overwrites another; the recommender publishes its index whole
            with writing(self.data):  # saved first: an addition the disk refused is not shown either
                _write_json(path, _read_json(path, []) + [asdict(i) for i in added])
            for item in added:
                self.catalog.add(item)
            self.models.run(self.recommender.add_items, added)
        return added

    def served_paths(self) -> list[str]:
        return served_paths(self.data)


def served_paths(data: Path) -> list[str]:
    """What the web server may serve: the folder of catalog photos (`_serve_photos`, in either of its places), the
    example photos and the folder of added photos (the app writes only images there); never a catalog's own
    folder, which may hold anything. Known from the data folder alone, before the catalog is read."""
    return sorted({str(EXAMPLES), str(data / ADDED), str(data / SERVED), str(_fallback(data))})


def _fallback(data: Path) -> Path:
    """Where catalog photos are linked when the data folder refuses writes: a folder of the system's temporary
    folder named after the data folder, the same on every start."""
    return Path(tempfile.gettempdir()) / f"stylist-served-{hashlib.sha1(str(data).encode()).hexdigest()[:12]}"


def _serve_photos(catalog: Catalog, data: Path, keep: Path) -> Path:
    """Link (or copy) each photo the catalog names into one folder of the data folder, and show it from there.

    Gradio checks each file it sends or serves against every allowed path in turn, two `realpath` calls each, so
    allowing each photo by its own path made every suggestion card cost time in proportion to the catalog. The
    links are made once (kept across restarts)."""
    folder = data / SERVED
    try:
        folder.mkdir(exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(f"{folder} is read-only")
    except OSError as exc:
        if unwritable(exc) is None:
            raise
        folder = _fallback(data)
        folder.mkdir(mode=0o700, exist_ok=True)
        if folder.stat().st_uid != os.getuid():  # another user's folder: whatever it holds would be served
            raise StylistError(f"{data} is {unwritable(exc)} and {folder} belongs to another user: pass a writable "
                               "--data-dir") from exc
        print(f"note: {data} is {unwritable(exc)}: catalog photos are served from {folder}", file=sys.stderr)
    items = [i for i in catalog.items.values() if i.image and Path(i.image).parent != keep]
    for item in tqdm(items, desc="catalog photos", unit="photo", disable=len(items) < 5000):
        source = Path(item.image).resolve()
        target = folder / (hashlib.sha1(str(source).encode()).hexdigest()[:24] + source.suffix.lower())
        try:
            if not (target.exists() and _same_file(source, target)):
                _link_or_copy(source, target)
        except FileNotFoundError:
            print(f"warning: catalog item {item.id}: no photo at {source}; shown without a photo", file=sys.stderr)
            item.image = None
            continue
        item.image = str(target)
    return folder


def _same_file(source: Path, target: Path) -> bool:
    """The link is the photo itself, or a copy no older than it (a changed photo is copied again)."""
    a, b = source.stat(), target.stat()
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino) or (a.st_size == b.st_size and b.st_mtime >= a.st_mtime)


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link where the file system allows it (no space used), else a copy; either lands whole (rename)."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def example_photos() -> list[str]:
    """The committed example garment photos a visitor can try without uploading anything."""
    if not EXAMPLES.is_dir():
        return []
    return [str(p) for p in sorted(EXAMPLES.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]


def _read_json(path: Path, default):
    return json.loads(path.read_text()) if path.exists() else default


def _write_json(path: Path, data) -> None:
    """Write-then-rename: a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)
