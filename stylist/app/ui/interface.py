"""The Gradio page: the name box, then Style, Feedback, Refine and Catalog tabs over one shared `Stylist`.

A page is known by the signed visitor token the server issues on load (visitors.py); the token lives in the
page's server-side gr.State, which every handler reads, and in the browser (gr.BrowserState) so the same visitor
comes back after a reload. The public API is what a script needs for a visit (README, "Use it from Python"):
caption, complete, search, and for an API client, which has no page load and no card grid, visitor,
suggestions, vote and undo; every other handler answers the page only.

Only layout and event wiring live in `ui/`; every action is a `Stylist` method (see service.py). Each tab is
built by its own `components/` module, so this file shows the whole page at a glance. User text shown back
in HTML is escaped; Markdown components sanitise HTML themselves.

    python app.py            # then open http://127.0.0.1:7860
"""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from stylist.app.config import AppConfig
from stylist.app.service import Stylist
from stylist.app.ui.common import api_value, guard_choices, one_line_errors
from stylist.app.ui.components.catalog import create_catalog_tab
from stylist.app.ui.components.feedback import create_feedback_tab
from stylist.app.ui.components.refine import create_refine_tab
from stylist.app.ui.components.style import create_style_tab
from stylist.app.visitors import install_secret

INTRO = """# stylist: complete your outfit

1. **Add 1-4 photos** of garments you want to wear (or click an example photo).
2. **Check the captions** the app wrote; fix them if they are wrong.
3. **Get suggestions** from the catalog for each missing piece, and tell the app what you think with
   Like / Dislike. Click again to take a vote back. Your votes are kept for this browser, and the **Refine** tab
   retrains the suggestion model on everyone's votes."""

CSS = """
.card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 6px; }
.slot-name { max-width: 110px; min-width: 90px !important; text-transform: capitalize; }
.card-text img { width: 100%; height: 130px; object-fit: contain; }
.card-text p { font-size: 0.85em; line-height: 1.3; margin: 2px 0; }
.no-photo { height: 130px; display: flex; align-items: center; justify-content: center; opacity: 0.6; }
.compare-row { display: flex; gap: 8px; align-items: flex-start; margin-bottom: 8px; }
.compare-row > h4 { width: 90px; flex: none; text-transform: capitalize; margin: 0; }
.compare-row > div { width: 140px; flex: none; }
.compare-row img { width: 100%; height: 110px; object-fit: contain; }
.compare-row p { font-size: 0.85em; line-height: 1.3; margin: 2px 0; }
.suggestions:not(:has(.card-body)), .card:not(:has(.card-body)) { display: none !important; }
.card:has(.card-body[data-vote=like]) button.like { background: #2e7d32 !important; color: white !important; }
.card:has(.card-body[data-vote=dislike]) button.dislike { background: #b23b3b !important; color: white !important; }
.card:has(.card-body[data-vote=like]) button.like::after,
.card:has(.card-body[data-vote=dislike]) button.dislike::after { content: "\\00a0✓"; }
.progress { height: 14px; background: #e3e5ee; border-radius: 7px; overflow: hidden; margin-top: 6px; }
.progress > div { height: 100%; background: #5b63d3; transition: width 0.5s; }
#refine-state[data-state=failed] b { color: #b23b3b; }
#refine-state[data-state=done] b { color: #2e7d32; }
"""
THEME = gr.themes.Soft(primary_hue="indigo")


