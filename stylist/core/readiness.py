"""How far the recorded feedback is from a refine, kept up to date from what changed: the Refine tab asks at every
change of the run's state and on every visit, and rebuilding every pair of 100k events takes seconds (and holds
the interpreter while a recommendation waits).

The pair and vote rules (feedback.py) never look beyond one user's one outfit context, so the counts are kept per
(user, context) and a refresh rebuilds only the contexts with an event added or undone since the last one: new
ids, and, because ids may commit out of order on a server and clocks of replicas differ by a little,
every event cast or undone within `SKEW` seconds before the last refresh. The first refresh reads the table once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from stylist.core.feedback import (
    EVENT_COLUMNS,
    Event,
    FeedbackStore,
    Readiness,
    bucket,
    build_pairs,
    build_votes,
    event_of_row,
)

SKEW = 60.0  # seconds: the clock difference and commit delay between replicas that a refresh tolerates
BATCH = 200  # contexts read per query


class ReadinessCounter:
    """Pairs (DPO) and votes (KTO) per user and outfit context of one store, for `readiness`; kept summed by the
    context's held-out bucket and by user, so a readiness costs the same at any size."""

    def __init__(self, store: FeedbackStore, max_unpicked: int = 4):
        self.store, self.max_unpicked = store, max_unpicked
        self._per_context: dict[tuple[str, str], tuple[int, int]] = {}  # (user, context) -> (pairs, votes)
        self._buckets = [[0] * 100, [0] * 100]  # per method (pairs, votes): examples by their context's bucket
        self._users: list[Counter] = [Counter(), Counter()]  # per method: user -> contexts with an example
        self._last_id: int | None = None  # None: not read yet
        self._since = 0.0
        self._lock = threading.Lock()

    def readiness(self, method: str, min_pairs: int, heldout_percent: int) -> Readiness:
        """The same figures as `feedback.readiness(training_examples(store, method))`, from the counts."""
        m = 1 if method == "kto" else 0
        with self._lock:
            self._refresh()
            buckets, users = self._buckets[m], len(self._users[m])
            return Readiness(sum(buckets), users, sum(buckets[max(0, heldout_percent):]), min_pairs,
                             "vote" if m else "preference pair")

    def _refresh(self) -> None:
        started = time.time()
        with self.store.reading() as db:
            if self._last_id is None:
                changed = None  # every context
            else:
                since = self._since - SKEW
                changed = {tuple(row) for row in db.execute(  # one query per index
                    'SELECT "user", context_key FROM events WHERE id > ? UNION SELECT "user", context_key FROM events '
                    'WHERE time >= ? UNION SELECT "user", context_key FROM events WHERE undone_at >= ?',
                    (self._last_id, since, since))}
            last = db.execute("SELECT MAX(id) FROM events").fetchone()[0] or 0
            events = self._read(db, changed)
        pairs = Counter((p.user, p.context_key) for p in build_pairs(events, self.max_unpicked))
        votes = Counter((v.user, v.context_key) for v in build_votes(events))
        for group in (changed or set()) | set(pairs) | set(votes):
            self._set(group, (pairs[group], votes[group]))
        self._last_id, self._since = max(last, self._last_id or 0), started

    def _set(self, group: tuple[str, str], counts: tuple[int, int]) -> None:
        old = self._per_context.get(group, (0, 0))
        where = bucket(group[1])
        for m in (0, 1):
            self._buckets[m][where] += counts[m] - old[m]
            if bool(counts[m]) != bool(old[m]):
                self._users[m][group[0]] += 1 if counts[m] else -1
                if not self._users[m][group[0]]:
                    del self._users[m][group[0]]
        self._per_context[group] = counts

    @staticmethod
    def _read(db, changed: set[tuple[str, str]] | None) -> list[Event]:
        """The active events of the `changed` contexts (None: all). Undone ones are dropped here, not in the
        query, so that SQLite looks the contexts up by their index rather than scanning the not-undone rows."""
        query = f"SELECT {EVENT_COLUMNS} FROM events"
        if changed is None:
            return [event_of_row(row) for row in db.execute(query + " WHERE undone_at IS NULL")]
        groups, rows = sorted(changed), []
        for start in range(0, len(groups), BATCH):
            batch = groups[start:start + BATCH]
            each = " OR ".join(['("user" = ? AND context_key = ?)'] * len(batch))  # an index look-up each
            rows += db.execute(f"{query} WHERE {each}", [value for group in batch for value in group]).fetchall()
        return [event for event in map(event_of_row, rows) if event.undone_at is None]
