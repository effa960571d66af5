"""The app's service without a browser: the committed models, the demo catalog and a fresh data folder.

recommend -> vote -> undo -> export -> refine start/stop -> activate -> compare -> rollback, and the vote's
provenance: a suggestion is credited to the adapter version that made it, not the one active at click time.
Visitors are known by server-issued signed tokens: a forged token, someone else's vote or too many votes are
refused with one line.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import pytest

import stylist.app.photo_decoder
import stylist.models.captioner
from stylist.app.config import AppConfig
from stylist.app.model_thread import ModelThread
from stylist.app.service import Stylist
from stylist.core.errors import StylistError
from stylist.core.images import load_image
from stylist.core.paths import EXAMPLES

OUTFIT = ["navy cotton t-shirt", "blue denim jeans"]
TINY_REFINE = ["--steps", "2", "--fitb-questions", "0", "--min-pairs", "4", "--heldout-percent", "0", "--anchors", "0"]


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Stylist:
    data = tmp_path_factory.mktemp("service") / "data"
    return Stylist(AppConfig(data_dir=str(data), admin_password="secret", refine_args=TINY_REFINE))


@pytest.fixture(scope="module")
def token(app):
    """A visitor's signed token by display name, as a page gets it on load (one visitor per name)."""
    @cache
    def issue(name: str) -> str:
        token = app.visitors.issue()
        app.visitors.rename(app.visitors.verify(token), name)
        return token
    return issue


def state(app: Stylist) -> str:
    return app.refine.status().state


def wait_until_settled(app: Stylist, timeout: float = 180) -> str:
    deadline = time.time() + timeout
    while state(app) in ("starting", "running", "saving") and time.time() < deadline:
        time.sleep(0.5)
    return state(app)


def vote_everything(app: Stylist, token: str, captions: list[str]) -> None:
    """Like the first suggestion of every slot and dislike the rest: pairs for DPO."""
    for found in app.suggestions.recommend(captions, "casual", "summer", token=token).values():
        for n, card in enumerate(found):
            app.votes.vote(token, card, "like" if n == 0 else "dislike")


def first_card(app: Stylist):
    return next(iter(app.suggestions.recommend(OUTFIT, "", "").values()))[0]


def test_recommend_gives_cards_per_missing_slot_from_version_0(app, token):
    cards = app.suggestions.recommend(OUTFIT, "", "", token=token("ann"))
    assert cards and "tops" not in cards and "bottoms" not in cards
    for found in cards.values():
        assert 1 <= len(found) <= app.config.per_slot
        assert all(c.adapter_version == 0 and c.for_you is None and c.text for c in found)


def test_every_model_call_runs_on_the_one_model_thread(app, token, monkeypatch):
    """Requests arrive on many threads (Gradio's workers); the models they reach all run on one thread, so
    PyTorch keeps a single OpenMP team (see stylist/app/model_thread.py)."""
    threads: dict[str, set[int]] = {"recommend": set(), "caption": set(), "similar": set()}

    def on_thread(kind, fn):
        def call(*args, **kwargs):
            threads[kind].add(threading.get_ident())
            return fn(*args, **kwargs)
        return call

    monkeypatch.setattr(app.suggestions.recommender, "recommend", on_thread("recommend", app.suggestions.recommender.recommend))
    monkeypatch.setattr(app.suggestions.captioner, "caption_image", on_thread("caption", app.suggestions.captioner.caption_image))
    monkeypatch.setattr(app.votes.preference, "similar_users", on_thread("similar", app.votes.preference.similar_users))
    photo = str(sorted(EXAMPLES.glob("*.png"))[0])
    vote_everything(app, token("ola"), ["grey wool sweater"])

    def request(n: int) -> None:
        app.suggestions.recommend([OUTFIT[0], f"black {('wool', 'linen', 'denim')[n % 3]} trousers"], "", "",
                            token=token("ola"))
        app.suggestions.caption([photo])
        app.votes.similar_users(token("ola"))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(request, range(6)))
    model_thread = app.models.run(threading.get_ident)
    assert threads == {kind: {model_thread} for kind in threads} and model_thread != threading.get_ident()


