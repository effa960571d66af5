"""The Catalog tab: search what the suggestions come from, and add captioned photos to it."""

from __future__ import annotations

import gradio as gr

from stylist.app.service import Stylist
from stylist.app.ui.common import UPLOAD_TYPES, Components, md, one_line_errors

SHOWN = 120  # catalog items drawn at once


def create_catalog_tab(app: Stylist, password: gr.Textbox) -> Components:
    """Search and browse the catalog; adding photos needs the admin `password`. Returns the `tab`."""
    with gr.Tab("Catalog", id="catalog") as tab:
        gr.Markdown("The catalog the suggestions come from. Search by colour, "
                    "pattern, material or garment (e.g. *navy striped*), or add your own photos: they are captioned "
                    "on the way in.")
        with gr.Row():
            query = gr.Textbox(label="Search", placeholder="e.g. red dress", scale=3, elem_id="catalog-search",
                               max_length=app.config.search_chars)
            found = gr.Markdown(elem_id="catalog-count")
        gallery = gr.Gallery(label="Catalog", columns=6, height=520, allow_preview=True, elem_id="catalog-gallery")
        with gr.Accordion("Add photos to the catalog", open=False):
            uploads = gr.File(label="Photos (jpg, png or webp)", file_count="multiple",
                              file_types=UPLOAD_TYPES, elem_id="catalog-upload")
            add = gr.Button("Caption and add", elem_id="catalog-add")
            added = gr.Markdown(elem_id="catalog-added")

    def search(text):
        items = app.catalog.search(text or "", limit=len(app.catalog))
        shown = [(i.image, i.text) for i in items if i.image][:SHOWN]
        return shown, f"{len(items)} of {len(app.catalog)} items match; showing {len(shown)}"

    gr.on([tab.select, query.submit, query.change], search, inputs=query, outputs=[gallery, found],
          trigger_mode="always_last", api_name="search")

    @one_line_errors
    def add_photos(paths, pw):
        items = app.catalog.add_photos(list(paths or []), pw)
        return ("Added: " + "; ".join(md(i.text) for i in items), [(i.image, i.text) for i in items],
                f"{len(items)} new items (now {len(app.catalog)} in the catalog)")

    add.click(add_photos, inputs=[uploads, password], outputs=[added, gallery, found], api_visibility="private")
    return {"tab": tab}
