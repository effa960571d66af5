"""The Style tab: garment photos -> editable captions -> suggestion cards with Like / Dislike."""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import asdict

import gradio as gr

from stylist.app.service import Stylist
from stylist.app.shop import example_photos
from stylist.app.style import Card
from stylist.app.ui.common import UPLOAD_TYPES, Components, md, one_line_errors
from stylist.core.errors import StylistError
from stylist.core.vocabulary import OCCASIONS, SEASONS, SLOTS

LIKE, DISLIKE = "Like", "Dislike"


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
                        with gr.Column(min_width=140):
                            thumbs.append(gr.Image(show_label=False, height=140, interactive=False, visible=False,
                                                   buttons=[]))
                            texts.append(gr.Textbox(label=f"Photo {i + 1}", visible=i == 0, max_length=200,
                                                    placeholder="no photo? type one, e.g. navy cotton t-shirt",
                                                    elem_id=f"caption-{i}"))
                with gr.Row():
                    occasion = gr.Dropdown(_choices(OCCASIONS), value="", label="Occasion (optional)",
                                           allow_custom_value=True)
                    season = gr.Dropdown(_choices(SEASONS), value="", label="Season (optional)")
                go = gr.Button("Complete my outfit", variant="primary", elem_id="complete")

        cards = gr.State({})  # slot -> list of Card dicts
        votes = gr.State({})  # item id -> {"label", "event"}
        notice = gr.Markdown("Suggestions appear below when you press **Complete my outfit**.", elem_id="vote-notice")

        @one_line_errors
        def add_example(current, evt: gr.SelectData):
            paths = [f if isinstance(f, str) else f.name for f in current or []]
            if len(paths) >= n:
                raise StylistError(f"at most {n} photos: remove one first")
            return paths + [evt.value["image"]["path"]]

        gallery.select(add_example, inputs=files, outputs=files, api_visibility="private")

        @one_line_errors
        def caption(paths):
            paths = list(paths or [])
            found = app.style.caption(paths) if paths else []
            out = []
            for i in range(n):
                shown = i < len(found)
                out.append(gr.Image(value=paths[i] if shown else None, visible=shown))
            for i in range(n):
                shown = i < len(found)
                out.append(gr.Textbox(value=found[i] if shown else "", visible=shown or i == 0))
            return out

        files.change(caption, inputs=files, outputs=thumbs + texts, show_progress_on=files, api_name="caption")

        @one_line_errors
        def complete(token, occ, sea, *caps):
            groups = app.style.recommend(list(caps), occ, sea, token=token or "")
            found = sum(len(g) for g in groups.values())
            message = (f"{found} suggestions for {len(groups)} missing pieces, best first. *score*: how well the "
                       "outfit model thinks it completes your outfit; *for you*: the chance you like it, from your "
                       "own votes.")
            return {slot: [asdict(c) for c in g] for slot, g in groups.items()}, {}, message

        go.click(complete, inputs=[visitor, occasion, season, *texts], outputs=[cards, votes, notice],
                 show_progress_on=notice, api_name="complete")

        @gr.render(inputs=[cards], triggers=[cards.change])
        def show(groups):
            for slot in sorted(groups, key=lambda s: SLOTS.index(s) if s in SLOTS else len(SLOTS)):
                with gr.Row(elem_classes="suggestions", equal_height=True):
                    gr.Markdown(f"### {html.escape(slot)}", elem_classes="slot-name")
                    for raw in groups[slot]:
                        _card(app, Card(**raw), visitor, votes, notice)
    return {"tab": tab, "texts": texts, "occasion": occasion, "season": season}


def _choices(names: Iterable[str]) -> list[tuple[str, str]]:
    """A dropdown's choices: "any" (sent as no value) first, then the vocabulary's words."""
    return [("any", ""), *((name, name) for name in names)]


def _card(app: Stylist, card: Card, visitor: gr.State, votes: gr.State, notice: gr.Markdown) -> None:
    """One suggestion: image, caption, score, reason, and the like/dislike pair (a second click undoes)."""
    with gr.Column(min_width=160, elem_classes="card"):
        gr.Image(card.image, show_label=False, height=130, interactive=False, buttons=[], container=False)
        for_you = f" · **for you {card.for_you:.2f}**" if card.for_you is not None else ""
        gr.Markdown(f"**{md(card.title)}**  \nscore {card.score:.2f}{for_you}  \n{md(card.reason)}",
                    elem_classes="card-text")
        with gr.Row():
            like = gr.Button(LIKE, size="sm", elem_classes="like")
            dislike = gr.Button(DISLIKE, size="sm", elem_classes="dislike")

    @one_line_errors
    def click(label, token, state):
        state = dict(state)
        old = state.pop(card.item_id, None)
        if old:
            app.votes.undo(token, old["event"])
        if old and old["label"] == label:
            message = f"Vote on *{card.title}* taken back."
        else:
            state[card.item_id] = {"label": label, "event": app.votes.vote(token, card, label)}
            message = f"Recorded: you {label}d *{card.title}*."
        now = state.get(card.item_id, {}).get("label")
        return _vote_button(LIKE, now == "like"), _vote_button(DISLIKE, now == "dislike"), state, message

    for button, label in ((like, "like"), (dislike, "dislike")):
        button.click(lambda token, state, label=label: click(label, token, state), inputs=[visitor, votes],
                     outputs=[like, dislike, votes, notice], api_visibility="private")


def _vote_button(label: str, on: bool) -> gr.Button:
    """A recorded vote shows a tick and its colour; a second click on it undoes the vote."""
    return gr.Button(label + (" ✓" if on else ""), elem_classes=[f"voted-{label.lower()}"] if on else [])