def test_the_model_thread_runs_calls_from_itself_at_once_and_passes_errors_on():
    import torch

    before = torch.get_num_threads()
    models = ModelThread()
    assert models.run(lambda: models.run(threading.get_ident)) == models.run(threading.get_ident)
    with pytest.raises(StylistError, match="no such item"):
        models.run(lambda: (_ for _ in ()).throw(StylistError("no such item")))
    assert models.run(torch.get_num_threads) == 1 and ModelThread(2).run(torch.get_num_threads) == 2
    torch.set_num_threads(before)


def test_vote_undo_and_counts(app, token):
    bea = token("bea")
    card = first_card(app)
    event = app.votes.vote(bea, card, "like")
    assert app.votes.counts(bea) == {"like": 1, "dislike": 0, "undone": 0}
    assert [e.id for e in app.votes.history(bea)] == [event]
    app.votes.undo(bea, event)
    app.votes.undo(bea, event)  # taking back a vote already taken back changes nothing
    assert app.votes.counts(bea) == {"like": 0, "dislike": 0, "undone": 1}
    with pytest.raises(StylistError, match="label"):
        app.votes.vote(bea, card, "love")


def test_votes_are_kept_under_the_verified_id_with_a_display_name(app, token):
    gil = token("gil")
    event = app.votes.vote(gil, first_card(app), "like")
    visitor = app.visitors.verify(gil)
    assert visitor.startswith("v-") and visitor != "gil"
    assert [e.user for e in app.votes.history(gil) if e.id == event] == [visitor]
    assert app.visitors.name(visitor) == "gil"
    assert app.visitors.rename(visitor, "  <b>Gil</b> ") == "bGilb"  # cleaned as every name shown to others
    assert app.visitors.name(app.visitors.verify(app.visitors.issue())).startswith("guest-")


def test_forged_or_missing_tokens_are_refused(app, token):
    card = first_card(app)
    visitor, _, signature = token("hal").rpartition(".")
    forged = ["", "hal", "v-0123456789abcdef.0123", f"{visitor}x.{signature}", f"{visitor}.{signature[::-1]}"]
    with pytest.raises(StylistError, match="no valid visitor id"):
        app.votes.vote(None, card, "like")
    for bad in forged:
        for action in (lambda: app.votes.vote(bad, card, "like"), lambda: app.votes.history(bad),
                       lambda: app.votes.undo(bad, 1), lambda: app.votes.similar_users(bad),
                       lambda: app.suggestions.recommend(OUTFIT, "", "", token=bad)):
            with pytest.raises(StylistError, match="no valid visitor id: reload the page"):
                action()
    assert app.visitors.renew(forged[-1]) != forged[-1]  # a page with a forged token gets a fresh visitor
    assert app.visitors.renew(token("hal")) == token("hal")
    assert app.visitors.verify(app.visitors.renew(token("hal"), login="hal-login")) == "hal-login"


def test_a_visitor_cannot_undo_or_see_another_visitors_votes(app, token):
    ivy, jon = token("ivy"), token("jon")
    event = app.votes.vote(ivy, first_card(app), "like")
    with pytest.raises(StylistError, match=f"vote #{event} is not one of your votes"):
        app.votes.undo(jon, event)
    assert app.votes.counts(ivy)["like"] == 1
    assert event not in [e.id for e in app.votes.history(jon)]


def test_votes_per_minute_are_limited(app, token, monkeypatch):
    monkeypatch.setattr(app.config, "votes_per_minute", 3)
    kim, card = token("kim"), first_card(app)
    for _ in range(3):
        app.votes.vote(kim, card, "like")
    with pytest.raises(StylistError, match="at most 3 votes a minute"):
        app.votes.vote(kim, card, "like")
    app.votes.vote(token("lea"), card, "like")  # the limit is per visitor


