"""Who may do what, and what a request may carry: display names, the admin password, uploads, body size.

Every limit here is checked on the server, whatever the page allowed, because any client can call any
visible endpoint with any value.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from stylist.app.config import AppConfig
from stylist.app.photo_decoder import PhotoDecoder
from stylist.core.errors import StylistError
from stylist.core.images import decoded_pixels
from stylist.core.prompts import cut_caption
from stylist.core.vocabulary import SLOTS, read_occasion_season, split_garments

UPLOAD_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
USER_NAME = re.compile(r"[^\w .@-]+")


def clean_user(name: str | None) -> str:
    """A display name as stored: printable word characters only, at most 40 (names are shown to others)."""
    name = USER_NAME.sub("", (name or "").strip())[:40].strip()
    if not name:
        raise StylistError("type a name first (top of the page)")
    return name


def check_text(text: str | None, limit: int, what: str) -> str:
    """Stripped text, refused with one line when longer than `limit` (before any model sees it)."""
    text = (text or "").strip()
    if len(text) > limit:
        raise StylistError(f"{what} may be at most {limit} characters (got {len(text)})")
    return text


def check_choice(value: object, allowed: list[object], what: str, multiselect: bool = False,
                 custom_chars: int | None = None) -> None:
    """A dropdown's value as a client sent it: one of `allowed` (a list of them with `multiselect`), or where the
    page lets a visitor type, text of at most `custom_chars`. Checked before the value is used or logged, so a
    client's 30 MB "season" costs one short line, not 30 MB of log and answer."""
    values = value if multiselect and isinstance(value, list) else [value]
    if multiselect and not isinstance(value, (list, type(None))):
        raise StylistError(f"{what}: expected a list of choices")
    for v in values:
        if v is None or v in allowed:
            continue
        if custom_chars and isinstance(v, str) and len(v) <= custom_chars and v.isprintable() and _encodable(v):
            continue
        shown = repr(v)[:40].encode("utf-8", "backslashreplace").decode("utf-8")
        raise StylistError(f"{what}: {shown}{'...' if len(repr(v)) > 40 else ''} is not one of the choices")


