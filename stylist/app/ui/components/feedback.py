"""The Feedback tab: a visitor's own votes (with undo), the export of everyone's preference pairs, and
the users whose taste is closest."""

from __future__ import annotations

import gradio as gr

from stylist.app.access import clean_user
from stylist.app.service import Stylist
from stylist.app.ui.common import Components, clock, md, one_line_errors
from stylist.core.errors import StylistError


def create_feedback_tab(app: Stylist, user: gr.Textbox, password: gr.Textbox) -> Components:
    """The vote history of the visitor named in `user`; export needs the admin `password`. Returns the `tab`."""
    with gr.Tab("Feedback", id="feedback") as tab:
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

    @one_line_errors
    def refresh(name):
        rows = app.votes.history(name)
        c = app.votes.counts(name)
        text = (f"**{md(clean_user(name))}**: {c['like']} liked, {c['dislike']} disliked, "
                f"{c['undone']} taken back.")
        near = app.votes.similar_users(name)
        sim = ("**Users with similar taste** (closest likes and dislikes, by the preference model): "
               + ", ".join(f"{md(u)} ({s:.2f})" for u, s in near)
               if near else "*Users with similar taste appear here once you and others have voted.*")
        data = [[e.id, clock(e.time), e.label, e.context.slot, e.item_text, f"v{e.adapter_version}"] for e in rows]
        return text, data, sim

    tab.select(refresh, inputs=user, outputs=[counts, table, similar])

    def pick(evt: gr.SelectData):
        return evt.row_value[0] if evt.row_value else None

    table.select(pick, outputs=selected)

    @one_line_errors
    def undo_vote(name, event):
        if event is None:
            raise StylistError("select a vote in the table first")
        app.votes.undo(name, int(event))
        return refresh(name)

    undo.click(undo_vote, inputs=[user, selected], outputs=[counts, table, similar])
    export.click(one_line_errors(lambda pw: gr.File(value=str(app.votes.export(pw)), visible=True)),
                 inputs=password, outputs=download)
    return {"tab": tab}