def test_a_switch_refused_by_the_limit_keeps_the_vote_before_it(app, token, monkeypatch):
    """Like X, use up the minute's votes, then Dislike on X: refused in one line, and the like is still stored
    (nothing was taken back first), with no dislike; the same button again still takes the like back."""
    monkeypatch.setattr(app.config, "votes_per_minute", 3)
    oli, cards = token("oli"), next(iter(app.suggestions.recommend(OUTFIT, "", "").values()))
    liked = app.votes.click(oli, cards[0], "like", None)
    app.votes.vote(oli, cards[1], "like")
    app.votes.vote(oli, cards[2], "like")
    with pytest.raises(StylistError, match="at most 3 votes a minute") as refused:
        app.votes.click(oli, cards[0], "dislike", ("like", liked))
    assert "\n" not in str(refused.value)
    assert [(e.id, e.label) for e in app.votes.history(oli) if e.item_id == cards[0].item_id] == [(liked, "like")]
    assert app.votes.counts(oli) == {"like": 3, "dislike": 0, "undone": 0}
    assert app.votes.click(oli, cards[0], "like", ("like", liked)) is None  # taking back is never refused
    assert app.votes.counts(oli)["undone"] == 1


def test_a_switch_is_one_transaction(app, token):
    """A switch whose write fails (here: naming another visitor's vote) leaves both votes as they were."""
    pat, quy = token("pat"), token("quy")
    card = first_card(app)
    theirs = app.votes.vote(quy, card, "like")
    mine = app.votes.vote(pat, card, "like")
    with pytest.raises(StylistError, match=f"vote #{theirs} is not one of your votes"):
        app.votes.click(pat, card, "dislike", ("like", theirs))
    assert app.votes.counts(quy) == {"like": 1, "dislike": 0, "undone": 0}
    assert app.votes.counts(pat) == {"like": 1, "dislike": 0, "undone": 0}
    switched = app.votes.click(pat, card, "dislike", ("like", mine))
    assert [(e.id, e.label) for e in app.votes.history(pat)] == [(switched, "dislike")]


def test_minting_visitor_ids_is_limited_per_address_and_so_are_votes(app, token, monkeypatch):
    """Ten page loads do not buy ten visitors' votes: new ids are limited per address, and so are the votes of
    all the ids one address holds."""
    monkeypatch.setattr(app.config, "visitors_per_minute_per_address", 5)
    monkeypatch.setattr(app.config, "votes_per_minute_per_address", 8)
    minted = [app.visitors.renew(None, address="10.0.0.9") for _ in range(5)]
    with pytest.raises(StylistError, match="at most 5 new visitor ids a minute from one address"):
        app.visitors.renew(None, address="10.0.0.9")
    assert app.visitors.renew(minted[0], address="10.0.0.9") == minted[0]  # a returning page is no new id
    app.visitors.renew(None, address="10.0.0.10")  # another address is not affected
    card, stored = first_card(app), 0
    with pytest.raises(StylistError, match="at most 8 votes a minute from one address"):
        for t in minted * 2:
            app.votes.vote(t, card, "like")
            stored += 1
    assert stored == 8


def test_tokens_expire_and_an_active_visitors_token_is_rotated(app, monkeypatch):
    from stylist.app import visitors

    token = app.visitors.issue()
    visitor = app.visitors.verify(token)
    now = time.time()
    monkeypatch.setattr(visitors.time, "time", lambda: now + 2 * visitors.ROTATE_SECONDS)
    rotated = app.visitors.renew(token)
    assert rotated != token and app.visitors.verify(rotated) == visitor  # same visitor, fresh time
    monkeypatch.setattr(visitors.time, "time", lambda: now + (visitors.TOKEN_DAYS + 1) * 86400)
    with pytest.raises(StylistError, match="no valid visitor id"):
        app.visitors.verify(token)
    assert app.visitors.verify(app.visitors.renew(token)) != visitor  # an expired token gets a new visitor
    legacy = f"{visitor}.{app.visitors._signature(visitor)}"  # the format before tokens carried a time
    assert app.visitors.verify(app.visitors.renew(legacy)) == visitor


def test_for_you_appears_once_the_user_has_voted(app, token):
    vote_everything(app, token("cat"), OUTFIT)
    cards = app.suggestions.recommend(OUTFIT, "casual", "summer", token=token("cat"))
    assert all(c.for_you is not None for found in cards.values() for c in found)