def _encodable(text: str) -> bool:
    """False for text holding lone surrogates, which no page can send and no log or JSON answer can carry."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class RateLimit:
    """At most so many `what` a minute for each key of each kind (a visitor id, an address): every key is checked
    before any is counted, and a counted action can be given back when what it allowed failed, so a refusal or a
    failure costs nothing. Each kind's limit is read from `config` at every check (kind -> its field's name)."""

    def __init__(self, what: str, config: AppConfig, seconds: float = 60, **fields: str):
        self.what, self.config, self.fields, self.seconds = what, config, fields, seconds
        self._times: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def take(self, **keys: str | None) -> Callable[[], None]:
        """Count one action for every key (kind=key), or refuse in one line counting nothing; returns how to give
        the action back."""
        limits = {kind: getattr(self.config, field) for kind, field in self.fields.items()}
        counted = [(kind, key) for kind, key in keys.items() if key and limits[kind]]
        now = time.monotonic()
        with self._lock:
            for kind, key in counted:
                times = self._times[kind, key]
                while times and times[0] <= now - self.seconds:
                    times.popleft()
                if len(times) >= limits[kind]:
                    where = "" if kind == "visitor" else f" from one {kind}"
                    raise StylistError(f"at most {limits[kind]} {self.what} a minute{where}: wait a moment, "
                                       "then try again")
            for kind, key in counted:
                self._times[kind, key].append(now)
            for quiet in [k for k, t in self._times.items() if not t]:  # memory stays bounded by the active keys
                del self._times[quiet]

        def give_back() -> None:
            with self._lock:
                for kind, key in counted:
                    with contextlib.suppress(KeyError, ValueError):
                        self._times[kind, key].remove(now)
        return give_back


class Access:
    """The admin password check and the upload rules of one app."""

    def __init__(self, config: AppConfig):
        self.config = config
        self.photos = PhotoDecoder()  # large photos decode in a child process, below the visitors' priority
        self._large = RateLimit("large photos (over 4 megapixels decoded)", config,
                                address="large_photos_per_minute_per_address")

    @property
    def protected(self) -> bool:
        return bool(self.config.admin_password)

    def check_admin(self, password: str | None, action: str) -> None:
        """Refine, export and catalog edits need the admin password when one is set."""
        if self.protected and not hmac.compare_digest((password or "").encode(), self.config.admin_password.encode()):
            raise StylistError(f"{action} needs the admin password (set by STYLIST_ADMIN_PASSWORD)")

    def check_outfit(self, captions: list[str], occasion: str | None, season: str | None
                     ) -> tuple[list[str], str | None, str | None]:
        """The outfit a request describes, within the limits: a caption is cut at a word to `caption_chars`
        before a typed box may name several garments ("white t-shirt and denim shorts"), each of which becomes an
        item, and an outfit holds at most one item per photo slot; an everyday occasion or season word is read
        as one the model knows ("beach": casual, summer), any other is refused."""
        return self._read_outfit(captions, occasion, season)[:3]

    def outfit_notes(self, captions: list[str], occasion: str | None, season: str | None) -> list[str]:
        """What `check_outfit` changed, for the page to say: captions cut, words read as an occasion or season."""
        return self._read_outfit(captions, occasion, season)[3]

    def _read_outfit(self, captions: list[str], occasion: str | None, season: str | None
                     ) -> tuple[list[str], str | None, str | None, list[str]]:
        cut = [cut_caption(c, self.config.caption_chars) for c in captions or [] if isinstance(c, str)]
        items = [item for c, _ in cut if c for item in split_garments(c)]
        if len(items) > self.config.max_photos:
            raise StylistError(f"at most {self.config.max_photos} items per outfit (got {len(items)})")
        occasion = check_text(occasion, self.config.tag_chars, "the occasion")
        season = check_text(season, self.config.tag_chars, "the season")
        occasion, season, notes = read_occasion_season(occasion, season)
        return items, occasion, season, [note for _, note in cut if note] + notes

    @staticmethod
    def check_slots(slots: object) -> list[str]:
        """The pieces a request asks for (none: every missing one), in the vocabulary's order; anything else a
        client sends (not a list, not a piece's name) is refused in one line."""
        if slots in (None, ""):
            return []
        if not isinstance(slots, (list, tuple)) or not all(isinstance(s, str) for s in slots):
            raise StylistError("the pieces to suggest must be a list of names")
        asked = {s.strip().lower() for s in slots}
        unknown = sorted(asked - set(SLOTS))
        if unknown:
            shown = ", ".join(u[:20] for u in unknown[:3]) + (" ..." if len(unknown) > 3 else "")
            raise StylistError(f"unknown piece(s) {shown}; choose from {', '.join(SLOTS)}")
        return [s for s in SLOTS if s in asked]

    def check_uploads(self, paths: list[str], limit: int | None = None, address: str | None = None
                      ) -> list[tuple[str, Image.Image]]:
        """Refuse too many, too large or non-image uploads before any model sees them; returns each upload's
        name with its decoded image, so no photo is decoded twice. With the request's `address`, its large photos
        count against the large photos a minute one address may have decoded."""
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
        pixels = [decoded_pixels(path) for path in paths]  # from the headers: nothing decoded yet
        if sum(pixels) > self.config.request_megapixels * 1e6:
            raise StylistError(f"these photos hold {sum(pixels) / 1e6:.0f} megapixels to decode, over the limit of "
                               f"{self.config.request_megapixels:g} per request: send fewer or smaller photos")
        taken: list[Callable[[], None]] = []
        try:
            for _ in range(sum(n > self.photos.large_pixels for n in pixels)):
                taken.append(self._large.take(address=address))
        except StylistError:
            for give_back in taken:
                give_back()
            raise
        # load_image raises a one-line error for broken or hostile files
        return [(Path(path).name, self.photos.load(path, Path(path).name, n)) for path, n in zip(paths, pixels)]


class WebGuard:
    """ASGI middleware: answers only the app's public API by name (Gradio also answers its internal handlers by
    name on /call and /run), refuses a queue join from an address that `crowded` says holds its share of the
    queue before reading the body, and sends security headers (no framing by other sites, no sniffing)."""

    BY_NAME = re.compile(r"^/gradio_api/(?:call/v2|call|run)/([^/]+)/?")
    HEADERS = [(b"content-security-policy", b"frame-ancestors 'self'; object-src 'none'; base-uri 'self'"),
               (b"x-frame-options", b"SAMEORIGIN"), (b"x-content-type-options", b"nosniff"),
               (b"referrer-policy", b"same-origin")]

    def __init__(self, app, public: set[str], crowded: Callable[[str | None], str | None] = lambda address: None):
        # "predict": how the page itself runs a handler outside the queue, by its index (queued ones refuse it)
        self.app, self.public, self.crowded = app, public | {"predict"}, crowded

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        named = self.BY_NAME.match(scope["path"])
        if named and named.group(1) not in self.public:
            return await self._answer(send, 404, b"text/plain", b"no such API endpoint\n")
        if scope["method"] == "POST" and scope["path"].endswith("/queue/join"):
            why = self.crowded(scope["client"][0] if scope.get("client") else None)
            if why:  # as Gradio's own "queue is full"; the body is never read, so the connection closes
                return await self._answer(send, 503, b"application/json", json.dumps({"detail": why}).encode(),
                                          [(b"connection", b"close")])

        async def guarded(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.HEADERS]}
            await send(message)

        await self.app(scope, receive, guarded)


    async def _answer(self, send, status: int, kind: bytes, body: bytes, extra: list | None = None) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode()),
                                *(extra or []), *self.HEADERS]})
        await send({"type": "http.response.body", "body": body})


def own_origin_only(cors, request_headers) -> bool:
    """CORS for the app's own origin only (scheme, host and port as the request reached it): Gradio's own rule
    lets any localhost origin read a localhost app's answers, with credentials. Installed over Gradio's
    `CustomCORSMiddleware.is_valid_origin` by app.py."""
    return request_headers.get("Origin", "").partition("://")[2] == request_headers.get("Host", "")


class BodyLimit:
    """ASGI middleware refusing request bodies over `limit` bytes with 413: at once by Content-Length, and
    while reading for bodies that do not declare their length, so nothing larger is buffered or stored."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            return await self._refuse(send)
        seen, started, refused = 0, False, False

        async def counted():
            """The app's reads; past the limit the client gets 413 and the app sees a disconnect (an exception
            here could be turned into another answer by the app's own error handling)."""
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                refused = True
                if not started:
                    await self._refuse(send)
                return {"type": "http.disconnect"}
            return message

        async def watched(message):
            nonlocal started
            if not refused:  # after a refusal the 413 is the whole answer
                started = started or message["type"] == "http.response.start"
                await send(message)

        await self.app(scope, counted, watched)

    async def _refuse(self, send) -> None:
        body = f"request body over the limit of {self.limit / 1e6:g} MB\n".encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
