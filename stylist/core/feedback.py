"""Likes and dislikes: a SQLite store of click events, the DPO preference pairs and the KTO votes built from them.

    python -m stylist export-feedback --format trl [--user U] [--out pairs.jsonl] [--data-dir D]
    python -m stylist export-feedback --format dataset --out feedback-dataset/   # parquet + a dataset card
    python -m stylist import-feedback feedback-dataset/ [--data-dir D]           # pool another demo's votes

The store lives in the data folder (`--data-dir`, `$STYLIST_DATA_DIR`), never in `checkpoints/`. Every
click is committed in its own transaction (WAL journal, so readers such as a running refine never block
the app's writes); undoing a click marks it undone instead of deleting it, so nothing recorded is lost.
Opening runs SQLite's integrity check: a damaged store is reported with how to recover it and is never
overwritten; a read-only data folder still serves history and pairs, and only the writes are refused.

Pair rule (what `pairs()` turns events into; the prompt is `prompts.outfit_prompt(context)`):
  1. Within one user's context (same captions, occasion, season and missing slot), only the latest
     not-undone click per item counts.
  2. liked vs disliked: every liked item is `chosen` against every disliked item of that context.
  3. liked vs shown but not picked: every liked item is also `chosen` against the candidates that were
     shown in that context and got no click at all (the method's negative examples: what the model
     offered and the user passed over), at most `max_unpicked` of them per liked item, best-ranked first.
  A context with no like gives no pair: a dislike alone says what is wrong, not what is right.
  Identical (prompt, chosen, rejected) triples are kept once per user.

Vote rule (what `votes()` turns events into, for KTO, which learns from unpaired labels): every latest
not-undone click per user, context and item is one example, the clicked item's caption labelled desirable (like)
or not (dislike); so a dislike teaches even when nothing beside it was liked.

Every vote has an id unique across instances, `<instance>:<number>`: the store's own instance id (made once,
kept in its `meta` table) and the event's number, or, for a vote imported from another instance's export, the
id it had there (`origin`, `origin_id`), so pooling the same export twice adds nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

from stylist.core.errors import StylistError
from stylist.core.options import summary
from stylist.core.paths import data_dir, writing
from stylist.core.prompts import completion, outfit_prompt

LABELS = ("like", "dislike")
DB_NAME = "feedback.sqlite"

SCHEMA_VERSION = 3  # 1: events and meta; 2: + origin columns (pooled imports); 3: + visitors (display names) and
# the readiness indexes
_SCHEMA = """
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    "user" TEXT NOT NULL,
    time REAL NOT NULL,
    context_key TEXT NOT NULL,
    context TEXT NOT NULL,
    options TEXT NOT NULL,
    item_id TEXT NOT NULL,
    item_text TEXT NOT NULL,
    adapter_version INTEGER,
    label TEXT NOT NULL CHECK (label IN ('like', 'dislike')),
    undone_at REAL
);
CREATE INDEX events_user ON events ("user", time);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
COLUMNS = ["id", "user", "time", "context_key", "context", "options", "item_id", "item_text", "adapter_version",
           "label", "undone_at"]
# columns added in schema 2: a store made before them gains them when it is opened
ADDED_COLUMNS = {"origin": "TEXT", "origin_id": "INTEGER"}
ORIGIN_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS events_origin ON events (origin, origin_id) WHERE origin IS NOT NULL"
# what a refresh of the refine readiness looks up (readiness.py): events by context, new and undone ones by time
READINESS_INDEXES = ['CREATE INDEX IF NOT EXISTS events_context ON events ("user", context_key)',
                     "CREATE INDEX IF NOT EXISTS events_time ON events (time)",
                     # partial: a plain one would be the planner's pick for `undone_at IS NULL`, most of the table
                     "CREATE INDEX IF NOT EXISTS events_undone ON events (undone_at) WHERE undone_at IS NOT NULL"]
VISITORS_TABLE = ("CREATE TABLE IF NOT EXISTS visitors (id TEXT PRIMARY KEY, name TEXT, "
                  "share INTEGER NOT NULL DEFAULT 0)")
TABLES = {"events", "meta", "visitors"}
EVENT_COLUMNS = ", ".join(f'"{c}"' for c in COLUMNS + list(ADDED_COLUMNS))  # "user" is a keyword in PostgreSQL


