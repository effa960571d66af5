"""The running app's shared state: models, catalog, feedback store and adapter registry, behind one object.

`ui.py` is only layout; every action a page can take is a method here, so it can be tested without a
browser and the same rules (who may do what, how big an upload may be) hold for every visitor.

    python app.py --catalog demo --data-dir data
"""

from __future__ import annotations

import hmac
import json
import os
import re
import secrets
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from stylist.app.recommender import Recommender
from stylist.app.runner import RefineJob
from stylist.core.adapters import AdapterRegistry, AdapterVersion
from stylist.core.catalog import IMAGE_SUFFIXES, Catalog, Item, load_catalog
from stylist.core.errors import StylistError
from stylist.core.feedback import Context, Event, FeedbackStore, Option, write_jsonl
from stylist.core.images import load_image
from stylist.core.paths import EXAMPLES, data_dir
from stylist.core.prompts import item_caption
from stylist.models.captioner import Captioner
from stylist.models.preference import PreferenceModel

UPLOAD_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
USER_NAME = re.compile(r"[^\w .@-]+")


@dataclass
class AppConfig:
    """What `app.py` passes in; the defaults are the committed models and the demo catalog."""

    catalog: str = "demo"
    captioner: str | None = None
    llm: str | None = None
    embedder: str | None = None
    data_dir: str | None = None
    admin_password: str | None = field(default_factory=lambda: os.environ.get("STYLIST_ADMIN_PASSWORD") or None)
    max_photos: int = 4
    max_upload_mb: float = 10.0
    per_slot: int = 3  # suggestions shown per missing slot
    refine_args: list[str] = field(default_factory=list)  # extra `python -m stylist refine` options (tests: tiny)


@dataclass
class Card:
    """One suggestion as a page shows it (plain data, so it can live in a page's gr.State)."""

    item_id: str
    title: str  # shown to the user
    text: str  # what the outfit LM reads (prompts.item_caption): recorded with the vote, used by DPO
    image: str | None
    slot: str
    score: float
    reason: str
    captions: list[str]
    occasion: str | None
    season: str | None
    shown: list[tuple[str, str]]  # (id, text) of every suggestion shown for this slot, best first
    for_you: float | None = None

    @property
    def context(self) -> Context:
        return Context(tuple(self.captions), self.slot, self.occasion, self.season)


def clean_user(name: str | None) -> str:
    """A user name as stored: printable word characters only, at most 40 (names are shown to others)."""
    name = USER_NAME.sub("", (name or "").strip())[:40].strip()
    if not name:
        raise StylistError("type a user name first (top of the page), so your clicks are kept for you")
    return name


def guest_name() -> str:
    return f"guest-{secrets.randbelow(9000) + 1000}"


