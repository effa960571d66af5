"""The feedback store (undo, per-user history, schema versions, display names) on both back-ends, SQLite and
PostgreSQL (a throw-away server, bench/pg_server.py), and the DPO pair rule and its trl export."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import random
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stylist.core import readiness as readiness_module
from stylist.core.errors import StylistError
from stylist.core.feedback import (
    LABELS,
    Context,
    FeedbackStore,
    Option,
    Pair,
    build_pairs,
    event_of_row,
    main,
    open_store,
    readiness,
    split_pairs,
)
from stylist.core.prompts import completion
from stylist.core.readiness import ReadinessCounter
from stylist.core.refine_options import training_examples

CTX = Context(("white linen shirt", "blue jeans"), slot="shoes", occasion="office")
SHOWN = [Option("s1", "black leather boots"), Option("s2", "red sneakers"), Option("s3", "grey loafers"),
         Option("s4", "floral sandals")]


BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture
def location(request, tmp_path) -> str:
    """Where a store of the test's back-end lives: a SQLite file, or a fresh PostgreSQL database's URL."""
    backend = getattr(request, "param", "sqlite")  # tests not run on both: SQLite
    return request.getfixturevalue("pg_url") if backend == "postgresql" else str(tmp_path / "feedback.sqlite")


def opened(location: str) -> FeedbackStore:
    return open_store(location) if location.startswith("postgresql://") else FeedbackStore(location)


@pytest.fixture
def store(location) -> FeedbackStore:
    return opened(location)


def on_both(test):
    """Run a test taking `store` or `location` once per back-end."""
    return pytest.mark.parametrize("location", BACKENDS, indirect=True)(test)


def click(store: FeedbackStore, option: Option, label: str, user: str = "ann", ctx: Context = CTX):
    return store.record(user, ctx, option, label, options=SHOWN, adapter_version=0)


@on_both
def test_events_are_committed_with_their_context_and_survive_reopening(store, location):
    event = click(store, SHOWN[0], "like")
    click(store, SHOWN[1], "dislike", user="bob")
    again = opened(location).events("ann")
    assert [e.id for e in again] == [event.id]
    stored = again[0]
    assert (stored.context, stored.options, stored.item_id, stored.item_text, stored.adapter_version,
            stored.label) == (CTX, SHOWN, "s1", "black leather boots", 0, "like")
    if isinstance(store, FeedbackStore) and not location.startswith("postgresql"):
        with sqlite3.connect(location) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@on_both
def test_undo_keeps_the_row_but_retracts_the_click(store):
    event = click(store, SHOWN[0], "like")
    assert store.undo(event.id, user="bob") is False  # not bob's click
    assert store.undo(event.id, user="ann") is True
    assert store.undo(event.id) is False  # already undone
    assert store.events("ann") == []
    assert [e.id for e in store.events("ann", include_undone=True)] == [event.id]
    assert store.counts("ann") == {"like": 0, "dislike": 0, "undone": 1}


@on_both
def test_counts_users_and_history(store):
    click(store, SHOWN[0], "like")
    click(store, SHOWN[2], "like")
    click(store, SHOWN[1], "dislike")
    click(store, SHOWN[3], "dislike", user="bob")
    assert store.counts("ann") == {"like": 2, "dislike": 1, "undone": 0}
    assert store.counts() == {"like": 2, "dislike": 2, "undone": 0}
    assert store.users() == ["ann", "bob"]
    assert store.history_texts("ann") == (["grey loafers", "black leather boots"], ["red sneakers"])


@on_both
def test_bad_input_is_refused_with_one_line(store):
    with pytest.raises(StylistError, match="label"):
        click(store, SHOWN[0], "love")
    with pytest.raises(StylistError, match="user"):
        click(store, SHOWN[0], "like", user="  ")


@on_both
def test_pair_rule_liked_vs_disliked_and_vs_shown_but_not_picked(store):
    click(store, SHOWN[0], "like")
    click(store, SHOWN[1], "dislike")
    pairs = store.pairs("ann")
    assert {(p.chosen, p.rejected) for p in pairs} == {
        (completion("black leather boots"), completion("red sneakers")),  # liked vs disliked
        (completion("black leather boots"), completion("grey loafers")),  # liked vs shown, no click
        (completion("black leather boots"), completion("floral sandals"))}
    assert all(p.prompt == CTX.prompt for p in pairs)
    assert len(store.pairs("ann", max_unpicked=0)) == 1


@on_both
def test_pairs_need_a_like_stay_within_user_and_context_and_follow_the_latest_click(store):
    click(store, SHOWN[1], "dislike")
    assert store.pairs() == []  # a dislike alone names nothing better
    click(store, SHOWN[0], "like", user="bob")  # another user's like does not pair with ann's dislike
    other = Context(("white linen shirt",), slot="shoes")
    click(store, SHOWN[2], "like", ctx=other)  # same user, another context: no pair with the dislike
    assert store.pairs(max_unpicked=0) == []
    like = click(store, SHOWN[1], "like")  # ann changes her mind: the latest click counts
    assert [p.chosen for p in store.pairs("ann")].count(completion("red sneakers")) == 3  # vs s1, s3, s4 unpicked
    assert all(p.rejected != completion("red sneakers") for p in store.pairs("ann") if p.prompt == CTX.prompt)
    store.undo(like.id)  # back to the dislike
    assert all(p.chosen != completion("red sneakers") for p in store.pairs("ann"))


@on_both
def test_duplicate_clicks_give_one_pair(store):
    for _ in range(3):
        click(store, SHOWN[0], "like")
        click(store, SHOWN[1], "dislike")
    assert len(build_pairs(store.events(), max_unpicked=0)) == 1


def _writer(location, user, n):
    store = opened(location)
    for i in range(n):
        store.record(user, CTX, Option(f"{user}{i}", f"item {i}"), "like")


@on_both
def test_concurrent_writers_lose_nothing(location):
    opened(location)
    procs = [multiprocessing.get_context("spawn").Process(target=_writer, args=(location, u, 40)) for u in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert opened(location).counts() == {"like": 80, "dislike": 0, "undone": 0}


def test_export_refuses_unknown_user_missing_store_and_a_file_that_is_not_a_database(store, tmp_path):
    click(store, SHOWN[0], "like")
    with pytest.raises(StylistError, match="unknown user 'zoe'.*users: ann"):
        main(["--data-dir", str(tmp_path), "--user", "zoe"])
    with pytest.raises(StylistError, match="no feedback recorded yet"):
        main(["--data-dir", str(tmp_path / "typo")])
    assert not (tmp_path / "typo").exists()  # a mistyped folder is not created
    junk = tmp_path / "junk" / "feedback.sqlite"
    junk.parent.mkdir()
    junk.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(StylistError, match="not a stylist feedback database"):
        FeedbackStore(junk)
    assert junk.read_bytes() == b"not sqlite at all" * 100  # left untouched


def test_export_cli_writes_jsonl_that_datasets_and_trl_read(store, tmp_path, capsys):
    click(store, SHOWN[0], "like")
    click(store, SHOWN[1], "dislike")
    click(store, SHOWN[2], "like", user="bob")
    out = tmp_path / "pairs.jsonl"
    assert main(["--format", "trl", "--data-dir", str(tmp_path), "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 6 and all(set(r) == {"prompt", "chosen", "rejected"} for r in rows)
    assert main(["--data-dir", str(tmp_path), "--user", "bob"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3

    datasets = pytest.importorskip("datasets")
    from trl.data_utils import is_conversational

    dataset = datasets.load_dataset("json", data_files=str(out), split="train")
    assert dataset.column_names == ["prompt", "chosen", "rejected"] and len(dataset) == 6
    assert not is_conversational(dataset[0])  # trl's standard (plain text) preference format


FAST = settings(max_examples=60, deadline=None)
TEXT = st.text(max_size=30)
NAMES = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)  # NUL: refused, tested below
CONTEXTS = st.builds(Context, st.lists(TEXT, max_size=3).map(tuple), st.none() | TEXT, st.none() | TEXT,
                     st.none() | TEXT)
OPTIONS = st.builds(Option, TEXT, TEXT)


@on_both
@settings(FAST, suppress_health_check=[HealthCheck.function_scoped_fixture])  # each example empties the store
@given(user=NAMES.filter(str.strip), context=CONTEXTS, shown=st.lists(st.builds(Option, NAMES, NAMES), min_size=1,
                                                                       max_size=5),
       label=st.sampled_from(LABELS))
def test_any_unicode_text_round_trips(store, user, context, shown, label):
    with store._write() as db:
        db.execute("DELETE FROM events")
    event = store.record(user, context, shown[0], label, options=shown, adapter_version=3)
    assert store.events(user.strip()) == [event] and store.users() == [user.strip()]
    assert (event.context, event.options, event.item_text) == (context, shown, shown[0].text)
    for pair in store.pairs(user.strip()):
        assert (pair.prompt, pair.chosen, pair.user) == (context.prompt, completion(shown[0].text), user.strip())
        assert pair.rejected in {completion(o.text) for o in shown[1:]}
    assert store.undo(event.id, user.strip()) and store.events(user.strip()) == []


@on_both
def test_a_nul_character_is_refused_in_one_line_on_both(store):
    with pytest.raises(StylistError, match="cannot hold a NUL character"):
        store.record("a\x00nn", CTX, SHOWN[0], "like")
    with pytest.raises(StylistError, match="cannot hold a NUL character"):
        store.record("ann", CTX, Option("s1", "boots\x00"), "like")
    assert store.counts() == {"like": 0, "dislike": 0, "undone": 0}


@on_both
@settings(FAST, suppress_health_check=[HealthCheck.function_scoped_fixture])  # one store: nothing may reach it
@given(TEXT.filter(lambda label: label not in LABELS))
def test_any_other_label_is_refused_and_nothing_is_stored(store, label):
    with pytest.raises(StylistError, match="label must be one of like, dislike"):
        click(store, SHOWN[0], label)
    assert store.counts() == {"like": 0, "dislike": 0, "undone": 0}


def test_readiness_is_one_count_with_its_minimum_and_grammar():
    def pair(n: int, user: str = "ann") -> Pair:
        return Pair(f"outfit: shirt {n}\nmissing shoes:", " black boots", " red boots", user, f"ctx-{n}")

    one = readiness([pair(0)], min_pairs=8, heldout_percent=0)
    assert (one.pairs, one.users, one.train_pairs, one.needed) == (1, 1, 1, 7)
    assert one.describe() == ("1 preference pair from 1 user, 1 of them for training (a refine needs at least 8): "
                              "7 more pairs are needed")
    many = readiness([pair(n, u) for n in range(10) for u in ("ann", "bob")], min_pairs=8, heldout_percent=50)
    train, heldout = split_pairs([pair(n, u) for n in range(10) for u in ("ann", "bob")], 50)
    assert many.train_pairs == len(train) and len(train) + len(heldout) == 20 and many.users == 2
    assert many.needed == max(0, 8 - len(train))
    assert "more" not in readiness([pair(n) for n in range(8)], 8, 0).describe()


@on_both
def test_display_names_are_rows_and_an_import_keeps_names_already_set(store):
    assert store.visitor("v-1") == (None, False)
    store.set_visitor("v-1", name="Ann")
    store.set_visitor("v-1", share=True)
    store.set_visitor("v-1", name="Annie")  # a rename keeps the sharing choice
    assert store.visitor("v-1") == ("Annie", True)
    added = store.add_visitors({"v-1": {"name": "old", "share": False}, "v-2": {"name": "Bob", "share": True}})
    assert added == 1 and store.visitor("v-1") == ("Annie", True) and store.visitor("v-2") == ("Bob", True)


def set_schema(store: FeedbackStore, version: int) -> None:
    with store._write() as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(version),))


@on_both
def test_a_store_of_a_newer_schema_is_refused_in_one_line_and_left_as_it_is(store, location):
    click(store, SHOWN[0], "like")
    set_schema(store, 99)
    with pytest.raises(StylistError, match=r"has schema 99, newer than this stylist reads \(3\); it is left as it is"):
        opened(location)
    set_schema(store, 3)
    assert len(opened(location).events()) == 1


def test_a_sqlite_store_of_an_earlier_schema_is_upgraded_with_one_line(tmp_path, capsys):
    path = tmp_path / "feedback.sqlite"
    with sqlite3.connect(path) as db:  # schema 1: no origin columns, no schema row, no visitors
        db.executescript("CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, time REAL "
                         "NOT NULL, context_key TEXT NOT NULL, context TEXT NOT NULL, options TEXT NOT NULL, item_id "
                         "TEXT NOT NULL, item_text TEXT NOT NULL, adapter_version INTEGER, label TEXT NOT NULL, "
                         "undone_at REAL); CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);")
    store = FeedbackStore(path)
    assert capsys.readouterr().err.strip() == f"feedback store {path}: upgraded from schema 1 to schema 3"
    click(store, SHOWN[0], "like")
    store.set_visitor("v-1", name="Ann")
    FeedbackStore(path)
    assert capsys.readouterr().err == ""  # a current store says nothing


def test_postgres_refuses_a_foreign_table_an_unreachable_server_and_a_bad_address(pg_url):
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE events (id INTEGER, what TEXT)")
        conn.execute("INSERT INTO events VALUES (1, 'theirs')")
    with pytest.raises(StylistError, match="its tables events are not a stylist feedback store's; they are left"):
        open_store(pg_url)
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT * FROM events").fetchall() == [(1, "theirs")]
    closed = pg_url.replace("@127.0.0.1:", "@127.0.0.1:1").rsplit(":", 1)[0] + ":1/x"
    with pytest.raises(StylistError, match="cannot reach the feedback store postgresql://.*: start the server"):
        open_store(closed)
    with pytest.raises(StylistError, match="--db must be a postgresql://"):
        open_store("mysql://secret@host/db")


@on_both
def test_the_readiness_counter_follows_votes_undos_and_imports_as_a_full_rebuild_would(store, monkeypatch):
    counter = ReadinessCounter(store)
    rng = random.Random(0)
    contexts = [Context((f"white tee {n}", "blue jeans"), "shoes") for n in range(6)]
    cast = []
    for step in range(120):
        if cast and rng.random() < 0.2:
            store.undo(rng.choice(cast).id)
        else:
            cast.append(click(store, rng.choice(SHOWN), rng.choice(LABELS), rng.choice(["ann", "bob", "cy"]),
                              rng.choice(contexts)))
        if step % 10 == 0:
            for method in ("dpo", "kto"):
                assert counter.readiness(method, 8, 30) == readiness(training_examples(store, method), 8, 30)
    imported = [dataclasses.replace(e, origin="elsewhere", origin_id=e.id, user="dee", time=1.0) for e in cast[:20]]
    store.add_imported(imported)  # cast long ago elsewhere: found by their new ids
    for method in ("dpo", "kto"):
        assert counter.readiness(method, 8, 30) == readiness(training_examples(store, method), 8, 30)
    read = []
    monkeypatch.setattr(readiness_module, "SKEW", 0.0)  # the test's clicks are all within the window
    monkeypatch.setattr(readiness_module, "event_of_row", lambda row: read.append(row) or event_of_row(row))
    click(store, SHOWN[0], "like", "eve", contexts[0])
    counter.readiness("dpo", 8, 30)
    assert len(read) < len(cast) / 4  # a refresh reads the contexts that changed, not the table
