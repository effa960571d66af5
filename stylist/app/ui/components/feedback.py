"""The Feedback tab: a visitor's own votes (with undo), the export of everyone's feedback (trl pairs or a dataset),
and the visitors whose taste is closest."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from stylist.app.service import Stylist
from stylist.app.ui.common import Components, clock, md, one_line_errors
from stylist.app.votes import remove_later
from stylist.core.errors import StylistError


def create_feedback_tab(app: Stylist, visitor: gr.State, password: gr.Textbox) -> Components:
    """The vote history of the page's `visitor` (its signed token); export needs the admin `password`.
    Returns the `tab`."""
    with gr.Tab("Feedback", id="feedback") as tab:
        gr.Markdown("Your own votes, newest first. Select a row and press **Undo** to take a vote back.")
        counts = gr.Markdown(elem_id="counts")
        table = gr.Dataframe(headers=["id", "when", "label", "slot", "item", "adapter"], interactive=False,
                             elem_id="history")
        selected = gr.State(None)
        with gr.Row():
            undo = gr.Button("Undo selected vote", elem_id="undo")
            form = gr.Radio([("preference pairs (trl JSONL)", "trl"),
                             ("dataset: votes, pairs and unpaired votes (parquet + card, zip)", "dataset")],
                            value="trl", label="Export format", elem_id="export-format")
            export = gr.Button("Export everyone's feedback", elem_id="export")
        download = gr.File(label="Feedback of all users", interactive=False, visible=False, elem_id="download")
        similar = gr.Markdown(elem_id="similar")

    @one_line_errors
    def refresh(token):
        rows = app.votes.history(token)
        c = app.votes.counts(token)
        text = (f"**{md(app.visitors.name(app.visitors.verify(token)))}**: {c['like']} liked, "
                f"{c['dislike']} disliked, {c['undone']} taken back.")
        near = app.votes.similar_users(token)
        sim = ("**Visitors with similar taste** (closest likes and dislikes, by the preference model): "
               + ", ".join(f"{md(u)} ({s:.2f})" for u, s in near)
               if near else "*Visitors with similar taste appear here once you and others have voted.*")
        data = [[e.id, clock(e.time), e.label, e.context.slot, e.item_text, f"v{e.adapter_version}"] for e in rows]
        return text, data, sim

    tab.select(refresh, inputs=visitor, outputs=[counts, table, similar], api_visibility="private")

    def pick(evt: gr.SelectData):
        return evt.row_value[0] if evt.row_value else None

    table.select(pick, outputs=selected, api_visibility="private")

    @one_line_errors
    def undo_vote(token, event):
        if event is None:
            raise StylistError("select a vote in the table first")
        app.votes.undo(token, int(event))
        return refresh(token)

    undo.click(undo_vote, inputs=[visitor, selected], outputs=[counts, table, similar], api_visibility="private")

    @one_line_errors
    def export_pairs(pw, chosen):
        path = app.votes.export(pw, chosen)
        served = Path(download.move_resource_to_block_cache(str(path)))  # the copy the download link names
        remove_later(served.parent, app.config.export_seconds)  # gone with the export itself
        return gr.File(value=str(served), visible=True)

    export.click(export_pairs, inputs=[password, form], outputs=download, api_visibility="private")
    return {"tab": tab}
