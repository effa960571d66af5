"""The whole loop in a real browser (Debian's Chromium driven by Playwright) against `python app.py`.

upload -> captions -> suggestions -> like/dislike (and undo) -> refine in the background while a second
visitor keeps clicking -> a new active adapter version -> the same outfit's suggestions change.
Each browser context is its own visitor (a server-issued id); the name box sets only the display name.

    python -m pytest tests/test_app_browser.py                                # screenshots into a tmp folder
    STYLIST_SCREENSHOTS=docs/screenshots python -m pytest tests/test_app_browser.py   # refresh the docs

The tests share one app (the models load once) and run in file order, each building on the last.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from browser import CHROMIUM, chromium

from stylist.app.server import REPO, running_app

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason=f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
expect = pytest.importorskip("playwright.sync_api").expect

EXAMPLES = sorted(p for p in (REPO / "assets" / "examples").glob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
# A small refine (no FITB; ~10 pairs): quick on 2 CPUs, yet long enough for a second visitor to act during it.
REFINE_ARGS = "--steps 150 --fitb-questions 0 --min-pairs 4 --heldout-percent 40 --anchors 0"  # user pairs only: fast
TIMEOUT = 120_000  # ms: model calls on a busy 2-core CI machine
expect.set_options(timeout=TIMEOUT)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("STYLIST_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("app") / "data"


@pytest.fixture(scope="module")
def url(data):
    with running_app(["--data-dir", str(data), "--refine-args", REFINE_ARGS], data.parent / "app.log") as address:
        yield address


@pytest.fixture(scope="module")
def browser():
    with chromium() as instance:
        yield instance


@pytest.fixture(scope="module")
def alice(browser, url):
    """The first visitor's page (its own browser context: own cookies and localStorage)."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(TIMEOUT)
    page.goto(url)
    set_user(page, "alice")
    return page


def set_user(page, name: str) -> None:
    """Set the visitor's display name (the id itself comes from the server when the page loads)."""
    box = page.locator("#user-name textarea, #user-name input").first
    expect(box).to_have_value(re.compile(r"guest-\d+|.+"))  # the name kept for this browser's visitor id
    box.fill(name)
    box.blur()


def tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def upload(page, paths: list[Path]) -> None:
    """Upload photos and wait for their captions (all arrive in one update, so the first one tells)."""
    first = page.locator("#caption-0 textarea")
    first.fill("")  # so an old caption is not mistaken for the new one
    page.locator("#photos input[type=file]").set_input_files([str(p) for p in paths])
    expect(first).not_to_have_value("")
    for i in range(len(paths)):
        expect(page.locator(f"#caption-{i} textarea")).not_to_have_value("")


def outfit(page) -> None:
    """Alice's outfit: two example photos uploaded, the first caption corrected by hand."""
    upload(page, EXAMPLES[:2])
    expect(page.locator("#caption-2 textarea")).to_be_hidden()
    page.locator("#caption-0 textarea").fill("red floral cotton dress")


CARD_TEXT = ".card .card-text"


def complete(page) -> list[str]:
    """Press "Complete my outfit" and return the suggestion cards' texts once the new ones are shown."""
    key = page.locator("#cards-key textarea")
    old = key.input_value()
    page.locator("#complete").click()
    expect(key).not_to_have_value(old)
    fresh = page.locator(f"[data-rendering='{key.input_value()}']")
    expect(fresh.first).to_be_visible()
    return fresh.all_inner_texts()


def vote(page, row: int, card: int, label: str):
    """Click Like/Dislike on one card; returns the card's HTML, whose `data-vote` says what the page shows
    (its CSS colours and ticks the voted button)."""
    shown = page.locator(".suggestions:visible").nth(row).locator(".card:visible").nth(card)
    shown.get_by_role("button", name=re.compile(f"^{label}")).click()
    return shown.locator(".card-body")


def voted(label: str) -> tuple[str, str]:
    """The attribute a card's HTML carries once `label` ("Like", "Dislike" or "" for none) is recorded on it."""
    return "data-vote", label.lower()


