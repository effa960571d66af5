"""The Gradio page: Style, Feedback, Refine and Catalog tabs over one shared `Stylist` (see service.py).

Only layout and event wiring live here; every action is a `Stylist` method. User text shown back in
HTML is escaped; Markdown components sanitise HTML themselves.

    python app.py            # then open http://127.0.0.1:7860
"""

from __future__ import annotations

import functools
import html
import re
import secrets
import time
from dataclasses import asdict

import gradio as gr
import pandas as pd

from stylist.app.runner import RUNNING
from stylist.app.service import UPLOAD_SUFFIXES, Card, Stylist, clean_user, example_photos, guest_name
from stylist.core.errors import StylistError
from stylist.core.vocabulary import SLOTS

ANY = ("any", "")
OCCASIONS = [ANY, *((o, o) for o in ("casual", "work", "party", "formal", "date", "sport", "travel"))]
SEASONS = [ANY, *((s, s) for s in ("spring", "summer", "autumn", "winter"))]
LIKE, DISLIKE = "Like", "Dislike"
UPLOAD_TYPES = sorted(UPLOAD_SUFFIXES)
INTRO = """# stylist: complete your outfit

1. **Add 1-4 photos** of garments you want to wear (or click an example photo).
2. **Check the captions** the app wrote; fix them if they are wrong.
3. **Get suggestions** from the catalog for each missing piece, and tell the app what you think with
   Like / Dislike. Click again to take a vote back. Your votes are kept under your name, and the **Refine** tab
   retrains the suggestion model on everyone's votes."""

CSS = """
.card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 6px; }
.slot-name { max-width: 110px; min-width: 90px !important; text-transform: capitalize; }
.card-text p { font-size: 0.85em; line-height: 1.3; }
button.voted-like { background: #2e7d32 !important; color: white !important; }
button.voted-dislike { background: #b23b3b !important; color: white !important; }
.progress { height: 14px; background: #e3e5ee; border-radius: 7px; overflow: hidden; margin-top: 6px; }
.progress > div { height: 100%; background: #5b63d3; transition: width 0.5s; }
#refine-state[data-state=failed] b { color: #b23b3b; }
#refine-state[data-state=done] b { color: #2e7d32; }
"""
THEME = gr.themes.Soft(primary_hue="indigo")


def _errors(fn):
    """Show a user-caused problem as one line in the page instead of a stack trace."""
    @functools.wraps(fn)  # keeps the signature, so Gradio still injects gr.SelectData and friends
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except StylistError as exc:
            raise gr.Error(str(exc)) from None
    return wrapped


def build_ui(app: Stylist) -> gr.Blocks:
    """The whole page. State that belongs to one visitor lives in gr.State / gr.BrowserState."""
    with gr.Blocks(title="stylist") as demo:
        with gr.Row():
            gr.Markdown(INTRO, elem_id="intro")
            with gr.Column(scale=0, min_width=360):
                user = gr.Textbox(label="Your name (remembered in this browser)", max_length=40, elem_id="user-name")
                password = gr.Textbox(label="Admin password (refine, export, catalog edits)", type="password",
                                      visible=app.protected, elem_id="admin-password")
        saved_user = gr.BrowserState(None, storage_key="stylist-user", secret=_browser_secret(app))
        demo.load(lambda saved: saved or guest_name(), inputs=saved_user, outputs=user)
        user.change(_remembered, inputs=user, outputs=saved_user)

        with gr.Tabs():
            with gr.Tab("Style", id="style"):
                outfit = _style_tab(app, user)
            with gr.Tab("Feedback", id="feedback") as feedback_tab:
                _feedback_tab(app, user, password, feedback_tab)
            with gr.Tab("Refine", id="refine") as refine_tab:
                _refine_tab(app, password, outfit, refine_tab)
            with gr.Tab("Catalog", id="catalog") as catalog_tab:
                _catalog_tab(app, password, catalog_tab)
    return demo


def _remembered(name: str) -> str | None:
    """What the browser keeps of the name box: the cleaned name, or nothing while it is blank."""
    try:
        return clean_user(name)
    except StylistError:
        return None


