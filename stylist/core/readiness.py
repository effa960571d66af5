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

from stylist.core.feedback import (EVENT_COLUMNS, FeedbackStore, Readiness, build_pairs, build_votes, event_of_row,
                                   held_out)

SKEW = 60.0  # seconds: the clock difference and commit delay between replicas that a refresh tolerates
BATCH = 200  # contexts read per query


class ReadinessCounter:
    """Pairs (DPO) and votes (KTO) per user and outfit context of one store, for `readiness`."""

    def __init__(self, store: FeedbackStore, max_unpicked: int = 4):
        self.store, self.max_unpicked = store, max_unpicked
        self._counts: dict[tuple[str, str], tuple[int, int]] = {}  # (user, context) -> (pairs, votes)
        self._last_id: int | None = None  # None: not read yet
        self._since = 0.0
        self._lock = threading.Lock()

    def readiness(self, method: str, min_pairs: int, heldout_percent: int) -> Readiness:
        """The same figures as `feedback.readiness(training_examples(store, method))`, from the counts."""
        with self._lock:
            self._refresh()
            column = 1 if method == "kto" else 0
            counted = {group: counts[column] for group, counts in self._counts.items() if counts[column]}
        train = sum(n for (_, key), n in counted.items() if not held_out(key, heldout_percent))
        return Readiness(sum(counted.values()), len({user for user, _ in counted}), train, min_pairs,
                         "vote" if method == "kto" else "preference pair")

    def _refresh(self) -> None:
        started = time.time()
        with self.store._transaction() as db:
            if self._last_id is None:
                changed = None  # every context
                last = db.execute("SELECT MAX(id) FROM events").fetchone()[0] or 0
            else:
                since = self._since - SKEW
                changed = {tuple(row) for row in db.execute(
                    'SELECT DISTINCT "user", context_key FROM events WHERE id > ? OR time >= ? OR undone_at >= ?',
                    (self._last_id, since, since))}
                last = max([self._last_id, *[row[0] for row in db.execute("SELECT MAX(id) FROM events")
                                                 if row[0] is not None]])
            events = self._read(db, changed)
        groups: dict[tuple[str, str], list] = {group: [] for group in changed or ()}
        for event in events:
            groups.setdefault((event.user, event.context.key), []).append(event)
        for group, found in groups.items():
            self._counts[group] = (len(build_pairs(found, self.max_unpicked)), len(build_votes(found)))
        self._last_id, self._since = last, started

    @staticmethod
    def _read(db, changed: set[tuple[str, str]] | None) -> list:
        """The active events of the `changed` contexts (None: all)."""
        query = f"SELECT {EVENT_COLUMNS} FROM events WHERE undone_at IS NULL"
        if changed is None:
            return [event_of_row(row) for row in db.execute(query)]
        groups, rows = sorted(changed), []
        for start in range(0, len(groups), BATCH):
            batch = groups[start:start + BATCH]
            pairs = ", ".join(["(?, ?)"] * len(batch))
            rows += db.execute(f'{query} AND ("user", context_key) IN (VALUES {pairs})',
                               [value for group in batch for value in group]).fetchall()
        return [event_of_row(row) for row in rows]