@dataclass(frozen=True)
class Context:
    """What the model was asked: the captions present, the wanted slot and optional occasion/season."""

    captions: tuple[str, ...]
    slot: str | None = None
    occasion: str | None = None
    season: str | None = None

    @property
    def prompt(self) -> str:
        return outfit_prompt(self.captions, self.slot, self.occasion, self.season)

    @property
    def key(self) -> str:
        """Two clicks share a context when the model saw the same prompt."""
        return hashlib.sha1(self.prompt.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Option:
    """One candidate the model offered (and the page showed) for a context."""

    id: str
    text: str


@dataclass
class Event:
    id: int
    user: str
    time: float
    context: Context
    options: list[Option]
    item_id: str
    item_text: str
    adapter_version: int | None
    label: str
    undone_at: float | None = None
    origin: str | None = None  # the instance the vote was cast on, when imported
    origin_id: int | None = None  # its number there

    def vote_id(self, instance: str) -> str:
        """The id that names this vote in every instance's store (`instance`: this store's)."""
        return f"{self.origin}:{self.origin_id}" if self.origin else f"{instance}:{self.id}"


@dataclass
class Pair:
    """One DPO example; `user` and `context_key` let refine hold out whole contexts for evaluation."""

    prompt: str
    chosen: str
    rejected: str
    user: str = ""
    context_key: str = ""

    def trl(self) -> dict[str, str]:
        """The row trl's DPOTrainer and `datasets` read as they are (standard, non-conversational format)."""
        return {"prompt": self.prompt, "chosen": self.chosen, "rejected": self.rejected}


@dataclass
class Vote:
    """One KTO example: a clicked suggestion's caption after its outfit prompt, labelled by the click."""

    prompt: str
    completion: str
    label: bool
    user: str = ""
    context_key: str = ""

    def trl(self) -> dict[str, str | bool]:
        """The row trl's KTOTrainer and `datasets` read as they are (standard, unpaired format)."""
        return {"prompt": self.prompt, "completion": self.completion, "label": self.label}


class FeedbackStore:
    """Click events and visitors' display names in `<data folder>/feedback.sqlite`: SQLite, the embedded default.
    `PostgresStore` (feedback_pg.py) runs the same queries on a server that several app replicas share; this
    class holds them, written once in the SQL both read (`?` parameters, `"user"` quoted). Safe to open from
    several processes at once."""

    location: str  # what a line about the store names
    shared = False  # True: a server several replicas use, which also holds the active adapter version

    def __init__(self, path: str | Path | None = None):
        path = Path(path) if path is not None else data_dir() / DB_NAME
        self.path = path if path.suffix else path / DB_NAME
        self.location = str(self.path)
        try:
            with writing(self.path.parent):
                self.path.parent.mkdir(parents=True, exist_ok=True)
                new = _create_private(self.path)
                try:
                    with self._connect() as db:
                        if not new:
                            self._check(db)  # before anything is written: a refused store keeps every byte
                        db.execute("PRAGMA journal_mode=WAL")
                    self._open_schema()
                except BaseException:
                    if new:
                        self.path.unlink(missing_ok=True)
                    raise
        except sqlite3.DatabaseError as exc:  # left as it is: it may hold someone's votes
            raise StylistError(f"{self.path}: not a stylist feedback database ({exc}); it is left as it is: move it "
                               "aside or pass another --data-dir to start fresh") from exc

    def _check(self, db: sqlite3.Connection) -> None:
        """Refuse an existing file that is empty, damaged or of another schema: votes are never replaced by a
        fresh store without the user saying so."""
        if self.path.stat().st_size == 0:
            raise StylistError(f"{self.path}: the feedback database is empty (0 bytes), as a truncated copy is; it is "
                               "left as it is. To start fresh on purpose, delete it (or pass another --data-dir)")
        report = [row[0] for row in db.execute("PRAGMA quick_check(3)")]
        if report != ["ok"]:  # the report's lines name the damaged pages under a heading
            problems = [line for row in report for line in row.splitlines() if not line.startswith("***")]
            raise self._damaged("; ".join(problems or report))
        self._refuse_newer(self._schema_found(db))
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        columns = [row[1] for row in db.execute("PRAGMA table_info(events)")]
        if tables - TABLES - {"sqlite_sequence"} or (
                tables and columns not in (COLUMNS, COLUMNS + list(ADDED_COLUMNS))):
            found = ", ".join(sorted(tables))[:120]
            raise StylistError(f"{self.path}: not a stylist feedback database (its tables: {found}); it is left as it "
                               "is: move it aside or pass another --data-dir to start fresh")

    def _open_schema(self) -> None:
        """Create the tables of a new store or upgrade an older one to `SCHEMA_VERSION`, in one transaction (one
        line says which); a store of a newer schema is refused before anything is written."""
        with self._write() as db:
            found = self._schema_found(db)
            self._refuse_newer(found)
            if found != SCHEMA_VERSION:
                self._migrate(db, found)
                db.execute("INSERT INTO meta (key, value) VALUES ('schema', ?) ON CONFLICT (key) DO UPDATE SET "
                           "value = excluded.value", (str(SCHEMA_VERSION),))
            if db.execute("SELECT 1 FROM meta WHERE key = 'instance'").fetchone() is None:
                db.execute("INSERT INTO meta (key, value) VALUES ('instance', ?)", (uuid.uuid4().hex[:12],))
        if found != SCHEMA_VERSION:
            done = "created" if found is None else f"upgraded from schema {found}"
            print(f"feedback store {self.location}: {done} to schema {SCHEMA_VERSION}", file=sys.stderr)

    def _refuse_newer(self, found: int | None) -> None:
        if found is not None and found > SCHEMA_VERSION:
            raise StylistError(f"{self.location}: the feedback store has schema {found}, newer than this stylist reads "
                               f"({SCHEMA_VERSION}); it is left as it is: upgrade stylist, or use another store")

    @staticmethod
    def _schema_found(db: sqlite3.Connection) -> int | None:
        """The store's schema version (None: no tables yet); a store made before versions were recorded is read
        from its columns."""
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "events" not in tables:
            return None
        row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() if "meta" in tables else None
        if row is not None:
            return int(row[0])
        return 2 if "origin" in {row[1] for row in db.execute("PRAGMA table_info(events)")} else 1

    @staticmethod
    def _migrate(db: sqlite3.Connection, found: int | None) -> None:
        """Schema `found` (None: nothing) -> `SCHEMA_VERSION`, inside the caller's transaction."""
        if found is None:
            for statement in _SCHEMA.split(";")[:-1]:
                db.execute(statement)
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        present = {row[1] for row in db.execute("PRAGMA table_info(events)")}
        for column, kind in ADDED_COLUMNS.items():
            if column not in present:
                db.execute(f"ALTER TABLE events ADD COLUMN {column} {kind}")
        db.execute(ORIGIN_INDEX)
        db.execute(VISITORS_TABLE)
        for statement in READINESS_INDEXES:
            db.execute(statement)

    def _damaged(self, detail: str) -> StylistError:
        """The one line for a store SQLite reads as corrupt: it says how to save the votes still in it."""
        recovered = self.path.with_name(f"{self.path.stem}-recovered{self.path.suffix}")
        detail = " ".join(detail.split())[:120]  # quick_check's report spans lines
        return StylistError(f"{self.path}: the feedback database is damaged ({detail}); it is left as it is. "
                            f"Recover the votes with `sqlite3 {self.path} .recover | sqlite3 {recovered}`, then move "
                            f"the damaged file aside and rename {recovered.name} to {self.path.name} (or pass another "
                            "--data-dir to start empty)")

    @contextmanager
    def _connect(self, reading: bool = False) -> Iterator[sqlite3.Connection]:
        """One connection per call: no state shared between the app's threads, commit or roll back on exit. A read
        the disk refuses (a data folder turned read-only or gone) is one line here; a refused write is named by
        `writing`, around it."""
        try:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            try:
                db.execute("PRAGMA synchronous=FULL")  # a click the page shows as recorded survives a power cut
                yield db
            finally:
                db.close()
        except sqlite3.DatabaseError as exc:  # damage found after opening, e.g. by a read
            if (getattr(exc, "sqlite_errorname", None) or "").startswith("SQLITE_CORRUPT"):
                raise self._damaged(str(exc)) from exc
            if reading and isinstance(exc, sqlite3.OperationalError):
                raise StylistError(f"cannot read the feedback database {self.path} ({exc}); the data folder must be "
                                   "readable and writable (SQLite writes its index beside it): fix it or pass "
                                   "another --data-dir") from exc
            raise

    def reading(self):
        """One transaction to read in (a consistent view of the events), for readers outside the store."""
        return self._transaction()

    @contextmanager
    def _transaction(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        with self._connect(reading=not immediate) as db:
            db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            try:
                yield db
            except BaseException:
                if db.in_transaction:  # SQLite already rolled back after some errors (a full disk)
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; a read-only or full data folder is reported as one line naming it."""
        with writing(self.path.parent), self._transaction(immediate=True) as db:
            yield db

    def record(self, user: str, context: Context, item: Option, label: str, options: Sequence[Option] = (),
               adapter_version: int | None = None, replaces: int | None = None) -> Event:
        """Store one click; when this returns, the event is committed to disk. `replaces`: the user's earlier
        vote this one switches (like -> dislike), taken back in the same transaction, so a refused or failed
        switch leaves both as they were."""
        user = user.strip()
        if not user:
            raise StylistError("feedback needs a user name")
        if label not in LABELS:
            raise StylistError(f"label must be one of {', '.join(LABELS)}, got {label!r}")
        options = list(options) or [item]
        _refuse_nul(user, item.id, item.text)
        now = time.time()
        with self._write() as db:
            if replaces is not None and db.execute('SELECT 1 FROM events WHERE id = ? AND "user" = ?',
                                                   (replaces, user)).fetchone() is None:
                raise StylistError(f"vote #{replaces} is not one of your votes: you can change only your own")
            if replaces is not None:
                self._take_back(db, replaces, user)
            event_id = db.execute(
                'INSERT INTO events ("user", time, context_key, context, options, item_id, item_text, adapter_version,'
                " label) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (user, now, context.key, json.dumps(asdict(context)), json.dumps([asdict(o) for o in options]),
                 item.id, item.text, adapter_version, label)).fetchone()[0]
        return Event(event_id, user, now, context, options, item.id, item.text, adapter_version, label)

    def undo(self, event_id: int, user: str | None = None) -> bool:
        """Retract a click (kept in the table, marked undone). False if there was nothing to undo."""
        with self._write() as db:
            return self._take_back(db, event_id, user)

    @staticmethod
    def _take_back(db: sqlite3.Connection, event_id: int, user: str | None) -> bool:
        """Mark a vote undone inside a write transaction (of `user` only, when given); False if nothing changed."""
        query, args = "UPDATE events SET undone_at = ? WHERE id = ? AND undone_at IS NULL", [time.time(), event_id]
        if user is not None:
            query, args = query + ' AND "user" = ?', args + [user]
        return db.execute(query, args).rowcount > 0

    def events(self, user: str | None = None, include_undone: bool = False, limit: int | None = None) -> list[Event]:
        """Events, newest first; all users when `user` is None."""
        where, args = [], []
        if user is not None:
            where.append('"user" = ?')
            args.append(user)
        if not include_undone:
            where.append("undone_at IS NULL")
        query = f"SELECT {EVENT_COLUMNS} FROM events" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        with self._transaction() as db:  # one read transaction: a consistent snapshot
            rows = db.execute(query, args).fetchall()
        return [event_of_row(row) for row in rows]

    def counts(self, user: str | None = None) -> dict[str, int]:
        """Active likes and dislikes, and undone clicks, for one user or everyone."""
        where, args = ('WHERE "user" = ?', [user]) if user is not None else ("", [])
        with self._transaction() as db:
            rows = db.execute(f"SELECT label, undone_at IS NOT NULL, COUNT(*) FROM events {where} "
                              "GROUP BY label, undone_at IS NOT NULL", args).fetchall()
        counts = {"like": 0, "dislike": 0, "undone": 0}
        for label, undone, n in rows:
            counts["undone" if undone else label] += n
        return counts

    def users(self) -> list[str]:
        with self._transaction() as db:
            return [row[0] for row in db.execute('SELECT DISTINCT "user" FROM events ORDER BY "user"')]

    def history_texts(self, user: str) -> tuple[list[str], list[str]]:
        """The texts of the items a user currently likes and dislikes, newest first."""
        events = self.events(user)
        return ([e.item_text for e in events if e.label == "like"], [e.item_text for e in events if e.label == "dislike"])

    def pairs(self, user: str | None = None, max_unpicked: int = 4) -> list[Pair]:
        """DPO pairs from the active events by the rule in this module's docstring."""
        return build_pairs(self.events(user), max_unpicked)

    def votes(self, user: str | None = None) -> list[Vote]:
        """KTO votes from the active events by the vote rule in this module's docstring."""
        return build_votes(self.events(user))

    @property
    def instance(self) -> str:
        """This store's instance id, the first part of the ids of the votes cast here."""
        with self._transaction() as db:
            return db.execute("SELECT value FROM meta WHERE key = 'instance'").fetchone()[0]

    @contextmanager
    def exclusive(self, key: int, busy: str) -> Iterator[None]:
        """Hold lock `key` across every process of every replica of this store, or raise `busy`. SQLite's
        processes share one machine and its data folder, whose file lock serves (refine_protocol.py)."""
        yield

    def locked(self, key: int) -> bool:
        """Whether some process holds `exclusive(key)` now."""
        return False

    def meta(self, key: str) -> str | None:
        """A setting every process of this store shares (e.g. the active adapter version on a server)."""
        with self._transaction() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as db:
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = "
                       "excluded.value", (key, value))

    def visitor(self, visitor: str) -> tuple[str | None, bool]:
        """A visitor's display name (None: never set) and whether they agreed to show it to others."""
        with self._transaction() as db:
            row = db.execute("SELECT name, share FROM visitors WHERE id = ?", (visitor,)).fetchone()
        return (row[0], bool(row[1])) if row else (None, False)

    def set_visitor(self, visitor: str, name: str | None = None, share: bool | None = None) -> None:
        """Set a visitor's display name or sharing choice (one row: a rename rewrites nothing else)."""
        field, value = ("name", name) if share is None else ("share", int(share))
        with self._write() as db:
            db.execute(f"INSERT INTO visitors (id, {field}) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET "
                       f"{field} = excluded.{field}", (visitor, value))

    def add_visitors(self, profiles: dict[str, dict]) -> int:
        """Import display names (`{visitor: {"name", "share"}}`, as visitors.json held them) in one transaction;
        a visitor already known here keeps theirs. Returns how many were added."""
        added = 0
        with self._write() as db:
            for visitor, profile in profiles.items():
                added += db.execute("INSERT INTO visitors (id, name, share) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                                    (visitor, profile.get("name"), int(bool(profile.get("share"))))).rowcount
        return added

    def add_imported(self, events: Sequence[Event]) -> int:
        """Store events exported by another instance (their `origin`/`origin_id` set), in one transaction; those
        already here (cast here, or imported before) are skipped. Returns how many were added."""
        instance, added = self.instance, 0
        with self._write() as db:
            for e in events:
                if e.origin == instance:
                    continue  # cast here in the first place
                _refuse_nul(e.user, e.item_id, e.item_text)
                context = Context(tuple(e.context.captions), e.context.slot, e.context.occasion, e.context.season)
                cursor = db.execute(
                    'INSERT INTO events ("user", time, context_key, context, options, item_id, item_text,'
                    " adapter_version, label, undone_at, origin, origin_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    (e.user, e.time, context.key, json.dumps(asdict(context)), json.dumps([asdict(o) for o in e.options]),
                     e.item_id, e.item_text, e.adapter_version, e.label, e.undone_at, e.origin, e.origin_id))
                added += cursor.rowcount
        return added

    def export_trl(self, path: str | Path, user: str | None = None) -> int:
        """Write the pairs as trl JSONL (atomically: a failed export leaves no file behind); returns how many."""
        path, pairs = Path(path), self.pairs(user)
        tmp = path.with_name(path.name + ".tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                write_jsonl(pairs, f)
            tmp.replace(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return len(pairs)


def open_store(db: str | None = None, data: str | Path | None = None) -> FeedbackStore:
    """The feedback store the app and the refine worker share: `db` (else `$STYLIST_DB`), a `postgresql://` URL,
    opens it on that server; none keeps SQLite in the data folder."""
    db = db or os.environ.get("STYLIST_DB")
    if not db:
        return FeedbackStore(data_dir(data) / DB_NAME)
    if not db.startswith(("postgresql://", "postgres://")):
        raise StylistError("--db must be a postgresql://user:password@host:port/database URL, got "
                           f"{db.partition(':')[0][:20]!r}: "
                           "(leave it out for SQLite in the data folder)")
    from stylist.core.feedback_pg import PostgresStore  # psycopg: needed only for a server

    return PostgresStore(db)


def _refuse_nul(*texts: str) -> None:
    """PostgreSQL's text holds no NUL character; both back-ends refuse it, so a store moves between them whole."""
    if any("\x00" in text for text in texts):
        raise StylistError("a vote's user and item text cannot hold a NUL character (\\x00)")


def _create_private(path: Path) -> bool:
    """Create the store's file readable by this user only (SQLite gives its journal files the same mode); True
    when it was new. An existing one is narrowed to this user too: it holds every visitor's votes."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return True
    except FileExistsError:
        with contextlib.suppress(OSError):
            os.chmod(path, 0o600)
        return False


def build_pairs(events: Sequence[Event], max_unpicked: int = 4) -> list[Pair]:
    """The pair rule (module docstring) applied to a snapshot of events."""
    latest: dict[tuple[str, str], dict[str, Event]] = {}
    for event in sorted(events, key=lambda e: e.id):  # later clicks on the same item win
        latest.setdefault((event.user, event.context.key), {})[event.item_id] = event
    pairs, seen = [], set()
    for (user, key), clicks in latest.items():
        liked = [e for e in clicks.values() if e.label == "like"]
        disliked = [e for e in clicks.values() if e.label == "dislike"]
        shown = {o.id: o for e in clicks.values() for o in e.options}  # in the recommender's rank order
        unpicked = [o for o in shown.values() if o.id not in clicks][:max_unpicked]
        for like in liked:
            for text in [e.item_text for e in disliked] + [o.text for o in unpicked]:
                pair = Pair(like.context.prompt, completion(like.item_text), completion(text), user, key)
                triple = (user, pair.prompt, pair.chosen, pair.rejected)
                if pair.chosen != pair.rejected and triple not in seen:
                    seen.add(triple)
                    pairs.append(pair)
    return pairs


def build_votes(events: Sequence[Event]) -> list[Vote]:
    """The vote rule (module docstring) applied to a snapshot of events, oldest first."""
    latest: dict[tuple[str, str, str], Event] = {}
    for event in sorted(events, key=lambda e: e.id):  # a later click on the same item wins
        latest[(event.user, event.context.key, event.item_id)] = event
    return [Vote(e.context.prompt, completion(e.item_text), e.label == "like", e.user, e.context.key)
            for e in latest.values()]


def event_of_row(row: tuple) -> Event:
    id_, user, time_, _key, context, options, item_id, item_text, version, label, undone_at, origin, origin_id = row
    ctx = json.loads(context)
    return Event(id_, user, time_, Context(tuple(ctx["captions"]), ctx.get("slot"), ctx.get("occasion"),
                                           ctx.get("season")),
                 [Option(**o) for o in json.loads(options)], item_id, item_text, version, label, undone_at,
                 origin, origin_id)


MIN_TRAIN_PAIRS = 8  # fewer pairs move the adapter by noise, not by taste
HELDOUT_PERCENT = 20  # of outfit contexts, kept out of training to measure preference accuracy before/after


Example = TypeVar("Example", Pair, Vote)


def bucket(context_key: str) -> int:
    """0-99 by a hash of the outfit context (the same for every run and process): those below the held-out percent
    are kept out of training."""
    return int(hashlib.sha1(context_key.encode()).hexdigest(), 16) % 100


def held_out(context_key: str, heldout_percent: int) -> bool:
    return bucket(context_key) < heldout_percent


def split_pairs(examples: Sequence[Example], heldout_percent: int) -> tuple[list[Example], list[Example]]:
    """(train, held-out) pairs or votes by a hash of the context, so a held-out outfit prompt is never trained on."""
    heldout = {p.context_key for p in examples if held_out(p.context_key, heldout_percent)}
    return ([p for p in examples if p.context_key not in heldout], [p for p in examples if p.context_key in heldout])


@dataclass(frozen=True)
class Readiness:
    """How far the recorded feedback is from a refine: the one count the page, the CLI and the worker share."""

    pairs: int  # every preference pair or vote (what an export writes)
    users: int
    train_pairs: int  # those of outfits not held out: what DPO (pairs) or KTO (votes) trains on
    min_pairs: int
    unit: str = "preference pair"  # or "vote", for KTO

    @property
    def needed(self) -> int:
        return max(0, self.min_pairs - self.train_pairs)

    def describe(self) -> str:
        users = f"{self.users} {'user' if self.users == 1 else 'users'}"
        text = (f"{self.pairs} {self.unit}{'' if self.pairs == 1 else 's'} from {users}, "
                f"{self.train_pairs} of them for training (a refine needs at least {self.min_pairs})")
        if self.needed:
            last = self.unit.split()[-1]
            text += f": {self.needed} more {last + ' is' if self.needed == 1 else last + 's are'} needed"
        return text


def readiness(examples: Sequence[Pair | Vote], min_pairs: int = MIN_TRAIN_PAIRS,
              heldout_percent: int = HELDOUT_PERCENT) -> Readiness:
    """How far pairs (DPO) or votes (KTO) are from a refine."""
    train, _ = split_pairs(examples, heldout_percent)
    unit = "vote" if examples and isinstance(examples[0], Vote) else "preference pair"
    return Readiness(len(examples), len({p.user for p in examples}), len(train), min_pairs, unit)


def write_jsonl(pairs: Sequence[Pair], out) -> None:
    for pair in pairs:
        out.write(json.dumps(pair.trl(), ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylist export-feedback", description=summary(__doc__))
    parser.add_argument("--format", choices=["trl", "dataset"], default="trl",
                        help="trl: prompt/chosen/rejected JSONL; dataset: a folder of parquet files (votes, paired, "
                             "unpaired) with a dataset card, for `datasets.load_dataset` and `import-feedback`")
    parser.add_argument("--user", default=None, help="only this user's pairs (trl only; default: every user)")
    parser.add_argument("--out", default=None, help="output file, or the new folder of a dataset (default for trl: "
                                                    "standard output)")
    parser.add_argument("--catalog", default=None, help="the catalog the votes were cast on, for the dataset card")
    parser.add_argument("--license", default="cc-by-4.0", help="the votes' licence id, for the dataset card")
    parser.add_argument("--data-dir", default=None, help="data folder (default: $STYLIST_DATA_DIR or ./data)")
    parser.add_argument("--db", default=None, help="a postgresql:// store instead (default: $STYLIST_DB, else SQLite "
                                                   "in the data folder)")
    args = parser.parse_args(argv)
    if args.format == "dataset" and (args.out is None or args.user is not None):
        parser.error("--format dataset needs --out FOLDER and exports every user")
    if not (args.db or os.environ.get("STYLIST_DB")):
        path = data_dir(args.data_dir, create=False) / DB_NAME
        if not path.is_file():
            raise StylistError(f"no feedback recorded yet: {path} does not exist (run the app, or pass --data-dir)")
    store = open_store(args.db, args.data_dir)
    path = store.location
    if args.user is not None and args.user not in store.users():
        raise StylistError(f"unknown user {args.user!r}: no votes in {path} (users: {', '.join(store.users()) or 'none'})")
    if args.format == "dataset":
        from stylist.core.feedback_dataset import export_dataset

        counts = export_dataset(store, args.out, args.catalog, args.license)
        print(f"wrote {counts['votes']} votes, {counts['paired']} pairs and {counts['unpaired']} unpaired votes to "
              f"{args.out}", file=sys.stderr)
    elif args.out is None:
        pairs = store.pairs(args.user)
        write_jsonl(pairs, sys.stdout)
        print(f"{len(pairs)} pairs from {path}", file=sys.stderr)
    else:
        print(f"wrote {store.export_trl(args.out, args.user)} pairs to {args.out}", file=sys.stderr)
    return 0
