"""The Gradio page: the name box, then Style, Feedback, Refine and Catalog tabs over one shared `Stylist`.

Only layout and event wiring live in `ui/`; every action is a `Stylist` method (see service.py). Each tab is
built by its own `components/` module, so this file shows the whole page at a glance. User text shown back
in HTML is escaped; Markdown components sanitise HTML themselves.

    python app.py            # then open http://127.0.0.1:7860
"""

from __future__ import annotations

import secrets

import gradio as gr

from stylist.app.access import clean_user, guest_name
from stylist.app.service import Stylist
from stylist.app.ui.components.catalog import create_catalog_tab
from stylist.app.ui.components.feedback import create_feedback_tab
from stylist.app.ui.components.refine import create_refine_tab
from stylist.app.ui.components.style import create_style_tab
from stylist.core.errors import StylistError

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


def build_ui(app: Stylist) -> gr.Blocks:
    """The whole page. State that belongs to one visitor lives in gr.State / gr.BrowserState."""
    with gr.Blocks(title="stylist") as demo:
        with gr.Row():
            gr.Markdown(INTRO, elem_id="intro")
            with gr.Column(scale=0, min_width=360):
                user = gr.Textbox(label="Your name (remembered in this browser)", max_length=40, elem_id="user-name")
                password = gr.Textbox(label="Admin password (refine, export, catalog edits)", type="password",
                                      visible=app.access.protected, elem_id="admin-password")
        saved_user = gr.BrowserState(None, storage_key="stylist-user", secret=_browser_secret(app))
        demo.load(lambda saved: saved or guest_name(), inputs=saved_user, outputs=user)
        user.change(_remembered, inputs=user, outputs=saved_user)

        with gr.Tabs():
            style = create_style_tab(app, user)
            create_feedback_tab(app, user, password)
            create_refine_tab(app, password, style)
            create_catalog_tab(app, password)
    return demo


def _remembered(name: str) -> str | None:
    """What the browser keeps of the name box: the cleaned name, or nothing while it is blank."""
    try:
        return clean_user(name)
    except StylistError:
        return None


def _browser_secret(app: Stylist) -> str:
    """A per-install secret so the remembered name survives restarts (BrowserState encrypts with it)."""
    path = app.data / "browser-secret"
    if not path.exists():
        path.write_text(secrets.token_hex(16))
    return path.read_text().strip()
