"""The app's service without a browser: the committed models, the demo catalog and a fresh data folder.

recommend -> vote -> undo -> export -> refine start/stop -> activate -> compare -> rollback, and the vote's
provenance: a suggestion is credited to the adapter version that made it, not the one active at click time.
"""

from __future__ import annotations

import json
import time

import pytest

from stylist.app.config import AppConfig
from stylist.app.service import Stylist
from stylist.core.errors import StylistError

OUTFIT = ["navy cotton t-shirt", "blue denim jeans"]
TINY_REFINE = ["--steps", "2", "--fitb-questions", "0", "--min-pairs", "4", "--heldout-percent", "0", "--anchors", "0"]


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Stylist:
    data = tmp_path_factory.mktemp("service") / "data"
    return Stylist(AppConfig(data_dir=str(data), admin_password="secret", refine_args=TINY_REFINE))


def state(app: Stylist) -> str:
    return app.refining.status().state


def wait_until_settled(app: Stylist, timeout: float = 180) -> str:
    deadline = time.time() + timeout
    while state(app) in ("starting", "running", "saving") and time.time() < deadline:
        time.sleep(0.5)
    return state(app)


def vote_everything(app: Stylist, user: str, captions: list[str]) -> None:
    """Like the first suggestion of every slot and dislike the rest: pairs for DPO."""
    for found in app.style.recommend(captions, "casual", "summer", user=user).values():
        for n, card in enumerate(found):
            app.votes.vote(user, card, "like" if n == 0 else "dislike")


def test_recommend_gives_cards_per_missing_slot_from_version_0(app):
    cards = app.style.recommend(OUTFIT, "", "", user="ann")
    assert cards and "tops" not in cards and "bottoms" not in cards
    for found in cards.values():
        assert 1 <= len(found) <= app.config.per_slot
        assert all(c.adapter_version == 0 and c.for_you is None and c.text for c in found)


def test_vote_undo_and_counts(app):
    card = next(iter(app.style.recommend(OUTFIT, "", "", user="bea").values()))[0]
    event = app.votes.vote("bea", card, "like")
    assert app.votes.counts("bea") == {"like": 1, "dislike": 0, "undone": 0}
    assert [e.id for e in app.votes.history("bea")] == [event]
    app.votes.undo("bea", event)
    assert app.votes.counts("bea") == {"like": 0, "dislike": 0, "undone": 1}
    with pytest.raises(StylistError, match="label"):
        app.votes.vote("bea", card, "love")


def test_for_you_appears_once_the_user_has_voted(app):
    vote_everything(app, "cat", OUTFIT)
    cards = app.style.recommend(OUTFIT, "casual", "summer", user="cat")
    assert all(c.for_you is not None for found in cards.values() for c in found)


def test_export_needs_the_password_and_writes_trl_pairs(app):
    vote_everything(app, "fay", OUTFIT)
    with pytest.raises(StylistError, match="admin password"):
        app.votes.export("wrong")
    rows = [json.loads(line) for line in app.votes.export("secret").read_text().splitlines()]
    assert rows and all(set(r) == {"prompt", "chosen", "rejected"} for r in rows)
    assert app.votes.feedback_size()[0] == len(rows)


def test_refine_activate_compare_rollback_and_vote_provenance(app):
    vote_everything(app, "dan", ["white cotton shirt", "black wool trousers"])
    old_cards = app.style.recommend(OUTFIT, "", "", user="dan")  # made by v0
    with pytest.raises(StylistError, match="admin password"):
        app.refining.start("wrong")
    app.refining.start("secret")
    with pytest.raises(StylistError, match="already running"):
        app.refining.start("secret")
    assert wait_until_settled(app) == "done", app.refining.status()
    assert [v.number for v in app.refining.versions()] == [0, 1] and app.refining.versions()[1].active

    new_cards = app.style.recommend(OUTFIT, "", "", user="dan")
    assert all(c.adapter_version == 1 for found in new_cards.values() for c in found)
    old_card = next(iter(old_cards.values()))[0]
    event = app.votes.vote("dan", old_card, "like")  # clicked after v1 became active
    assert next(e for e in app.votes.history("dan") if e.id == event).adapter_version == 0

    (old_name, old), (new_name, new) = app.style.compare(OUTFIT, "", "")
    assert (old_name, new_name) == ("v0", "v1") and set(old) == set(new)
    assert app.refining.rollback("secret").number == 0
    with pytest.raises(StylistError, match="refine first"):
        app.style.compare(OUTFIT, "", "")
    assert app.refining.activate("v1", "secret").number == 1


def test_a_stopped_refine_leaves_the_active_version(app):
    app.refining.start("secret")
    app.refining.stop("secret")
    assert wait_until_settled(app) in ("stopped", "done")
    active = [v.number for v in app.refining.versions() if v.active]
    assert active == [1] or state(app) == "done"


def test_uploads_are_checked_on_the_server(app, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(StylistError, match="notes.png"):
        app.style.caption([str(text)])
    with pytest.raises(StylistError, match="at most 4"):
        app.style.caption([str(text)] * 5)
    with pytest.raises(StylistError, match="admin password"):
        app.shop.add_photos([], "wrong")


def test_text_limits_hold_on_the_server(app):
    with pytest.raises(StylistError, match="at most 200 characters"):
        app.style.recommend(["red " * 500], "", "", user="eve")
    with pytest.raises(StylistError, match="occasion may be at most 40"):
        app.style.recommend(OUTFIT, "x" * 1000, "", user="eve")
    with pytest.raises(StylistError, match="season may be at most 40"):
        app.style.recommend(OUTFIT, "", "y" * 41, user="eve")
    with pytest.raises(StylistError, match="at most 4 items"):
        app.style.recommend(OUTFIT * 3, "", "", user="eve")
    with pytest.raises(StylistError, match="search may be at most 100"):
        app.shop.search("dress " * 50)
    assert app.shop.search("  navy  ")