def test_similar_visitors_are_named_only_with_consent(app, token):
    assert app.votes.preference is not None, "checkpoints/preference did not load"
    mia, ned = token("mia"), token("ned")
    vote_everything(app, mia, ["red floral cotton dress"])
    vote_everything(app, ned, ["red floral cotton dress"])
    names = [name for name, _ in app.votes.similar_users(mia, n=50)]
    assert "ned" not in names and names[0] == "visitor 1"
    app.visitors.share(app.visitors.verify(ned), True)
    assert "ned" in [name for name, _ in app.votes.similar_users(mia, n=50)]


def test_the_feedback_tab_reads_a_bounded_number_of_votes(app, token, monkeypatch):
    """A refresh of the Feedback tab reads at most the latest votes, not the whole table (100k votes took 3.5 s)."""
    from stylist.app import votes

    uma = token("uma")
    vote_everything(app, uma, OUTFIT)
    reads, events = [], app.votes.store.events
    monkeypatch.setattr(app.votes.store, "events", lambda *a, **k: reads.append(k.get("limit")) or events(*a, **k))
    monkeypatch.setattr(votes, "HISTORY_SHOWN", 2)
    assert len(app.votes.history(uma)) == 2
    app.votes.similar_users(uma)
    assert reads and None not in reads


def test_export_needs_the_password_and_writes_trl_pairs(app, token):
    vote_everything(app, token("fay"), OUTFIT)
    with pytest.raises(StylistError, match="admin password"):
        app.votes.export("wrong")
    rows = [json.loads(line) for line in app.votes.export("secret").read_text().splitlines()]
    assert rows and all(set(r) == {"prompt", "chosen", "rejected"} for r in rows)
    assert app.refine.readiness().pairs == len(rows)


def test_the_admin_exports_a_dataset_and_chooses_the_refine_method_from_a_fixed_list(app, token):
    import zipfile

    vote_everything(app, token("gus"), OUTFIT)
    with pytest.raises(StylistError, match="unknown export format"):
        app.votes.export("secret", "csv" * 30)
    archive = app.votes.export("secret", "dataset")
    with zipfile.ZipFile(archive) as zipped:
        names = set(zipped.namelist())
        card = zipped.read("stylist-feedback/README.md").decode()
    assert {"stylist-feedback/votes/train.parquet", "stylist-feedback/paired/train.parquet",
            "stylist-feedback/unpaired/train.parquet"} <= names and "| catalog | demo |" in card
    kto = app.refine.readiness("kto")
    assert kto.unit == "vote" and kto.pairs == len(app.votes.store.votes()) > app.refine.readiness("dpo").pairs
    with pytest.raises(StylistError, match="unknown refine method"):
        app.refine.start("secret", "orpo")


def test_export_is_deleted_after_its_time(app, monkeypatch):
    monkeypatch.setattr(app.config, "export_seconds", 0.3)
    path = app.votes.export("secret")
    assert path.is_file() and "stylist-export-" in path.parent.name
    deadline = time.time() + 10
    while path.parent.exists() and time.time() < deadline:
        time.sleep(0.1)
    assert not path.parent.exists()


def test_refine_activate_compare_rollback_and_vote_provenance(app, token):
    dan = token("dan")
    vote_everything(app, dan, ["white cotton shirt", "black wool trousers"])
    old_cards = app.suggestions.recommend(OUTFIT, "", "", token=dan)  # made by v0
    with pytest.raises(StylistError, match="admin password"):
        app.refine.start("wrong")
    app.refine.start("secret")
    with pytest.raises(StylistError, match="already running"):
        app.refine.start("secret")
    assert wait_until_settled(app) == "done", app.refine.status()
    assert [v.number for v in app.refine.versions()] == [0, 1] and app.refine.versions()[1].active

    new_cards = app.suggestions.recommend(OUTFIT, "", "", token=dan)
    assert all(c.adapter_version == 1 for found in new_cards.values() for c in found)
    old_card = next(iter(old_cards.values()))[0]
    event = app.votes.vote(dan, old_card, "like")  # clicked after v1 became active
    assert next(e for e in app.votes.history(dan) if e.id == event).adapter_version == 0

    (old_name, old), (new_name, new) = app.suggestions.compare(OUTFIT, "", "")
    assert (old_name, new_name) == ("v0", "v1") and set(old) == set(new)
    assert app.refine.rollback("secret").number == 0
    with pytest.raises(StylistError, match="refine first"):
        app.suggestions.compare(OUTFIT, "", "")
    assert app.refine.activate("v1", "secret").number == 1