def example_photos() -> list[str]:
    """The committed example garment photos a visitor can try without uploading anything."""
    if not EXAMPLES.is_dir():
        return []
    return [str(p) for p in sorted(EXAMPLES.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]


class Stylist:
    """Everything one app process shares between visitors. Thread-safe where pages can race."""

    def __init__(self, config: AppConfig):
        self.config = config
        self.data = data_dir(config.data_dir)
        self.catalog: Catalog = load_catalog(config.catalog)
        self._added_path = self.data / f"catalog-additions-{self.catalog.name}.json"
        self._added_images = self.data / "catalog-images"
        self._load_additions()
        self.captioner = Captioner.load(config.captioner)
        self._caption_untitled()
        self.registry = AdapterRegistry(self.data / "adapters")
        self._adapter = self.registry.active_path()  # version 0: load_lm picks the SFT adapter for the LM
        self.recommender = Recommender.load(self.catalog, llm=config.llm, embedder=config.embedder,
                                            adapter=self._adapter if self.registry.active_number() else None)
        self.store = FeedbackStore(self.data / "feedback.sqlite")
        self.job = RefineJob(self.data, llm=config.llm)
        self.preference = self._load_preference()
        self._lock = threading.Lock()  # one recommendation at a time: the adapter may be swapped in between

    @staticmethod
    def _load_preference() -> PreferenceModel | None:
        """The per-user model behind "for you" ordering and similar users; the app works without it."""
        try:
            return PreferenceModel.load()
        except StylistError as exc:
            print(f"note: suggestions are not personalised ({exc})", file=sys.stderr)
            return None

    # --- who may do what ---------------------------------------------------------------------------

    @property
    def protected(self) -> bool:
        return bool(self.config.admin_password)

    def check_admin(self, password: str | None, action: str) -> None:
        """Refine, export and catalog edits need the admin password when one is set."""
        if self.protected and not hmac.compare_digest((password or "").encode(), self.config.admin_password.encode()):
            raise StylistError(f"{action} needs the admin password (set by STYLIST_ADMIN_PASSWORD)")

    def check_uploads(self, paths: list[str], limit: int | None = None) -> list[str]:
        """Refuse too many, too large or non-image uploads before any model sees them."""
        paths = [str(p) for p in paths or []]
        limit = limit or self.config.max_photos
        if len(paths) > limit:
            raise StylistError(f"at most {limit} photos at a time (got {len(paths)})")
        for path in paths:
            name = Path(path).name
            if Path(path).suffix.lower() not in UPLOAD_SUFFIXES:
                raise StylistError(f"{name}: only {', '.join(sorted(UPLOAD_SUFFIXES))} photos are accepted")
            if os.path.getsize(path) > self.config.max_upload_mb * 1e6:
                raise StylistError(f"{name}: larger than {self.config.max_upload_mb:g} MB")
            load_image(path, name=name)  # raises a one-line error for broken or hostile files
        return paths

    # --- style ---------------------------------------------------------------------------------------

    def caption(self, paths: list[str]) -> list[str]:
        """One editable caption per photo."""
        paths = self.check_uploads(paths)
        return [c.caption for c in self.captioner.caption_images(paths)]

    def recommend(self, captions: list[str], occasion: str | None, season: str | None,
                  user: str | None = None, adapter: str | None = None) -> dict[str, list[Card]]:
        """Suggestions per missing slot, re-ordered "for you" once the user has a history."""
        captions = [c.strip() for c in captions if c and c.strip()]
        if not captions:
            raise StylistError("add at least one photo (or type a caption) first")
        with self._lock:
            self._use_adapter(adapter or self.registry.active_path())
            groups = self.recommender.recommend(captions, occasion=occasion or None, season=season or None,
                                                k=self.config.per_slot)
        cards = {}
        for slot, found in groups.items():
            shown = [(s.item.id, item_caption(s.item)) for s in found]
            cards[slot] = [Card(s.item.id, s.item.text, text, s.item.image, slot, s.score, s.reason, s.captions,
                                s.occasion, s.season, shown) for s, (_, text) in zip(found, shown)]
        if user:
            self._for_you(clean_user(user), cards)
        return cards

    def _use_adapter(self, path: Path) -> None:
        """Swap adapters only when needed: a refine worker or the CLI may change the active one any time."""
        if path != self._adapter:
            self.recommender.set_adapter(path)
            self._adapter = path

    def _for_you(self, user: str, cards: dict[str, list[Card]]) -> None:
        """Order each slot by the preference model's P(like) given this user's own history."""
        if self.preference is None:
            return
        events = self.store.events(user)  # newest first, as the preference model reads a history
        liked = [e.item_text for e in events if e.label == "like"]
        disliked = [e.item_text for e in events if e.label == "dislike"]
        if not liked and not disliked:
            return
        for found in cards.values():
            scores = self.preference.score(liked, disliked, [c.text for c in found])
            for card, p in zip(found, scores):
                card.for_you = float(p)
            found.sort(key=lambda c: -c.for_you)

    def vote(self, user: str, card: Card, label: str) -> int:
        """Record a like or dislike at once (with what else was shown: DPO's negatives); returns the event id."""
        event = self.store.record(clean_user(user), card.context, Option(card.item_id, card.text), label,
                                  options=[Option(i, t) for i, t in card.shown],
                                  adapter_version=self.registry.active_number())
        return event.id

    def undo(self, user: str, event_id: int) -> None:
        self.store.undo(event_id, user=clean_user(user))

    # --- feedback ------------------------------------------------------------------------------------

    def history(self, user: str) -> list[Event]:
        return self.store.events(clean_user(user))

    def counts(self, user: str) -> dict[str, int]:
        return self.store.counts(clean_user(user))

    def export(self, password: str | None) -> Path:
        """Everyone's preference pairs as trl JSONL (prompt, chosen, rejected), in a fresh temporary file:
        the data folder itself is never served."""
        self.check_admin(password, "exporting feedback")
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", prefix="stylist-preferences-", suffix=".jsonl",
                                         delete=False) as out:
            write_jsonl(self.store.pairs(), out)
        return Path(out.name)

    def feedback_size(self) -> tuple[int, int]:
        """How many DPO pairs a refine would get now, and from how many users."""
        pairs = self.store.pairs()
        return len(pairs), len({p.user for p in pairs})

    def similar_users(self, user: str, n: int = 5) -> list[tuple[str, float]]:
        """Users whose like/dislike history is closest to this user's (empty until there is a history)."""
        histories: dict[str, tuple[list[str], list[str]]] = {}
        for event in self.store.events():  # newest first, as the preference model reads a history
            liked, disliked = histories.setdefault(event.user, ([], []))
            (liked if event.label == "like" else disliked).append(event.item_text)
        user = clean_user(user)
        if self.preference is None or user not in histories:
            return []
        return self.preference.similar_users(histories, user, k=n)

    # --- refine --------------------------------------------------------------------------------------

    def start_refine(self, password: str | None) -> None:
        self.check_admin(password, "refining")
        self.job.start(extra=self.config.refine_args)

    def stop_refine(self, password: str | None) -> None:
        self.check_admin(password, "stopping a refine")
        self.job.stop()

    def refine_status(self) -> dict:
        return self.job.status()

    def versions(self) -> list[AdapterVersion]:
        return self.registry.list()

    def activate(self, version: str | int, password: str | None) -> AdapterVersion:
        self.check_admin(password, "changing the active adapter")
        if version in (None, ""):
            raise StylistError("pick a version first")
        return self.registry.activate(version)

    def rollback(self, password: str | None) -> AdapterVersion:
        self.check_admin(password, "rolling back the adapter")
        return self.registry.rollback()

    def compare(self, captions: list[str], occasion: str | None, season: str | None
                ) -> tuple[tuple[str, dict[str, list[Card]]], tuple[str, dict[str, list[Card]]]]:
        """The same outfit completed by the active adapter's parent (old) and by the active one (new)."""
        active = self.registry.active()
        if active.number == 0:
            raise StylistError("the SFT adapter (v0) is active: refine first, or activate a refined version")
        old = self.registry.get(active.parent or 0)
        return ((old.name, self.recommend(captions, occasion, season, adapter=old.path)),
                (active.name, self.recommend(captions, occasion, season)))

    # --- catalog -------------------------------------------------------------------------------------

    def search(self, query: str, limit: int = 60) -> list[Item]:
        return self.catalog.search(query, limit=limit)

    def add_photos(self, paths: list[str], password: str | None) -> list[Item]:
        """Caption new photos, copy them into the data folder and add them to the catalog (kept across restarts)."""
        self.check_admin(password, "adding to the catalog")
        paths = self.check_uploads(paths, limit=20)
        folder = self._added_images
        folder.mkdir(parents=True, exist_ok=True)
        added = []
        for caption in self.captioner.caption_images(paths):
            item_id = f"added-{secrets.token_hex(4)}"
            image = folder / f"{item_id}.png"
            load_image(caption.path).save(image)
            added.append(Item(id=item_id, title=caption.caption, category=caption.category,
                              colors=list(caption.colors), pattern=caption.pattern, material=caption.material,
                              image=str(image)))
        with self._lock:  # no recommendation sees a half-indexed catalog
            for item in added:
                self.catalog.add(item)
            self.recommender.add_items(added)
            self._save_additions(added)
        return added

    def _caption_untitled(self) -> None:
        """Photo-folder catalogs come without titles: caption their photos once, cached in the data folder."""
        bare = [i for i in self.catalog.items.values() if not i.title and i.image]
        if not bare:
            return
        path = self.data / f"catalog-captions-{self.catalog.name}.json"
        cache = json.loads(path.read_text()) if path.exists() else {}
        todo = [i.image for i in bare if i.image not in cache]
        if todo:
            print(f"captioning {len(todo)} catalog photos (once: cached in {path})", file=sys.stderr)
            for c in self.captioner.caption_images(todo):
                if not c.error:
                    cache[c.path] = {"title": c.caption, "colors": c.colors, "pattern": c.pattern,
                                     "material": c.material}
            _write_json(path, cache)
        for item in bare:  # the folder's class name stays the category
            for key, value in cache.get(item.image, {}).items():
                setattr(item, key, value)

    def _load_additions(self) -> None:
        if self._added_path.exists():
            for raw in json.loads(self._added_path.read_text()):
                if raw["id"] not in self.catalog.items:
                    self.catalog.add(Item(**raw))

    def _save_additions(self, items: list[Item]) -> None:
        old = json.loads(self._added_path.read_text()) if self._added_path.exists() else []
        _write_json(self._added_path, old + [asdict(i) for i in items])

    def served_paths(self) -> list[str]:
        """Folders the web server may serve images from: the catalog's photos and the examples. The data
        folder (feedback, adapters, secrets) is not among them; only its added catalog photos are."""
        roots = {str(EXAMPLES), str(self._added_images)}
        roots |= {str(Path(i.image).parent) for i in self.catalog.items.values() if i.image}
        return sorted(roots)


def _write_json(path: Path, data) -> None:
    """Write-then-rename: a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)
