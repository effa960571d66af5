"""Who may do what, and what a request may carry: user names, the admin password and uploads.

Every limit here is checked on the server, whatever the page allowed, because any client can call any
visible endpoint with any value.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
from pathlib import Path

from stylist.app.config import AppConfig
from stylist.core.errors import StylistError
from stylist.core.images import load_image

UPLOAD_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
USER_NAME = re.compile(r"[^\w .@-]+")


def clean_user(name: str | None) -> str:
    """A user name as stored: printable word characters only, at most 40 (names are shown to others)."""
    name = USER_NAME.sub("", (name or "").strip())[:40].strip()
    if not name:
        raise StylistError("type a user name first (top of the page), so your clicks are kept for you")
    return name


def check_text(text: str | None, limit: int, what: str) -> str:
    """Stripped text, refused with one line when longer than `limit` (before any model sees it)."""
    text = (text or "").strip()
    if len(text) > limit:
        raise StylistError(f"{what} may be at most {limit} characters (got {len(text)})")
    return text


def guest_name() -> str:
    return f"guest-{secrets.randbelow(9000) + 1000}"


class Access:
    """The admin password check and the upload rules of one app."""

    def __init__(self, config: AppConfig):
        self.config = config

    @property
    def protected(self) -> bool:
        return bool(self.config.admin_password)

    def check_admin(self, password: str | None, action: str) -> None:
        """Refine, export and catalog edits need the admin password when one is set."""
        if self.protected and not hmac.compare_digest((password or "").encode(), self.config.admin_password.encode()):
            raise StylistError(f"{action} needs the admin password (set by STYLIST_ADMIN_PASSWORD)")

    def check_outfit(self, captions: list[str], occasion: str | None, season: str | None
                     ) -> tuple[list[str], str | None, str | None]:
        """The outfit a request describes, within the limits: at most one caption per photo slot."""
        captions = [check_text(c, self.config.caption_chars, "a caption") for c in captions or []]
        captions = [c for c in captions if c]
        if len(captions) > self.config.max_photos:
            raise StylistError(f"at most {self.config.max_photos} items per outfit (got {len(captions)})")
        occasion = check_text(occasion, self.config.tag_chars, "the occasion") or None
        season = check_text(season, self.config.tag_chars, "the season") or None
        return captions, occasion, season

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
