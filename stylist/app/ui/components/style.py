"""The Style tab: garment photos -> editable captions -> suggestion cards with Like / Dislike.

The cards are a fixed grid (one row per slot, `per_slot` cards each) made once with the page and filled with each
answer, not components rendered anew: a click is never lost to a re-render. An answer sets values only (each
card's HTML, each row's name): Gradio builds a new component for every property update, even a skip, which
for this grid cost more than a recommendation. So a card without HTML, and a row without cards, are hidden by
the page's CSS, and a vote is shown on the card's HTML (`data-vote`), which colours and ticks its button.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Iterable
from dataclasses import asdict

import gradio as gr

from stylist.app.active_catalog import example_photos
from stylist.app.service import Stylist
from stylist.app.suggestions import Card
from stylist.app.ui.common import (
    UPLOAD_TYPES,
    Components,
    api_value,
    card_html,
    md,
    one_line_errors,
    slot_order,
)
from stylist.core.errors import StylistError
from stylist.core.prompts import CAPTION_CHARS
from stylist.core.vocabulary import (
    OCCASION_WORDS,
    OCCASIONS,
    SEASON_WORDS,
    SEASONS,
    SLOTS,
    read_occasion_season,
)

LIKE, DISLIKE = "Like", "Dislike"
NOTICE = "Your votes are acknowledged here."
EXPLAINED = "Suggestions appear below when you press **Complete my outfit**."
KEPT = 2  # renderings a page's state keeps: a click on cards being replaced still counts for the card clicked
SCORE_HELP = ("*score*: how well the piece goes with your outfit, as the outfit model judges it (its likelihood "
              "with your items against on its own, plus how often such pieces are worn together); higher is better, "
              "and it compares the pieces of one row only. *for you*, once you have voted: the chance you like the "
              "piece, learned from your own likes and dislikes; it stays near 0.50 until you have about ten votes. "
              "Each row is best first: by score until you vote, then by score and your taste together.")


def create_style_tab(app: Stylist, visitor: gr.State) -> Components:
    """Photos -> editable captions -> suggestion cards; returns the outfit inputs the Refine tab reuses
    (`texts`: the caption boxes, `occasion`, `season`) and the `tab`."""
    n = app.config.max_photos
    with gr.Tab("Style", id="style") as tab:
        with gr.Row():
            with gr.Column(scale=2, min_width=360):
                limit = f"1-{n}, jpg/png/webp, {app.config.max_upload_mb:g} MB max"
                files = gr.File(label=f"Your garment photos ({limit})", file_count="multiple",
                                file_types=UPLOAD_TYPES, elem_id="photos")
                examples = example_photos()
                gr.Markdown("...or click example photos to add them:", visible=bool(examples))
                gallery = gr.Gallery(examples, show_label=False, columns=4, height=262, object_fit="cover",
                                     allow_preview=False, visible=bool(examples), elem_id="examples")
            with gr.Column(scale=3):
                gr.Markdown("**What the app sees**: one caption per photo. Edit a caption if it is wrong.")
                with gr.Row():
                    thumbs, texts = [], []
                    for i in range(n):
                        with gr.Column(min_width=240):  # "navy denim trousers" on one line
                            thumbs.append(gr.Image(show_label=False, height=140, interactive=False, visible=False,
                                                   buttons=[]))
                            texts.append(gr.Textbox(label=f"Photo {i + 1}", visible=i == 0, max_length=10 * CAPTION_CHARS,
                                                    placeholder="no photo? type one, e.g. navy cotton t-shirt",
                                                    elem_id=f"caption-{i}"))
                with gr.Row():
                    occasion = gr.Dropdown(_choices(OCCASIONS, OCCASION_WORDS), value="", label="Occasion (optional)",
                                           allow_custom_value=True)
                    season = gr.Dropdown(_choices(SEASONS, SEASON_WORDS), value="", label="Season (optional)",
                                         allow_custom_value=True)
                    pieces = gr.Dropdown([(s.capitalize(), s) for s in SLOTS], value=[], multiselect=True,
                                         label="Only these pieces (optional)", elem_id="pieces")
                go = gr.Button("Complete my outfit", variant="primary", elem_id="complete")

        shown = gr.State({})  # rendering key -> {slot: [Card dicts]}, the latest KEPT renderings
        key = gr.Textbox(visible="hidden", elem_id="cards-key")  # the rendering this page shows, sent with a click
        votes = gr.State({})  # item id -> {"label", "event"}
        # the votes' line: an answer does not write here, so a vote acknowledged while new cards come stays shown
        notice = gr.Markdown(NOTICE, elem_id="vote-notice")
        explained = gr.Markdown(EXPLAINED, elem_id="score-help")  # then how many, and SCORE_HELP
        grid = [_slot_row(app.config.per_slot) for _ in SLOTS]

        # suggestions (and the last vote's line) belong to the outfit they were made for: new photos or an edited
        # caption clear them, so nothing under the new outfit was made for the old one
        stale = [shown, votes, key, explained, notice, *_grid_outputs(grid)]
        cleared = lambda: [{}, {}, "", EXPLAINED, NOTICE, *[""] * (len(stale) - 5)]
        for source in (files.change, *(box.change for box in texts)):
            source(cleared, outputs=stale, queue=False, api_visibility="private", show_progress="hidden")

        @one_line_errors
        def add_example(current, evt: gr.SelectData):
            paths = [f if isinstance(f, str) else f.name for f in current or []]
            if len(paths) >= n:
                raise StylistError(f"at most {n} photos: remove one first")
            return paths + [evt.value["image"]["path"]]

        gallery.select(add_example, inputs=files, outputs=files, api_visibility="private")

        @one_line_errors
        def caption(paths, request: gr.Request):
            paths = list(paths or [])
            found = app.suggestions.caption(paths, request.client.host if request.client else None) if paths else []
            out = []
            for i in range(n):
                out.append(gr.Image(value=paths[i] if i < len(found) else None, visible=i < len(found)))
            for i in range(n):
                out.append(gr.Textbox(value=found[i] if i < len(found) else "", visible=i < len(found) or i == 0))
            return out

        # the boxes are locked while captions are computed, so a correction typed meanwhile is never overwritten
        files.change(lambda: [gr.Textbox(interactive=False)] * n, outputs=texts, queue=False,
                     api_visibility="private", show_progress="hidden"
                     ).then(caption, inputs=files, outputs=thumbs + texts, show_progress_on=files, api_name="caption"
                            ).then(lambda: [gr.Textbox(interactive=True)] * n, outputs=texts, queue=False,
                                   api_visibility="private", show_progress="hidden")

        @one_line_errors
        def complete(token, kept, occ, sea, asked, *caps):
            """Suggestions as a new rendering, kept beside the one before it (see `click`), and shown in the same
            answer: `key` changes with the cards it names, so a click always names the card it was made on."""
            groups = app.suggestions.recommend(list(caps), occ, sea, token=token or "", slots=asked)
            notes = app.access.outfit_notes(list(caps), occ, sea)
            found = sum(len(g) for g in groups.values())
            rendering = secrets.token_hex(6)
            cards = {s: [asdict(c) for c in g] for s, g in groups.items()}
            kept = dict(list(kept.items())[-KEPT + 1:]) | {rendering: cards}
            summary = f"**{found} suggestions for {len(groups)} missing pieces, best first.**" + "".join(
                f" *Note: {md(note)}.*" for note in notes)
            slots = slot_order(cards)
            out = [kept, {}, rendering, f"{summary} {SCORE_HELP}" if cards else summary]
            for r, row in enumerate(grid):
                shown = cards[slots[r]] if r < len(slots) else []
                asked = f" · the model asked for: *{md(shown[0]['asked_for'])}*" if shown and shown[0]["asked_for"] else ""
                out.append(f"### {md(slots[r])}{asked}" if shown else "")
                out += [_card_body(rendering, shown[c]) if c < len(shown) else "" for c in range(len(row["bodies"]))]
            return out

        go.click(complete, inputs=[visitor, shown, occasion, season, pieces, *texts],
                 outputs=[shown, votes, key, explained, *_grid_outputs(grid)], show_progress_on=explained,
                 api_name="complete")

        @one_line_errors
        def click(row: int, col: int, label: str, token, rendering, kept, state):
            """A vote on the card at (row, col) of the rendering the page showed when it was clicked, even if a
            newer one arrived meanwhile (then the card shown there, a newer one, is left as it is)."""
            groups = kept.get(rendering)
            slots = slot_order(groups or {})
            if groups is None or row >= len(slots) or col >= len(groups[slots[row]]):
                raise StylistError("these suggestions are no longer shown: press Complete my outfit again")
            fields = groups[slots[row]][col]
            card = Card(**fields)
            state = dict(state)
            old = state.pop(card.item_id, None)
            event = app.votes.click(token, card, label, old and (old["label"], old["event"]))
            if event is None:
                message = f"Vote on *{md(card.title)}* taken back."
            else:
                state[card.item_id] = {"label": label, "event": event}
                message = f"Recorded: you {label}d *{md(card.title)}*."
            if rendering != list(kept)[-1]:
                return gr.skip(), state, message
            return _card_body(rendering, fields, state.get(card.item_id, {}).get("label", "")), state, message

        for r, row in enumerate(grid):
            for c, (body, (like, dislike)) in enumerate(zip(row["bodies"], row["buttons"])):
                for button, label in ((like, "like"), (dislike, "dislike")):
                    button.click(lambda *a, r=r, c=c, label=label: click(r, c, label, *a),
                                 inputs=[visitor, key, shown, votes], outputs=[body, votes, notice],
                                 api_visibility="private", show_progress="hidden")

        # the same for an API client (gradio_client), which has no grid to click: the latest suggestions as data,
        # and a vote or its undo on a card named by its slot and rank
        def suggestions(kept, state) -> dict:
            """The latest suggestions: {slot: [{rank, item_id, title, score, for_you, reason, vote}]}, best first."""
            cards = list(kept.values())[-1] if kept else {}
            return {slot: [{"rank": rank, "item_id": c["item_id"], "title": c["title"], "score": round(c["score"], 4),
                            "for_you": c["for_you"], "reason": c["reason"],
                            "vote": state.get(c["item_id"], {}).get("label", "")}
                           for rank, c in enumerate(cards[slot], 1)] for slot in slot_order(cards)}

        def vote(token, kept, state, slot: str, rank: int, label: str):
            """Like or dislike the card of rank `rank` (1: the best) in the row of `slot` of the latest suggestions;
            a switch replaces the vote before it, the same vote again changes nothing."""
            row, col, item, title = _named_card(kept, slot, rank)
            if state.get(item, {}).get("label") == label:
                return state, f"Recorded: you {label}d *{md(title)}*."
            return click(row, col, label, token, list(kept)[-1], kept, state)[1:]

        def undo(token, kept, state, slot: str, rank: int):
            """Take back the vote on that card."""
            row, col, item, title = _named_card(kept, slot, rank)
            if item not in state:
                raise StylistError(f"you have no vote on {title} to take back")
            return click(row, col, state[item]["label"], token, list(kept)[-1], kept, state)[1:]

        which = [api_value("slot", "string"), api_value("rank", "integer", 1)]
        message = api_value("message", "string")
        gr.on([], suggestions, inputs=[shown, votes], outputs=api_value("suggestions", "object"),
              api_name="suggestions", queue=False)
        gr.on([], vote, inputs=[visitor, shown, votes, *which, api_value("label", "string")], outputs=[votes, message],
              api_name="vote")
        gr.on([], undo, inputs=[visitor, shown, votes, *which], outputs=[votes, message], api_name="undo")
    return {"tab": tab, "texts": texts, "occasion": occasion, "season": season, "pieces": pieces}


def _named_card(kept: dict, slot: object, rank: object) -> tuple[int, int, str, str]:
    """(row, column, item id, title) of the card an API client names by slot and rank in the latest suggestions."""
    cards = list(kept.values())[-1] if kept else {}
    slots = slot_order(cards)
    if slot not in slots:
        shown = ", ".join(slots) or "none: call /complete first"
        raise StylistError(f"no suggestions for {str(slot)[:20]!r} are shown (shown: {shown})")
    row = cards[slot]
    if not isinstance(rank, int) or not 1 <= rank <= len(row):
        raise StylistError(f"rank must be a whole number from 1 to {len(row)} for {slot}")
    return slots.index(slot), rank - 1, row[rank - 1]["item_id"], row[rank - 1]["title"]


def _choices(names: Iterable[str], words: Iterable[str]) -> list[tuple[str, str]]:
    """A dropdown's choices: "any" (sent as no value) first, then the vocabulary's words, then the everyday words
    the server reads as one of them (with what they are read as)."""
    read = [(word, read_occasion_season(word, None) if word in OCCASION_WORDS else read_occasion_season(None, word))
            for word in words]
    return [("any", ""), *((name, name) for name in names), *((notes[0], word) for word, (*_, notes) in read)]


def _slot_row(per_slot: int) -> dict:
    """One slot's row of the grid: its name, then `per_slot` cards (hidden by the page's CSS while empty)."""
    with gr.Row(elem_classes="suggestions", equal_height=True):
        name = gr.Markdown(elem_classes="slot-name")
        bodies, buttons = [], []
        for _ in range(per_slot):
            with gr.Column(min_width=160, elem_classes="card"):
                bodies.append(gr.HTML(elem_classes="card-text"))
                with gr.Row():
                    buttons.append((gr.Button(LIKE, size="sm", elem_classes="like"),
                                    gr.Button(DISLIKE, size="sm", elem_classes="dislike")))
    return {"name": name, "bodies": bodies, "buttons": buttons}


def _grid_outputs(grid: list[dict]) -> list:
    """The grid's components in the order `complete` fills them: per row its name, then its cards' HTML."""
    return [component for row in grid for component in (row["name"], *row["bodies"])]


def _card_body(rendering: str, fields: dict, vote: str = "") -> str:
    """A card's HTML: it names its rendering (so a page, or a test, can tell new cards from old) and the vote
    on it ("like", "dislike" or ""), which the page's CSS shows on its buttons."""
    return (f'<div class="card-body" data-rendering="{html.escape(rendering)}" data-vote="{vote}">'
            f'{card_html(Card(**fields), True)}</div>')
