"""Likes and dislikes: recorded at once, taken back, listed, exported (trl pairs or a dataset), compared between
visitors.

Every method that reads or writes one visitor's votes takes the visitor's signed token (visitors.py), never a
name: a visitor sees, undoes and casts only their own votes.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from stylist.app.access import Access, RateLimit
from stylist.app.model_thread import ModelThread
from stylist.app.suggestions import Card
from stylist.app.visitors import Visitors
from stylist.core.errors import StylistError
from stylist.core.feedback import LABELS, Event, FeedbackStore, Option, write_jsonl

if TYPE_CHECKING:
    from stylist.models.preference import PreferenceModel


EXPORT_FORMS = ("trl", "dataset")
HISTORY_SHOWN = 200  # votes a visitor's Feedback table lists
SIMILAR_FROM = 5000  # latest votes of everyone that "similar taste" compares: a refresh costs the same at 100k


class Votes:
    """Each visitor's votes and everyone's preference pairs, over the SQLite feedback store."""

    def __init__(self, access: Access, store: FeedbackStore, preference: PreferenceModel | None, visitors: Visitors,
                 models: ModelThread):
        self.access, self.store, self.preference, self.visitors = access, store, preference, visitors
        self.models = models
        # so no one visitor (nor one address minting visitor ids) dominates what a refine learns
        self._rate = RateLimit("votes", access.config, visitor="votes_per_minute",
                               address="votes_per_minute_per_address")

    def vote(self, token: str | None, card: Card, label: str, replaces: int | None = None) -> int:
        """Record a like or dislike (with what else was shown: DPO's negatives, and the adapter version that made
        the suggestion); returns the event id. `replaces`: this visitor's vote it switches, taken back in the same
        transaction. Every limit is checked before anything is written, so a refused vote changes nothing."""
        visitor = self.visitors.verify(token)
        if label not in LABELS:
            raise StylistError(f"label must be one of {', '.join(LABELS)}, got {str(label)[:20]!r}")
        give_back = self._rate.take(visitor=visitor, address=self.visitors.address(visitor))
        try:
            event = self.store.record(visitor, card.context, Option(card.item_id, card.text), label,
                                      options=[Option(i, t) for i, t in card.shown],
                                      adapter_version=card.adapter_version, replaces=replaces)
        except BaseException:
            give_back()
            raise
        return event.id

    def click(self, token: str | None, card: Card, label: str, previous: tuple[str, int] | None) -> int | None:
        """A Like/Dislike button: a new vote, a switch of `previous` (its label and event) to the other label, or,
        on the same button again, `previous` taken back (None). One change, made whole or not at all."""
        if previous and previous[0] == label:
            self.undo(token, previous[1])
            return None
        return self.vote(token, card, label, replaces=previous[1] if previous else None)

    def undo(self, token: str | None, event_id: int) -> None:
        """Take back one of this visitor's votes; someone else's vote (or no vote) is refused."""
        visitor = self.visitors.verify(token)
        if self.store.undo(event_id, user=visitor):
            return
        if not any(e.id == event_id for e in self.store.events(visitor, include_undone=True)):
            raise StylistError(f"vote #{event_id} is not one of your votes: you can take back only your own")

    def history(self, token: str | None) -> list[Event]:
        """This visitor's latest votes (`HISTORY_SHOWN` at most: the page is a table, not an archive)."""
        return self.store.events(self.visitors.verify(token), limit=HISTORY_SHOWN)

    def counts(self, token: str | None) -> dict[str, int]:
        return self.store.counts(self.visitors.verify(token))

    def export(self, password: str | None, form: str = "trl") -> Path:
        """Everyone's feedback for the admin only: "trl", the preference pairs as trl JSONL (prompt, chosen,
        rejected); "dataset", a zip of the dataset folder (`core/feedback_dataset.py`: votes, pairs and unpaired
        votes as parquet, with a dataset card). Written in a fresh temporary folder that is deleted after
        `export_seconds`: the data folder itself is never served."""
        self.access.check_admin(password, "exporting feedback")
        if form not in EXPORT_FORMS:
            raise StylistError(f"unknown export format {str(form)[:40]!r}: choose {' or '.join(EXPORT_FORMS)}")
        pairs = self.store.pairs()  # read before a file exists: a failed read leaves nothing behind
        folder = Path(tempfile.mkdtemp(prefix="stylist-export-"))
        remove_later(folder, self.access.config.export_seconds)
        if form == "dataset":
            from stylist.core.feedback_dataset import export_dataset

            export_dataset(self.store, folder / "stylist-feedback", catalog=self.access.config.catalog)
            return Path(shutil.make_archive(str(folder / "stylist-feedback"), "zip", folder, "stylist-feedback"))
        path = folder / "stylist-preferences.jsonl"
        with open(path, "w", encoding="utf-8") as out:
            write_jsonl(pairs, out)
        return path

    def similar_users(self, token: str | None, n: int = 5) -> list[tuple[str, float]]:
        """Visitors whose like/dislike history is closest to this visitor's (empty until there is a history),
        by display name where they agreed to show it, else as "visitor 1", "visitor 2", ..."""
        visitor = self.visitors.verify(token)
        histories: dict[str, tuple[list[str], list[str]]] = {}
        for event in self.store.events(limit=SIMILAR_FROM):  # newest first, as the preference model reads one
            liked, disliked = histories.setdefault(event.user, ([], []))
            (liked if event.label == "like" else disliked).append(event.item_text)
        if self.preference is None or visitor not in histories:
            return []
        near = self.models.run(self.preference.similar_users, histories, visitor, k=n)
        return [(self.visitors.shown_as(other, f"visitor {rank}"), score)
                for rank, (other, score) in enumerate(near, 1)]


def remove_later(path: Path, seconds: float) -> None:
    """Delete a file or folder after `seconds` (a daemon timer: a stopped app leaves it to the OS's temp cleanup)."""
    def remove():
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    timer = threading.Timer(seconds, remove)
    timer.daemon = True
    timer.start()