def _md(text: str) -> str:
    """Show text literally inside Markdown: escape HTML and the characters Markdown would act on."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!|~])", r"\\\1", html.escape(text.strip()))


def _browser_secret(app: Stylist) -> str:
    """A per-install secret so the remembered name survives restarts (BrowserState encrypts with it)."""
    path = app.data / "browser-secret"
    if not path.exists():
        path.write_text(secrets.token_hex(16))
    return path.read_text().strip()


# --- Style --------------------------------------------------------------------------------------------

def _style_tab(app: Stylist, user: gr.Textbox) -> dict:
    """Photos -> editable captions -> suggestion cards; returns the outfit inputs the Refine tab reuses."""
    n = app.config.max_photos
    with gr.Row():
        with gr.Column(scale=2, min_width=360):
            limit = f"1-{n}, jpg/png/webp, {app.config.max_upload_mb:g} MB max"
            files = gr.File(label=f"Your garment photos ({limit})", file_count="multiple", file_types=UPLOAD_TYPES,
                            elem_id="photos")
            examples = example_photos()
            gr.Markdown("...or click example photos to add them:", visible=bool(examples))
            gallery = gr.Gallery(examples, show_label=False, columns=4, height=262, object_fit="cover",
                                 allow_preview=False, visible=bool(examples), elem_id="examples")
        with gr.Column(scale=3):
            gr.Markdown("**What the app sees**: one caption per photo. Edit a caption if it is wrong.")
            with gr.Row():
                thumbs, texts = [], []
                for i in range(n):
                    with gr.Column(min_width=140):
                        thumbs.append(gr.Image(show_label=False, height=140, interactive=False, visible=False,
                                               buttons=[]))
                        texts.append(gr.Textbox(label=f"Photo {i + 1}", visible=i == 0, max_length=200,
                                                placeholder="no photo? type one, e.g. navy cotton t-shirt",
                                                elem_id=f"caption-{i}"))
            with gr.Row():
                occasion = gr.Dropdown(OCCASIONS, value="", label="Occasion (optional)", allow_custom_value=True)
                season = gr.Dropdown(SEASONS, value="", label="Season (optional)")
            go = gr.Button("Complete my outfit", variant="primary", elem_id="complete")

    cards = gr.State({})  # slot -> list of Card dicts
    votes = gr.State({})  # item id -> {"label", "event"}
    notice = gr.Markdown("Suggestions appear below when you press **Complete my outfit**.", elem_id="vote-notice")

    @_errors
    def add_example(current, evt: gr.SelectData):
        paths = [f if isinstance(f, str) else f.name for f in current or []]
        if len(paths) >= n:
            raise StylistError(f"at most {n} photos: remove one first")
        return paths + [evt.value["image"]["path"]]

    gallery.select(add_example, inputs=files, outputs=files)

    @_errors
    def caption(paths):
        paths = list(paths or [])
        found = app.caption(paths) if paths else []
        out = []
        for i in range(n):
            shown = i < len(found)
            out.append(gr.Image(value=paths[i] if shown else None, visible=shown))
        for i in range(n):
            shown = i < len(found)
            out.append(gr.Textbox(value=found[i] if shown else "", visible=shown or i == 0))
        return out

    files.change(caption, inputs=files, outputs=thumbs + texts, show_progress_on=files)

    @_errors
    def complete(name, occ, sea, *caps):
        groups = app.recommend(list(caps), occ, sea, user=name)
        found = sum(len(g) for g in groups.values())
        message = (f"{found} suggestions for {len(groups)} missing pieces, best first. *score*: how well the outfit "
                   "model thinks it completes your outfit; *for you*: the chance you like it, from your own votes.")
        return {slot: [asdict(c) for c in g] for slot, g in groups.items()}, {}, message

    go.click(complete, inputs=[user, occasion, season, *texts], outputs=[cards, votes, notice],
             show_progress_on=notice)

    @gr.render(inputs=[cards], triggers=[cards.change])
    def show(groups):
        for slot in sorted(groups, key=lambda s: SLOTS.index(s) if s in SLOTS else len(SLOTS)):
            with gr.Row(elem_classes="suggestions", equal_height=True):
                gr.Markdown(f"### {html.escape(slot)}", elem_classes="slot-name")
                for raw in groups[slot]:
                    _card(app, Card(**raw), user, votes, notice)
    return {"texts": texts, "occasion": occasion, "season": season}


def _card(app: Stylist, card: Card, user, votes, notice) -> None:
    """One suggestion: image, caption, score, reason, and the like/dislike pair (a second click undoes)."""
    with gr.Column(min_width=160, elem_classes="card"):
        gr.Image(card.image, show_label=False, height=130, interactive=False, buttons=[], container=False)
        for_you = f" · **for you {card.for_you:.2f}**" if card.for_you is not None else ""
        gr.Markdown(f"**{_md(card.title)}**  \nscore {card.score:.2f}{for_you}  \n{_md(card.reason)}",
                    elem_classes="card-text")
        with gr.Row():
            like = gr.Button(LIKE, size="sm", elem_classes="like")
            dislike = gr.Button(DISLIKE, size="sm", elem_classes="dislike")

    @_errors
    def click(label, name, state):
        state = dict(state)
        old = state.pop(card.item_id, None)
        if old:
            app.undo(name, old["event"])
        if old and old["label"] == label:
            message = f"Vote on *{card.title}* taken back."
        else:
            state[card.item_id] = {"label": label, "event": app.vote(name, card, label)}
            message = f"Recorded: you {label}d *{card.title}*."
        now = state.get(card.item_id, {}).get("label")
        return _vote_button(LIKE, now == "like"), _vote_button(DISLIKE, now == "dislike"), state, message

    like.click(lambda name, state: click("like", name, state), inputs=[user, votes],
               outputs=[like, dislike, votes, notice])
    dislike.click(lambda name, state: click("dislike", name, state), inputs=[user, votes],
                  outputs=[like, dislike, votes, notice])


def _vote_button(label: str, on: bool) -> gr.Button:
    """A recorded vote shows a tick and its colour; a second click on it undoes the vote."""
    return gr.Button(label + (" ✓" if on else ""), elem_classes=[f"voted-{label.lower()}"] if on else [])


# --- Feedback -----------------------------------------------------------------------------------------

def _feedback_tab(app: Stylist, user, password, tab) -> None:
    gr.Markdown("Your own votes, newest first. Select a row and press **Undo** to take a vote back.")
    counts = gr.Markdown(elem_id="counts")
    table = gr.Dataframe(headers=["id", "when", "label", "slot", "item", "adapter"], interactive=False,
                         elem_id="history")
    selected = gr.State(None)
    with gr.Row():
        undo = gr.Button("Undo selected vote", elem_id="undo")
        export = gr.Button("Export preference pairs (trl JSONL)", elem_id="export")
    download = gr.File(label="Preference pairs of all users (prompt, chosen, rejected)", interactive=False,
                       visible=False, elem_id="download")
    similar = gr.Markdown(elem_id="similar")

    @_errors
    def refresh(name):
        rows = app.history(name)
        c = app.counts(name)
        text = (f"**{_md(clean_user(name))}**: {c['like']} liked, {c['dislike']} disliked, "
                f"{c['undone']} taken back.")
        near = app.similar_users(name)
        sim = ("**Users with similar taste** (closest likes and dislikes, by the preference model): "
               + ", ".join(f"{_md(u)} ({s:.2f})" for u, s in near)
               if near else "*Users with similar taste appear here once you and others have voted.*")
        data = [[e.id, time.strftime("%Y-%m-%d %H:%M", time.localtime(e.time)), e.label, e.context.slot,
                 e.item_text, f"v{e.adapter_version}"] for e in rows]
        return text, data, sim

    tab.select(refresh, inputs=user, outputs=[counts, table, similar])

    def pick(evt: gr.SelectData):
        return evt.row_value[0] if evt.row_value else None

    table.select(pick, outputs=selected)

    @_errors
    def undo_vote(name, event):
        if event is None:
            raise StylistError("select a vote in the table first")
        app.undo(name, int(event))
        return refresh(name)

    undo.click(undo_vote, inputs=[user, selected], outputs=[counts, table, similar])
    export.click(_errors(lambda pw: gr.File(value=str(app.export(pw)), visible=True)), inputs=password,
                 outputs=download)


# --- Refine -------------------------------------------------------------------------------------------

def _refine_tab(app: Stylist, password, style: dict, tab) -> None:
    gr.Markdown("Retrain the suggestion model on everyone's likes and dislikes (DPO on the active LoRA adapter). "
                "It runs in the background: you can close this page and come back, and others keep getting "
                "suggestions meanwhile. The new version becomes active when it is done; you can switch back below.")
    pairs = gr.Markdown(elem_id="pair-count")
    with gr.Row():
        start = gr.Button("Refine on the feedback so far", variant="primary", elem_id="refine-start")
        stop = gr.Button("Stop", variant="stop", elem_id="refine-stop")
    progress = gr.HTML(_progress_html({}), elem_id="refine-progress")
    loss = gr.LinePlot(x="step", y="loss", title="DPO loss", height=220, elem_id="loss-plot")
    metrics = gr.Dataframe(headers=["metric", "before", "after", "measured on"], interactive=False, label="Before / after",
                           elem_id="refine-metrics")
    gr.Markdown("*preference_accuracy*: share of held-out pairs (outfits not trained on) where the liked item is "
                "more likely than the other one; *reward_accuracy*: the same for DPO's implicit reward; *fitb*: "
                "fill-in-the-blank accuracy on held-out Polyvore outfits (n/a when not measured).")
    gr.Markdown("### Adapter versions")
    versions = gr.Dataframe(interactive=False, elem_id="versions")
    with gr.Row():
        pick = gr.Dropdown(label="Version", choices=[], scale=2, elem_id="version-pick")
        activate = gr.Button("Activate", scale=1, elem_id="activate")
        rollback = gr.Button("Roll back to the previous version", scale=1, elem_id="rollback")
    gr.Markdown("### Old vs new adapter on the outfit from the Style tab")
    compare = gr.Button("Compare", elem_id="compare")
    with gr.Row():
        old_gallery = gr.Gallery(label="previous version", columns=3, height=420, allow_preview=False,
                                 elem_id="compare-old")
        new_gallery = gr.Gallery(label="active version", columns=3, height=420, allow_preview=False,
                                 elem_id="compare-new")

    seen = gr.State(None)
    timer = gr.Timer(1.0)

    def tick(last):
        status = app.refine_status()
        key = (status.get("started"), status.get("state"), status.get("step"), len(status.get("losses") or []))
        if key == last:  # nothing new: leave the page alone
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), last
        losses = status.get("losses") or []
        running = status.get("state") in RUNNING
        result = status.get("result") or {}
        return (_progress_html(status), _loss_frame(losses), gr.Button(interactive=not running),
                gr.Button(interactive=running), _metric_rows(result), key)

    timer.tick(tick, inputs=seen, outputs=[progress, loss, start, stop, metrics, seen], show_progress="hidden")

    def listing():
        versions = app.versions()
        active = next(v.name for v in versions if v.active)
        pairs, users = app.feedback_size()
        return (_versions_table(versions), gr.Dropdown(choices=[v.name for v in versions], value=active),
                f"Feedback so far: **{pairs} preference pairs** from {users} users (a pair is a liked suggestion "
                "and a disliked or passed-over one for the same outfit).")

    start.click(_errors(lambda pw: app.start_refine(pw)), inputs=password)
    stop.click(_errors(lambda pw: app.stop_refine(pw)), inputs=password)
    # the versions list follows the run: refresh it whenever the run state changes
    shown = [versions, pick, pairs]
    gr.on([seen.change, tab.select], listing, outputs=shown)
    activate.click(_errors(lambda v, pw: app.activate(v, pw)), inputs=[pick, password]).then(listing, outputs=shown)
    rollback.click(_errors(lambda pw: app.rollback(pw)), inputs=password).then(listing, outputs=shown)

    @_errors
    def side_by_side(occ, sea, *caps):
        (old_name, old), (new_name, new) = app.compare(list(caps), occ, sea)
        return (gr.Gallery(_gallery(old), label=f"before: {old_name}"),
                gr.Gallery(_gallery(new), label=f"after: {new_name} (active)"))

    compare.click(side_by_side, inputs=[style["occasion"], style["season"], *style["texts"]],
                  outputs=[old_gallery, new_gallery])


def _versions_table(versions: list) -> dict:
    rows = []
    for v in versions:
        after = v.metrics.get("after", {})
        rows.append([v.name + (" (active)" if v.active else ""),
                     "SFT adapter" if v.number == 0 else f"refined from v{v.parent}",
                     time.strftime("%Y-%m-%d %H:%M", time.localtime(v.created)) if v.created else "",
                     v.pairs, ", ".join(f"{k} {val:.3f}" for k, val in after.items() if isinstance(val, float))])
    return {"headers": ["version", "origin", "created", "trained on (pairs)", "metrics after"], "data": rows}


def _gallery(groups: dict[str, list[Card]]) -> list[tuple[str, str]]:
    return [(c.image, f"{c.title} · {c.score:.2f}") for found in groups.values() for c in found if c.image]


def _loss_frame(losses: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"step": range(1, len(losses) + 1), "loss": losses})


def _metric_rows(result: dict) -> list[list]:
    """Before / after of each metric, with what it was measured on: a figure on two held-out pairs is no result."""
    before, after, n = result.get("before", {}), result.get("after", {}), result.get("heldout_pairs", 0)
    pairs = f"{n} held-out pairs" + (" (too few to read)" if 0 < n < 20 else "")
    on = {"fitb": "held-out Polyvore outfits", "preference_accuracy": pairs, "reward_accuracy": pairs}
    return [[k, _fmt(before.get(k)), _fmt(after.get(k)), on.get(k, "")] for k in sorted(set(before) | set(after))]


def _fmt(value) -> str:
    """n/a: not measured (FITB switched off, no held-out pairs, or reward accuracy before training)."""
    return f"{value:.3f}" if isinstance(value, float) else ("n/a" if value is None else str(value))


def _progress_html(status: dict) -> str:
    state = status.get("state") or "idle"
    step, total = status.get("step") or 0, status.get("total") or 0
    fraction = 1.0 if state == "done" else (step / total if total else 0.0)
    if state == "failed":
        detail = status.get("error") or "failed"
    elif state == "done":
        detail = f"v{status.get('version')} is now the active adapter"
    else:
        detail = f"step {step} of {total}" if total else ""
    detail = html.escape(str(detail))
    return (f'<div id="refine-state" data-state="{html.escape(state)}"><b>{html.escape(state)}</b> '
            f"{fraction:.0%} {detail}</div><div class='progress'><div style='width:{fraction:.0%}'></div></div>")


# --- Catalog ------------------------------------------------------------------------------------------

SHOWN = 120  # catalog items drawn at once


def _catalog_tab(app: Stylist, password, tab) -> None:
    gr.Markdown("The catalog the suggestions come from. Search by colour, "
                "pattern, material or garment (e.g. *navy striped*), or add your own photos: they are captioned "
                "on the way in.")
    with gr.Row():
        query = gr.Textbox(label="Search", placeholder="e.g. red dress", scale=3, elem_id="catalog-search")
        found = gr.Markdown(elem_id="catalog-count")
    gallery = gr.Gallery(label="Catalog", columns=6, height=520, allow_preview=True, elem_id="catalog-gallery")
    with gr.Accordion("Add photos to the catalog", open=False):
        uploads = gr.File(label="Photos (jpg, png or webp)", file_count="multiple",
                          file_types=UPLOAD_TYPES, elem_id="catalog-upload")
        add = gr.Button("Caption and add", elem_id="catalog-add")
        added = gr.Markdown(elem_id="catalog-added")

    def search(text):
        items = app.search(text or "", limit=len(app.catalog))
        shown = [(i.image, i.text) for i in items if i.image][:SHOWN]
        return shown, f"{len(items)} of {len(app.catalog)} items match; showing {len(shown)}"

    gr.on([tab.select, query.submit, query.change], search, inputs=query, outputs=[gallery, found],
          trigger_mode="always_last")

    @_errors
    def add_photos(paths, pw):
        items = app.add_photos(list(paths or []), pw)
        return ("Added: " + "; ".join(_md(i.text) for i in items), [(i.image, i.text) for i in items],
                f"{len(items)} new items (now {len(app.catalog)} in the catalog)")

    add.click(add_photos, inputs=[uploads, password], outputs=[added, gallery, found])
