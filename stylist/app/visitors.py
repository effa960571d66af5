"""Who a visitor is: a server-issued, signed id, and the display name the visitor chose.

A page never names its visitor: on page load the server issues a random id signed with HMAC (key kept in
`<data>/visitor-secret`, never served and never sent to a page), the browser keeps the token and sends it back,
and every action verifies the signature before it reads or writes anyone's votes. With Gradio's login
(`--auth`), the login name is the id. The name box only sets a display name, shown to others only with the
visitor's consent; the feedback store keys votes by the verified id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from pathlib import Path

from stylist.app.access import clean_user
from stylist.core.errors import StylistError
from stylist.core.paths import writing

NO_VISITOR = "this page has no valid visitor id: reload the page"


class Visitors:
    """Issue and verify visitor tokens; keep each visitor's display name and sharing choice in the data folder."""

    def __init__(self, data: Path):
        self.path = data / "visitors.json"
        self._key = _secret(data / "visitor-secret")
        self._lock = threading.Lock()  # one writer at a time for the names file
        self._profiles: dict[str, dict] = json.loads(self.path.read_text()) if self.path.exists() else {}

    def issue(self, login: str | None = None) -> str:
        """A token for the signed-in `login`, or for a fresh random visitor."""
        return self.sign(login or f"v-{secrets.token_hex(8)}")

    def sign(self, visitor: str) -> str:
        return f"{visitor}.{self._signature(visitor)}"

    def verify(self, token: str | None) -> str:
        """The visitor id a token was issued for; a missing, altered or forged token is refused."""
        visitor, _, signature = (token or "").rpartition(".")
        if not visitor or not hmac.compare_digest(signature, self._signature(visitor)):
            raise StylistError(NO_VISITOR)
        return visitor

    def renew(self, token: str | None, login: str | None = None) -> str:
        """The token a page keeps on load: its own if still valid (and of this login), else a new one."""
        try:
            visitor = self.verify(token)
        except StylistError:
            return self.issue(login)
        return token if login in (None, visitor) else self.issue(login)

    def name(self, visitor: str) -> str:
        """The display name, else one made from the id (nothing is stored until the visitor sets a name, so
        opening pages does not grow the file); a login's name is the login."""
        name = self._profiles.get(visitor, {}).get("name")
        return name or (f"guest-{visitor[2:6]}" if visitor.startswith("v-") else clean_user(visitor))

    def sharing(self, visitor: str) -> bool:
        return bool(self._profiles.get(visitor, {}).get("share"))

    def rename(self, visitor: str, name: str | None) -> str:
        """Set the display name (cleaned as every name shown to others); returns it."""
        name = clean_user(name)
        self._update(visitor, name=name)
        return name

    def share(self, visitor: str, on: bool) -> None:
        """Whether others with similar taste see this visitor's display name (off until the visitor says so)."""
        self._update(visitor, share=bool(on))

    def shown_as(self, visitor: str, anonymous: str) -> str:
        """How this visitor appears to others: the display name with consent, else `anonymous`."""
        return self.name(visitor) if self.sharing(visitor) else anonymous

    def _update(self, visitor: str, **changes) -> None:
        with self._lock:
            profile = {"name": None, "share": False, **self._profiles.get(visitor, {}), **changes}
            self._profiles[visitor] = profile
            with writing(self.path.parent):
                tmp = self.path.with_name(self.path.name + ".tmp")
                tmp.write_text(json.dumps(self._profiles, indent=1))
                os.replace(tmp, self.path)  # write-then-rename: a crash never leaves half a file

    def _signature(self, visitor: str) -> str:
        return hmac.new(self._key, visitor.encode(), hashlib.sha256).hexdigest()[:32]


def _secret(path: Path) -> bytes:
    """The per-install signing key, created once, readable by this user only."""
    if not path.exists():
        with writing(path.parent):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
    key = bytes.fromhex(path.read_text().strip() or "00")
    if len(key) < 16:
        raise StylistError(f"{path}: the signing key is too short; delete it and restart (visitors get new ids)")
    return key