def build_ui(app: Stylist) -> gr.Blocks:
    """The whole page. State that belongs to one visitor lives in gr.State / gr.BrowserState."""
    age = app.config.cache_seconds
    with gr.Blocks(title="stylist", delete_cache=(max(age // 4, 60), age)) as demo:
        with gr.Row():
            gr.Markdown(INTRO, elem_id="intro")
            with gr.Column(scale=0, min_width=360):
                name = gr.Textbox(label="Your name (as the app shows it)", max_length=40, elem_id="user-name")
                share = gr.Checkbox(False, label="show my name to others with similar taste", elem_id="share-name")
                password = gr.Textbox(label="Admin password (refine, export, catalog edits)", type="password",
                                      visible=app.access.protected, elem_id="admin-password")
        visitor = gr.State(None)  # this page's signed visitor token, kept on the server
        saved = gr.BrowserState(None, storage_key="stylist-visitor", secret=_browser_secret(app))

        def welcome(token: str | None, request: gr.Request):
            """Keep the browser's token if it is valid (and the signed-in login's), else issue a new one."""
            token = _renewed(app, token, request)
            who = app.visitors.verify(token)
            return token, token, app.visitors.name(who), app.visitors.sharing(who)

        def api_visitor(token: str, request: gr.Request):
            """An API client's page load: the token it kept from an earlier visit if still valid, else a new one
            (under the same limit of new ids per address as page loads); kept in the client's session for
            /complete, /vote and /undo, and returned so a later session can go on as the same visitor."""
            token = _renewed(app, token or None, request)
            return token, token

        # outside the queue: a page opens however busy the models are
        demo.load(welcome, inputs=saved, outputs=[visitor, saved, name, share], api_visibility="private", queue=False)
        gr.on([], api_visitor, inputs=api_value("token", "string", ""), outputs=[visitor, api_value("token", "string")],
              api_name="visitor", queue=False)
        gr.on([name.blur, name.submit], one_line_errors(lambda t, n: app.visitors.rename(app.visitors.verify(t), n)),
              inputs=[visitor, name], outputs=name, api_visibility="private")
        share.input(one_line_errors(lambda t, on: app.visitors.share(app.visitors.verify(t), on)),
                    inputs=[visitor, share], api_visibility="private")

        with gr.Tabs():
            style = create_style_tab(app, visitor)
            create_feedback_tab(app, visitor, password)
            create_refine_tab(app, password, style)
            create_catalog_tab(app, password)
    for handler in demo.fns.values():  # every handler, the page's internal ones too, answers in one line
        if handler.fn:
            handler.fn = one_line_errors(handler.fn)
        if handler.api_name in HEAVY:  # one at a time, apart from the suggestions and page loads
            handler.concurrency_id, handler.concurrency_limit = "heavy", 1
    guard_choices(demo, app.config.tag_chars)
    return demo


HEAVY = {"caption", "add_photos"}  # decoding and captioning photos: seconds and hundreds of MB each


def public_api(demo: gr.Blocks) -> set[str]:
    """The API names a client may call by name (everything else answers only the page, by its index)."""
    return {f.api_name for f in demo.fns.values() if f.fn and f.api_visibility == "public"}


def with_queue(demo: gr.Blocks, config: AppConfig) -> gr.Blocks:
    """At most `concurrency` requests run at once and `queue_size` wait: beyond that Gradio answers at once that
    the queue is full (try again) instead of keeping every visitor waiting for minutes. No address holds more than
    `queue_per_address` of it, and captioning, which runs one at a time, at most `heavy_queue`, so one client
    uploading huge photos in a loop leaves everyone else their suggestions."""
    # api_open=False: a queued handler cannot be run around the queue by a direct POST
    demo.queue(default_concurrency_limit=config.concurrency, max_size=config.queue_size, api_open=False)
    queue, push, crowded = demo._queue, demo._queue.push, crowding(demo, config)

    async def fair_push(body, request, username):
        why = crowded(request.client.host if request.client else None)
        if why:
            return False, why, "queue_full"
        heavy = queue.event_queue_per_concurrency_id.get("heavy")
        fn = demo.fns.get(body.fn_index) if body.fn_index is not None else None
        if fn is not None and fn.concurrency_id == "heavy" and heavy and len(heavy.queue) >= config.heavy_queue:
            return False, "too many photos are waiting to be captioned: try again in a minute", "queue_full"
        return await push(body, request, username)

    queue.push = fair_push
    return demo


def crowding(demo: gr.Blocks, config: AppConfig) -> Callable[[str | None], str | None]:
    """Why an address may not join the queue now (it holds `queue_per_address` requests waiting or running), or
    None. Asked by the queue itself and, before a request's body is read, by `WebGuard`: a client that floods
    the queue with joins is refused for the price of reading its headers."""
    queue = demo._queue

    def crowded(address: str | None) -> str | None:
        waiting = [e for q in queue.event_queue_per_concurrency_id.values() for e in q.queue]
        running = [e for job in queue.active_jobs if job for e in job]
        mine = sum(1 for e in waiting + running if e.request and e.request.client
                   and e.request.client.host == address)
        if mine < config.queue_per_address:
            return None
        return (f"this address has {mine} requests waiting or running, the most one may have: wait for them, "
                "then try again")
    return crowded


def _renewed(app: Stylist, token: str | None, request: gr.Request) -> str:
    return app.visitors.renew(token, request.username, request.client.host if request.client else None)


def _browser_secret(app: Stylist) -> str:
    """A per-install key (one for all replicas given one `$STYLIST_SECRET`) so the browser's copy of the token
    survives restarts and a change of replica. Gradio sends it to the page, so it hides nothing: the token's own
    signature (visitors.py) is what makes it trustworthy."""
    return install_secret(app.data, "browser-secret")