def test_a_stopped_refine_leaves_the_active_version(app):
    app.refine.start("secret")
    app.refine.stop("secret")
    assert wait_until_settled(app) in ("stopped", "done")
    active = [v.number for v in app.refine.versions() if v.active]
    assert active == [1] or state(app) == "done"


def test_uploads_are_checked_on_the_server(app, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(StylistError, match="notes.png"):
        app.suggestions.caption([str(text)])
    with pytest.raises(StylistError, match="at most 4"):
        app.suggestions.caption([str(text)] * 5)
    with pytest.raises(StylistError, match="admin password"):
        app.catalog.add_photos([], "wrong")


def test_a_request_has_a_pixel_budget_counted_from_the_headers(app, tmp_path, monkeypatch):
    """Four photos at the pixel limit (a few hundred kB each) are refused before any is decoded."""
    from PIL import Image

    from stylist.core.images import MAX_PIXELS

    side = int(MAX_PIXELS ** 0.5) - 1
    Image.new("1", (side, side)).save(tmp_path / "big.png")
    decoded = []
    monkeypatch.setattr(stylist.app.photo_decoder, "load_image", lambda *a, **k: decoded.append(a))
    with pytest.raises(StylistError, match="256 megapixels to decode, over the limit of 80 per request"):
        app.access.check_uploads([str(tmp_path / "big.png")] * 4)
    assert decoded == []


def test_large_photos_a_minute_are_limited_per_address(app, tmp_path, monkeypatch):
    """One address may have only so many large photos decoded a minute (seconds of a core each); a refused request
    counts none of its photos, other addresses and ordinary photos are not held up."""
    from PIL import Image

    monkeypatch.setattr(app.access.config, "large_photos_per_minute_per_address", 3)
    big, small = tmp_path / "big.png", min(str(p) for p in EXAMPLES.iterdir())
    Image.new("RGB", (2500, 2000), (20, 40, 90)).save(big)
    assert len(app.access.check_uploads([str(big)] * 2, address="10.0.0.1")) == 2
    with pytest.raises(StylistError, match="at most 3 large photos .* a minute from one address"):
        app.access.check_uploads([str(big)] * 2, address="10.0.0.1")
    assert len(app.access.check_uploads([str(big)], address="10.0.0.1")) == 1  # the refused two were not counted
    assert len(app.access.check_uploads([small, small], address="10.0.0.1")) == 2
    assert len(app.access.check_uploads([str(big)], address="10.0.0.2")) == 1


def test_uploads_are_decoded_once(app, monkeypatch):
    """The upload check's decoded image is what the captioner reads (and what the catalog saves)."""
    calls = []

    def counted(*args, **kwargs):
        calls.append(args[0])
        return load_image(*args, **kwargs)

    monkeypatch.setattr(stylist.app.photo_decoder, "load_image", counted)
    monkeypatch.setattr(stylist.models.captioner, "load_image", counted)
    photos = sorted(str(p) for p in EXAMPLES.iterdir())[:2]
    assert len(app.suggestions.caption(photos)) == 2 and len(calls) == 2
    calls.clear()
    added = app.catalog.add_photos(photos[:1], "secret")
    assert len(added) == 1 and len(calls) == 1

def test_a_long_caption_is_cut_at_a_word_and_the_page_is_told(app, token):
    """The server cuts a caption to 200 characters at a word, before splitting it into garments, and says so; a
    detail after "and" ("short sleeves") stays part of its garment."""
    typed = "navy cotton t-shirt with a white logo on the chest and short sleeves " + "soft jersey " * 20
    captions, _, _ = app.access.check_outfit([typed], "", "")
    assert len(captions) == 1 and len(captions[0]) <= 200 and typed.startswith(captions[0] + " ")
    [note] = app.access.outfit_notes([typed], "", "")
    assert "cut to" in note and "at a word" in note
    assert "bottoms" in app.suggestions.recommend([typed], "", "", token=token("eve"))


def test_occasion_and_season_words_are_read_or_refused(app, token):
    """Case-insensitive; everyday words read as the model's occasions and seasons, and said so; anything else
    is refused in one line listing the choices, whatever a client sends to the endpoint."""
    assert app.access.check_outfit(OUTFIT, "Work", "WINTER")[1:] == ("work", "winter")
    assert app.access.check_outfit(OUTFIT, "beach", "")[1:] == ("casual", "summer")
    assert app.access.outfit_notes(OUTFIT, "beach", "fall") == ["beach -> casual", "fall -> autumn"]
    with pytest.raises(StylistError, match="unknown occasion 'xyz': choose from sport, casual, work, evening"):
        app.suggestions.recommend(OUTFIT, "xyz", "", token=token("eve"))
    with pytest.raises(StylistError, match="unknown season 'monsoon': choose from spring, summer, autumn, winter"):
        app.suggestions.recommend(OUTFIT, "", "monsoon", token=token("eve"))


def test_text_limits_hold_on_the_server(app, token):
    eve = token("eve")
    with pytest.raises(StylistError, match="occasion may be at most 40"):
        app.suggestions.recommend(OUTFIT, "x" * 1000, "", token=eve)
    with pytest.raises(StylistError, match="season may be at most 40"):
        app.suggestions.recommend(OUTFIT, "", "y" * 41, token=eve)
    with pytest.raises(StylistError, match="at most 4 items"):
        app.suggestions.recommend(OUTFIT * 3, "", "", token=eve)
    with pytest.raises(StylistError, match="search may be at most 100"):
        app.catalog.search("dress " * 50)
    assert app.catalog.search("  navy  ")


def test_a_visitor_can_ask_for_some_pieces_only(app, token):
    """"Only these pieces": the suggestions hold just those slots, one the outfit already has included; whatever
    else a client sends there is refused in one line before any model runs."""
    eve = token("eve")
    assert list(app.suggestions.recommend(OUTFIT, "", "", token=eve, slots=["shoes", "Tops"])) == ["tops", "shoes"]
    everything = app.suggestions.recommend(OUTFIT, "", "", token=eve)
    assert set(app.suggestions.recommend(OUTFIT, "", "", token=eve, slots=[])) == set(everything) and len(everything) > 2
    with pytest.raises(StylistError, match="the catalog has no jewelry: ask for other pieces"):
        app.suggestions.recommend(OUTFIT, "", "", token=eve, slots=["jewelry"])  # the demo catalog sells none
    for bad, message in ((["shoes", "spaceship"], "unknown piece"), ("shoes", "must be a list"), ([3], "must be a list"),
                         (["x" * 10_000] * 50, "unknown piece")):
        with pytest.raises(StylistError, match=message) as info:
            app.suggestions.recommend(OUTFIT, "", "", token=eve, slots=bad)
        assert "\n" not in str(info.value) and len(str(info.value)) < 200


def test_a_store_that_cannot_be_read_is_one_line_everywhere_and_suggestions_still_come(app, token, monkeypatch):
    """A data folder turned read-only (SQLite cannot open its WAL index): every path that reads the votes says so
    in one line, and suggestions keep coming, without the "for you" order, even for a visitor who has voted."""
    import sqlite3

    rex = token("rex")
    vote_everything(app, rex, OUTFIT)
    connect = sqlite3.connect

    def refuse(path, *args, **kwargs):
        if str(path).endswith("feedback.sqlite"):
            raise sqlite3.OperationalError("unable to open database file")
        return connect(path, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", refuse)
    cards = app.suggestions.recommend(OUTFIT, "", "", token=rex)
    assert cards and all(c.for_you is None for found in cards.values() for c in found)
    for action in (lambda: app.votes.history(rex), lambda: app.votes.counts(rex), lambda: app.votes.export("secret"),
                   lambda: app.votes.similar_users(rex), lambda: app.refine.readiness(),
                   lambda: app.refine.start("secret"), lambda: app.votes.vote(rex, first_card(app), "like")):
        with pytest.raises(StylistError, match="cannot (read the feedback database|save in)") as error:
            action()
        assert "\n" not in str(error.value)


def test_every_handler_of_the_page_answers_in_one_line(app):
    """Every event handler, the page's internal ones included, turns any error into one line (gr.Error)."""
    import gradio as gr

    from stylist.app.ui.common import one_line_errors
    from stylist.app.ui.interface import build_ui

    handlers = [f.fn for f in build_ui(app).fns.values() if f.fn]
    assert handlers and all(getattr(fn, "one_line", False) for fn in handlers)
    with pytest.raises(gr.Error, match=r"the server could not do that \(KeyError"):
        one_line_errors(lambda: {}["\ud800" * 10_000])()


def test_the_page_load_runs_outside_the_queue_and_captioning_in_its_own_lane(app):
    """So a page opens however many photos wait to be captioned, and captions never take the suggestions' places."""
    from stylist.app.ui.interface import HEAVY, build_ui

    fns = {f.api_name: f for f in build_ui(app).fns.values()}
    assert not fns["welcome"].queue and not fns["visitor"].queue
    assert all(fns[name].concurrency_id == "heavy" and fns[name].concurrency_limit == 1 for name in HEAVY)
    assert fns["complete"].concurrency_id != "heavy"


def test_uploads_leave_gradios_cache_after_a_while(app):
    from stylist.app.ui.interface import build_ui

    frequency, age = build_ui(app).delete_cache
    assert age == app.config.cache_seconds and 0 < frequency <= age


def test_a_typed_box_naming_several_garments_gives_one_item_each(app):
    captions, _, _ = app.access.check_outfit(["white cotton t-shirt and blue denim shorts", ""], None, None)
    assert captions == ["white cotton t-shirt", "blue denim shorts"]
    one = ["black and white striped shirt"]
    assert app.access.check_outfit(one, None, None)[0] == one
    cards = app.suggestions.recommend(["white cotton t-shirt and blue denim shorts"], "", "")
    assert "tops" not in cards and "bottoms" not in cards  # both read as the visitor's own items


def first_titles(cards: list) -> list[str]:
    return [card.title for card in cards]


def test_an_evening_out_gets_a_clutch_a_coat_in_winter_and_no_belt_on_a_slip_dress(app):
    """The stylist's rubric (`recommend/styling.py`) in the re-ranking: a satin clutch over a beige leather
    shoulder bag for a black satin slip dress at night, a coat among the outerwear for a winter evening in
    velvet (the catalog has wool coats), and no belt where there is nothing to wear it on."""
    cards = app.suggestions.recommend(["black satin slip dress"], "evening", "", token=None)
    bags = first_titles(cards["bags"])
    assert "clutch" in bags[0] and "satin" in bags[0], bags
    beige = [n for n, t in enumerate(bags) if "beige" in t and "shoulder bag" in t]
    assert all(n > 0 for n in beige), bags
    assert not any("belt" in t for t in first_titles(cards.get("accessories", []))), cards.get("accessories")
    winter = app.suggestions.recommend(["black velvet dress"], "evening", "winter", token=None)
    assert any("coat" in t for t in first_titles(winter["outerwear"])), first_titles(winter["outerwear"])
    for occasion in ("casual", "evening"):
        red = app.suggestions.recommend(["red silk slip dress"], occasion, "", token=None)
        assert not any("belt" in t for t in first_titles(red.get("accessories", []))), red.get("accessories")


def test_a_print_gets_a_plain_piece_and_a_sundress_is_a_dress(app):
    stripes = first_titles(app.suggestions.recommend(["white striped cotton shirt"], "casual", "", token=None)["bottoms"])
    prints = ("striped", "floral", "polka dot", "checked", "plaid")
    assert any(not any(p in t for p in prints) for t in stripes), stripes
    sundress = app.suggestions.recommend(["yellow floral sundress"], "casual", "summer", token=None)
    assert not {"tops", "bottoms", "dresses"} & set(sundress), list(sundress)
