"""Likes and dislikes: recorded at once, taken back, listed, exported as trl pairs, compared between users."""

from __future__ import annotations

import tempfile
from pathlib import Path

from stylist.app.access import Access, clean_user
from stylist.app.style import Card
from stylist.core.feedback import Event, FeedbackStore, Option, write_jsonl
from stylist.models.preference import PreferenceModel


class Votes:
    """One visitor's votes and everyone's preference pairs, over the SQLite feedback store."""

    def __init__(self, access: Access, store: FeedbackStore, preference: PreferenceModel | None):
        self.access, self.store, self.preference = access, store, preference

    def vote(self, user: str, card: Card, label: str) -> int:
        """Record a like or dislike (with what else was shown: DPO's negatives, and the adapter version that made
        the suggestion); returns the event id."""
        event = self.store.record(clean_user(user), card.context, Option(card.item_id, card.text), label,
                                  options=[Option(i, t) for i, t in card.shown], adapter_version=card.adapter_version)
        return event.id

    def undo(self, user: str, event_id: int) -> None:
        self.store.undo(event_id, user=clean_user(user))

    def history(self, user: str) -> list[Event]:
        return self.store.events(clean_user(user))

    def counts(self, user: str) -> dict[str, int]:
        return self.store.counts(clean_user(user))

    def export(self, password: str | None) -> Path:
        """Everyone's preference pairs as trl JSONL (prompt, chosen, rejected), in a fresh temporary file:
        the data folder itself is never served."""
        self.access.check_admin(password, "exporting feedback")
        pairs = self.store.pairs()  # read before a file exists: a failed read leaves nothing behind
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", prefix="stylist-preferences-", suffix=".jsonl",
                                         delete=False) as out:
            write_jsonl(pairs, out)
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
