"""Who a visitor is: a server-issued, signed id, and the display name the visitor chose.

A page never names its visitor: on page load the server issues a random id signed with HMAC (key kept in
`<data>/visitor-secret`, never served and never sent to a page), the browser keeps the token and sends it back,
and every action verifies the signature before it reads or writes anyone's votes. With Gradio's login
(`--auth`), the login name is the id. The name box only sets a display name, shown to others only with the
visitor's consent; the feedback store keys votes by the verified id and keeps the display names (a rename writes
one row). Several replicas verify each other's tokens when they share `$STYLIST_SECRET` (at least 32 characters):
the signing keys are then derived from it instead of kept in the data folder.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path

from stylist.app.access import RateLimit, clean_user
from stylist.app.config import AppConfig
from stylist.core.errors import StylistError
from stylist.core.feedback import FeedbackStore
from stylist.core.paths import writing

NO_VISITOR = "this page has no valid visitor id: reload the page"
TOKEN_DAYS = 30  # a token not renewed by a page load for this long is refused: a stolen one does not last
ROTATE_SECONDS = 86400  # a page load re-signs a token older than this (same visitor, fresh time)
ADDRESSES_KEPT = 100_000  # visitor -> address entries kept (the oldest are forgotten first)


class Visitors:
    """Issue and verify visitor tokens; keep each visitor's display name and sharing choice in the feedback store."""

    def __init__(self, data: Path, config: AppConfig, store: FeedbackStore):
        self.store = store
        self._key = bytes.fromhex(install_secret(data, "visitor-secret"))
        self._lock = threading.Lock()  # for the addresses
        _import_names(data / "visitors.json", store)
        self._addresses: OrderedDict[str, str] = OrderedDict()  # visitor -> the address that last loaded its page
        self._minting = RateLimit("new visitor ids", config, address="visitors_per_minute_per_address")

    def issue(self, login: str | None = None, address: str | None = None) -> str:
        """A token for the signed-in `login`, or for a fresh random visitor; at most so many fresh ones a minute
        per `address`, so reloading pages does not buy more votes."""
        if login is None:
            self._minting.take(address=address)
        visitor = login or f"v-{secrets.token_hex(8)}"
        self._seen(visitor, address)
        return self.sign(visitor)

    def sign(self, visitor: str, issued: float | None = None) -> str:
        stamped = f"{visitor}.{int(time.time() if issued is None else issued):x}"
        return f"{stamped}.{self._signature(stamped)}"

    def verify(self, token: str | None) -> str:
        """The visitor id a token was issued for; a missing, altered, forged or expired token is refused."""
        return self._verify(token)[0]

    def _verify(self, token: str | None) -> tuple[str, float]:
        """(visitor, when the token was signed)."""
        stamped, _, signature = (token or "").rpartition(".")
        visitor, _, issued = stamped.rpartition(".")
        try:
            when = int(issued, 16)
        except ValueError:
            raise StylistError(NO_VISITOR) from None
        if (not visitor or not hmac.compare_digest(signature, self._signature(stamped))
                or not -60 < time.time() - when < TOKEN_DAYS * 86400):
            raise StylistError(NO_VISITOR)
        return visitor, when

    def renew(self, token: str | None, login: str | None = None, address: str | None = None) -> str:
        """The token a page keeps on load: its own if still valid (and of this login), re-signed once a day so an
        active visitor's never expires; else a new one."""
        try:
            visitor, when = self._verify(token)
        except StylistError:
            visitor, when = self._unstamped(token), 0
        if visitor is None:
            return self.issue(login, address)
        if login not in (None, visitor):
            return self.issue(login, address)
        self._seen(visitor, address)
        return token if time.time() - when < ROTATE_SECONDS else self.sign(visitor)

    def _unstamped(self, token: str | None) -> str | None:
        """The visitor of a validly signed token of the earlier format without a time (None for any other), so
        pages opened before tokens expired keep their visitor and votes: renewing re-signs it with a time."""
        visitor, _, signature = (token or "").rpartition(".")
        return visitor if visitor and hmac.compare_digest(signature, self._signature(visitor)) else None

    def address(self, visitor: str) -> str | None:
        """The network address that last loaded this visitor's page (None: not since this process started)."""
        return self._addresses.get(visitor)

    def _seen(self, visitor: str, address: str | None) -> None:
        if address:
            with self._lock:
                self._addresses[visitor] = address
                self._addresses.move_to_end(visitor)
                while len(self._addresses) > ADDRESSES_KEPT:
                    self._addresses.popitem(last=False)

    def name(self, visitor: str) -> str:
        """The display name, else one made from the id (nothing is stored until the visitor sets a name, so
        opening pages does not grow the file); a login's name is the login."""
        name = self.store.visitor(visitor)[0]
        return name or (f"guest-{visitor[2:6]}" if visitor.startswith("v-") else clean_user(visitor))

    def sharing(self, visitor: str) -> bool:
        return self.store.visitor(visitor)[1]

    def rename(self, visitor: str, name: str | None) -> str:
        """Set the display name (cleaned as every name shown to others); returns it."""
        name = clean_user(name)
        self.store.set_visitor(visitor, name=name)
        return name

    def share(self, visitor: str, on: bool) -> None:
        """Whether others with similar taste see this visitor's display name (off until the visitor says so)."""
        self.store.set_visitor(visitor, share=bool(on))

    def shown_as(self, visitor: str, anonymous: str) -> str:
        """How this visitor appears to others: the display name with consent, else `anonymous`."""
        return self.name(visitor) if self.sharing(visitor) else anonymous

    def _signature(self, visitor: str) -> str:
        return hmac.new(self._key, visitor.encode(), hashlib.sha256).hexdigest()[:32]


def install_secret(data: Path, name: str) -> str:
    """A signing key (hex) of this install: derived from `$STYLIST_SECRET` when set (every replica then has the
    same), else kept in `<data>/<name>`."""
    shared = os.environ.get("STYLIST_SECRET")
    if shared is None:
        key = secret_file(data / name)
        if len(key) < 32:
            raise StylistError(f"{data / name}: the signing key is too short; delete it and restart (visitors get new "
                               "ids)")
        return key
    if len(shared) < 32:
        raise StylistError("$STYLIST_SECRET is too short: give every replica the same random text of at least 32 "
                           "characters (e.g. `openssl rand -hex 32`)")
    return hmac.new(shared.encode(), name.encode(), hashlib.sha256).hexdigest()


def _import_names(path: Path, store: FeedbackStore) -> None:
    """Move the display names an earlier version kept in `visitors.json` into the store, once: the file is then
    renamed `.imported` (names already in the store win)."""
    if not path.exists():
        return
    try:
        profiles = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StylistError(f"{path}: cannot read the display names to import ({exc}); fix or move it aside") from exc
    added = store.add_visitors(profiles)
    with writing(path.parent):
        os.replace(path, path.with_name(path.name + ".imported"))
    print(f"imported {added} display names from {path} into the feedback store {store.location} (the file is kept "
          f"as {path.name}.imported)", file=sys.stderr)


def secret_file(path: Path) -> str:
    """A per-install random key (hex) kept in `path`, created once and readable by this user only (an older
    file is narrowed to that too)."""
    with writing(path.parent):
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
        elif path.stat().st_mode & 0o077:
            path.chmod(0o600)
    return path.read_text().strip()