def typed_outfit(browser, url, user: str, typed: str):
    """A fresh page of `user` with `typed` in the first caption box, completed; the page and its rows' slots."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(TIMEOUT)
    page.goto(url)
    set_user(page, user)
    page.locator("#caption-0 textarea").fill(typed)
    complete(page)
    return page, slot_names(page)


def slot_names(page) -> list[str]:
    """The slots of the rows shown (a row's heading may go on with what the model asked for)."""
    headings = page.locator(".suggestions:visible .slot-name").all_inner_texts()
    return [t.split("\u00b7")[0].strip().lower() for t in headings]


def test_an_edited_caption_clears_the_suggestions_made_for_the_old_outfit(browser, url):
    """Suggestions and the last vote's line belong to the outfit they were made for: editing a caption clears them;
    a detail after "and" (short sleeves) leaves the t-shirt one top, so bottoms are suggested."""
    page, slots = typed_outfit(browser, url, "dora", "navy cotton t-shirt with a white logo on the chest and short sleeves")
    assert "bottoms" in slots and "tops" not in slots, slots
    expect(vote(page, 0, 0, "Like")).to_have_attribute(*voted("Like"))
    expect(page.locator("#vote-notice")).to_contain_text("Recorded")
    page.locator("#caption-0 textarea").fill("red floral dress")
    expect(page.locator(".suggestions:visible")).to_have_count(0)
    expect(page.locator("#vote-notice")).not_to_contain_text("Recorded")
    expect(page.locator("#score-help")).to_contain_text("Suggestions appear below")


def test_public_host_needs_password(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "STYLIST_ADMIN_PASSWORD"}
    run = subprocess.run([sys.executable, str(REPO / "app.py"), "--host", "0.0.0.0", "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 2
    assert "STYLIST_ADMIN_PASSWORD" in run.stderr and "--insecure" in run.stderr


def test_style_upload_caption_suggest_vote(alice, shots):
    assert len(EXAMPLES) >= 2, "assets/examples must hold example photos"
    outfit(alice)
    cards = complete(alice)
    assert len(cards) >= 4 and all(re.search(r"score -?\d", c) for c in cards)
    rows = alice.locator(".suggestions:visible").count()
    assert rows >= 2
    like = vote(alice, 0, 0, "Like")
    expect(like).to_have_attribute(*voted("Like"))
    tick = like.evaluate("b => getComputedStyle(b.closest('.card').querySelector('button.like'), '::after').content")
    assert "✓" in tick, "the voted button shows a tick"
    expect(alice.locator("#vote-notice")).to_contain_text("Recorded")
    vote(alice, 0, 0, "Like")  # a second click takes the vote back
    expect(like).to_have_attribute(*voted(""))
    expect(alice.locator("#vote-notice")).to_contain_text("taken back")
    for row in range(rows):  # a like and a dislike per slot: enough DPO pairs for a tiny refine
        expect(vote(alice, row, 0, "Like")).to_have_attribute(*voted("Like"))
        expect(vote(alice, row, 1, "Dislike")).to_have_attribute(*voted("Dislike"))


def test_name_is_remembered(alice):
    alice.reload()
    expect(alice.locator("#user-name textarea, #user-name input").first).to_have_value("alice")


def test_typed_outfit_explained_scores_and_clicks_while_new_cards_come(browser, url):
    """One box naming two garments is two items; the scores stay explained after a vote; a caption box is locked
    while its photo is captioned; a click on cards being replaced counts for the card clicked."""
    page, slots = typed_outfit(browser, url, "carol", "white cotton t-shirt and blue denim shorts")
    assert "shoes" in slots and not {"tops", "bottoms", "dresses"} & set(slots), slots
    explained = page.locator("#score-help")
    expect(explained).to_contain_text("for you")
    expect(vote(page, 0, 0, "Like")).to_have_attribute(*voted("Like"))
    expect(explained).to_be_visible()  # the vote's message does not replace the explanation

    title = page.locator(".suggestions").nth(0).locator(".card").nth(1).locator(".card-title").inner_text()
    page.locator("#complete").click()  # new cards are being made...
    vote(page, 0, 1, "Dislike")  # ...while the visitor clicks one of the cards still shown
    notice = page.locator("#vote-notice")
    expect(notice).to_contain_text("Recorded: you disliked")
    expect(notice).to_contain_text(title)
    tab(page, "Feedback")
    expect(page.locator("#counts")).to_contain_text("carol: 1 liked, 1 disliked")

    tab(page, "Style")
    page.evaluate("""() => { window.sawLocked = false;
        const box = document.querySelector('#caption-0 textarea');
        new MutationObserver(() => { if (box.disabled) window.sawLocked = true; }).observe(box, {attributes: true}); }""")
    upload(page, EXAMPLES[2:3])
    assert page.evaluate("window.sawLocked"), "the caption box must be locked while its caption is computed"
    expect(page.locator("#caption-0 textarea")).to_be_editable()

    page.locator("#pieces input").click()  # "only these pieces": shoes, though the outfit has none yet either way
    page.get_by_role("option", name="Shoes").click()
    page.keyboard.press("Escape")
    complete(page)
    assert set(slot_names(page)) == {"shoes"}
    page.context.close()


def test_feedback_history_undo_export(alice, shots):
    tab(alice, "Feedback")
    expect(alice.locator("#counts")).to_contain_text("liked")
    counts = alice.locator("#counts").inner_text()
    likes = int(re.search(r"(\d+) liked", counts).group(1))
    assert likes >= 2
    assert alice.locator("#history .virtual-row").count() >= 2 * likes
    alice.locator("#history [data-testid=cell-0-1]").click()
    alice.locator("#undo").click()
    expect(alice.locator("#counts")).not_to_have_text(counts)
    alice.locator("#export").click()
    with alice.expect_download() as download:
        alice.locator("#download a").first.click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines and all({"prompt", "chosen", "rejected"} <= set(json.loads(x)) for x in lines)


def test_data_folder_is_not_served(url, data):
    for private in ("feedback.sqlite", "browser-secret", "visitor-secret"):  # display names: in the store
        assert (data / private).exists()
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{url}gradio_api/file={data / private}", timeout=30)


def test_refine_while_another_user_clicks(alice, browser, url, data, shots):
    """A refine runs in the background; meanwhile a second visitor gets suggestions and its votes count."""
    tab(alice, "Style")
    outfit(alice)
    before = complete(alice)
    tab(alice, "Refine")
    expect(alice.locator("#versions")).to_contain_text("v0 (active)")
    alice.locator("#refine-start").click()
    state = alice.locator("#refine-state")
    expect(state).to_have_attribute("data-state", re.compile("starting|running"))

    bob = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    bob.set_default_timeout(TIMEOUT)
    bob.goto(url)
    set_user(bob, "bob")
    bob.locator("#share-name input").check()  # bob lets visitors with similar taste see his name
    bob.locator("#examples img").first.click()  # the example gallery adds a photo without uploading
    caption = bob.locator("#caption-0 textarea")
    expect(caption).not_to_have_value("")
    caption.fill("<b>red</b> dress")  # user text is shown as text, never as markup
    assert "<b>red</b> dress" in "".join(complete(bob))
    expect(bob.locator(f"{CARD_TEXT} b", has_text=re.compile("^red$"))).to_have_count(0)
    expect(vote(bob, 0, 0, "Like")).to_have_attribute(*voted("Like"))
    assert state.get_attribute("data-state") in ("starting", "running", "saving"), "the refine ended too early"
    tab(bob, "Feedback")
    expect(bob.locator("#counts")).to_contain_text("bob: 1 liked, 0 disliked")
    tab(bob, "Refine")
    expect(bob.locator("#refine-start")).to_be_disabled()  # one run at a time: no second start meanwhile
    expect(bob.locator("#refine-stop")).to_be_enabled()
    bob.context.close()
    alice.reload()  # closing and reopening the page shows the run again
    tab(alice, "Refine")
    expect(state).to_have_attribute("data-state", re.compile("starting|running|saving|done"))

    expect(alice.locator("#loss-plot canvas, #loss-plot svg").first).to_be_visible()
    expect(state).to_have_attribute("data-state", "done", timeout=300_000)
    expect(alice.locator("#versions")).to_contain_text("v1 (active)")
    expect(alice.locator("#refine-metrics")).to_contain_text("preference_accuracy")
    expect(alice.locator("#refine-metrics")).to_contain_text(re.compile(r"\d+ held-out pairs \(too few to read\)"))
    tab(alice, "Style")
    outfit(alice)
    after = complete(alice)
    slots = alice.locator(".suggestions:visible").count()
    assert after != before, "the refined adapter should change the suggestions for the same outfit"
    assert all("for you" in card for card in after), "alice has a history: her suggestions are ordered for her"
    expect(vote(alice, 0, 0, "Like")).to_have_attribute(*voted("Like"))
    expect(vote(alice, 1, 2, "Dislike")).to_have_attribute(*voted("Dislike"))
    alice.screenshot(path=str(shots / "style.png"), full_page=True)
    tab(alice, "Refine")
    alice.locator("#compare").click()
    expect(alice.locator("#compare-old")).to_contain_text("before: v0")
    expect(alice.locator("#compare-new")).to_contain_text("after: v1")
    for side in ("#compare-old", "#compare-new"):  # a row per slot, named, each card with its title and score
        assert alice.locator(f"{side} .compare-row h4").count() == slots
        assert all(re.search(r"score -?\d", t) for t in alice.locator(f"{side} .compare-row > div").all_inner_texts())
    alice.screenshot(path=str(shots / "refine.png"), full_page=True)
    tab(alice, "Feedback")
    expect(alice.locator("#counts")).to_contain_text("alice:")  # her own display name, not bob's or an id
    expect(alice.locator("#similar")).to_contain_text("bob")  # bob agreed to show his name
    alice.screenshot(path=str(shots / "feedback.png"), full_page=True)


def test_rollback_and_stop(alice):
    tab(alice, "Refine")
    alice.locator("#rollback").click()
    expect(alice.locator("#versions")).to_contain_text("v0 (active)")
    alice.locator("#refine-start").click()
    state = alice.locator("#refine-state")
    expect(state).to_have_attribute("data-state", re.compile("starting|running"))
    alice.locator("#refine-stop").click()
    expect(state).to_have_attribute("data-state", "stopped", timeout=300_000)
    expect(alice.locator("#versions")).not_to_contain_text("v2")


def test_catalog_search_and_add(alice, shots):
    tab(alice, "Catalog")
    gallery = alice.locator("#catalog-gallery img")
    expect(gallery.first).to_be_visible()
    expect(alice.locator("#catalog-count")).to_contain_text(re.compile(r"\d+ items match"))
    everything = alice.locator("#catalog-count").inner_text()
    alice.locator("#catalog-search textarea, #catalog-search input").first.fill("striped")
    expect(alice.locator("#catalog-count")).not_to_have_text(everything)
    expect(alice.locator("#catalog-gallery .caption-label").first).to_contain_text("striped")
    labels = alice.locator("#catalog-gallery .caption-label").all_inner_texts()
    assert labels and all("striped" in t.lower() for t in labels)
    alice.screenshot(path=str(shots / "catalog.png"), full_page=True)
    alice.get_by_text("Add photos to the catalog").click()
    alice.locator("#catalog-upload input[type=file]").set_input_files([str(EXAMPLES[0])])
    alice.locator("#catalog-add").click()
    expect(alice.locator("#catalog-added")).to_contain_text("Added")


def test_admin_password_upload_limits_photo_catalog(browser, tmp_path):
    """With STYLIST_ADMIN_PASSWORD set, export needs it; refine waits for enough votes; bad or too many uploads get one clear line;
    a photo-folder catalog (`<class>/*.png`, no titles) is captioned when the app loads it."""
    env = {"STYLIST_ADMIN_PASSWORD": "s3cret"}
    for photo in EXAMPLES[:3]:
        (tmp_path / "photos" / photo.stem.split("-")[0]).mkdir(parents=True)
        (tmp_path / "photos" / photo.stem.split("-")[0] / photo.name).write_bytes(photo.read_bytes())
    args = ["--data-dir", str(tmp_path / "data"), "--catalog", str(tmp_path / "photos")]
    with running_app(args, tmp_path / "app.log", env=env) as address:
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(TIMEOUT)
        page.goto(address)
        set_user(page, "mallory")
        page.locator("#caption-0 textarea").fill("white cotton t-shirt")  # no photo: a typed caption works too
        assert len(complete(page)) == 2  # the folder's jeans (bottoms) and jacket (outerwear); no dress with a top
        fake = tmp_path / "not-a-photo.png"
        fake.write_text("hello")
        page.locator("#photos input[type=file]").set_input_files([str(fake)])
        expect(page.get_by_text("not an image file").first).to_be_visible()
        page.locator("#photos input[type=file]").set_input_files([str(p) for p in (EXAMPLES * 3)[:5]])
        expect(page.get_by_text("at most 4 photos").first).to_be_visible()
        tab(page, "Refine")  # no votes yet: the page says how many pairs a refine needs and cannot start one
        expect(page.locator("#pair-count")).to_contain_text("8 more pairs are needed")
        expect(page.locator("#refine-start")).to_be_disabled()
        tab(page, "Feedback")
        page.locator("#export").click()
        expect(page.get_by_text("exporting feedback needs the admin password").first).to_be_visible()
        page.locator("#admin-password input").fill("s3cret")
        page.locator("#export").click()
        expect(page.locator("#download a").first).to_be_visible()
        tab(page, "Catalog")
        expect(page.locator("#catalog-count")).to_contain_text("3 of 3 items")
        labels = page.locator("#catalog-gallery .caption-label")
        expect(labels).to_have_count(3)
        assert all(len(t.split()) >= 2 for t in labels.all_inner_texts()), "captions, not bare class names"


def test_no_tracebacks_in_the_log(data):
    """Everything above is normal use: the app's log holds no stack trace (Gradio prints them for lost handlers)."""
    log = (data.parent / "app.log").read_text()
    assert "Traceback" not in log and "KeyError" not in log, log[-3000:]
