"""The Refine tab: start and watch the background refine (DPO or KTO), switch adapter versions, compare old and
new."""

from __future__ import annotations

import html

import gradio as gr
import pandas as pd

from stylist.app.service import Stylist
from stylist.app.suggestions import Card
from stylist.app.ui.common import Components, card_html, clock, md, one_line_errors, slot_order
from stylist.core.adapters import AdapterVersion
from stylist.core.errors import StylistError
from stylist.core.feedback import Readiness
from stylist.core.refine_protocol import RefineResult, RefineStatus


def create_refine_tab(app: Stylist, password: gr.Textbox, style: Components) -> Components:
    """Refine, versions and Compare; Compare reads the outfit from the Style tab's `texts`, `occasion` and
    `season`, and every admin action needs `password`. Returns the `tab`."""
    with gr.Tab("Refine", id="refine") as tab:
        gr.Markdown("Retrain the suggestion model on everyone's likes and dislikes (DPO or KTO on the active LoRA "
                    "adapter). "
                    "It runs in the background: you can close this page and come back, and others keep getting "
                    "suggestions meanwhile. The new version becomes active when it is done; you can switch back "
                    "below.")
        method = gr.Radio([("DPO: on pairs (a like over a dislike or a passed-over item)", "dpo"),
                           ("KTO: on every like and dislike alone", "kto")], value=app.refine.method(None),
                          label="Method", elem_id="refine-method")
        pairs = gr.Markdown(elem_id="pair-count")
        with gr.Row():
            start = gr.Button("Refine on the feedback so far", variant="primary", elem_id="refine-start")
            stop = gr.Button("Stop", variant="stop", elem_id="refine-stop")
        progress = gr.HTML(_progress_html(RefineStatus()), elem_id="refine-progress")
        loss = gr.LinePlot(x="step", y="loss", title="Training loss", height=220, elem_id="loss-plot")
        metrics = gr.Dataframe(headers=["metric", "before", "after", "measured on"], interactive=False,
                               label="Before / after", elem_id="refine-metrics")
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
            old_view = gr.HTML(elem_id="compare-old")
            new_view = gr.HTML(elem_id="compare-new")
        seen = gr.State(None)
        timer = gr.Timer(1.0)

    def tick(last, chosen):
        status = app.refine.status()
        key = (status.started, status.state, status.step, len(status.losses))
        if key == last:  # nothing new: leave the page alone
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), last
        try:
            startable, problem = not status.running and not app.refine.readiness(chosen).needed, ""
        except StylistError as exc:  # said once in the progress line, not as an error every second
            startable, problem = False, str(exc)
        frame = _loss_frame(status.losses)
        return (_progress_html(status, problem), gr.LinePlot(frame, sort=list(frame["step"])),
                gr.Button(interactive=startable),
                gr.Button(interactive=status.running), _metric_rows(status.result), key)

    timer.tick(tick, inputs=[seen, method], outputs=[progress, loss, start, stop, metrics, seen],
               show_progress="hidden", api_visibility="private")

    @one_line_errors
    def listing(chosen):
        found = app.refine.versions()
        active = next(v.name for v in found if v.active)
        ready = app.refine.readiness(chosen)
        unit = ("A vote is one like or dislike." if app.refine.method(chosen) == "kto" else
                "A pair is a liked suggestion and a disliked or passed-over one for the same outfit.")
        return (_versions_table(found), gr.Dropdown(choices=[v.name for v in found], value=active),
                f"Feedback so far: {md(ready.describe())}. {unit} {heldout_note(ready)}",
                gr.Button(interactive=not ready.needed and not app.refine.status().running))

    start.click(one_line_errors(lambda pw, chosen: app.refine.start(pw, chosen)), inputs=[password, method],
                api_visibility="private")
    stop.click(one_line_errors(lambda pw: app.refine.stop(pw)), inputs=password, api_visibility="private")
    # the versions list follows the run: refresh it whenever the run state changes
    shown = [versions, pick, pairs, start]
    gr.on([seen.change, tab.select, method.change], listing, inputs=method, outputs=shown, api_visibility="private")
    activate.click(one_line_errors(lambda v, pw: app.refine.activate(v, pw)), inputs=[pick, password],
                   api_visibility="private").then(listing, inputs=method, outputs=shown, api_visibility="private")
    rollback.click(one_line_errors(lambda pw: app.refine.rollback(pw)), inputs=password,
                   api_visibility="private").then(listing, inputs=method, outputs=shown, api_visibility="private")

    @one_line_errors
    def side_by_side(occ, sea, asked, *caps):
        (old_name, old), (new_name, new) = app.suggestions.compare(list(caps), occ, sea, asked)
        return _side(f"before: {old_name}", old), _side(f"after: {new_name} (active)", new)

    compare.click(side_by_side, inputs=[style["occasion"], style["season"], style["pieces"], *style["texts"]],
                  outputs=[old_view, new_view], api_visibility="private")
    return {"tab": tab}


def heldout_note(ready: Readiness) -> str:
    """Whether a refine can tell if it learned the visitors' taste: about one outfit in five (by a hash of the
    outfit) is never trained on, and its pairs measure before and after; with few outfits none may be held out."""
    heldout = ready.pairs - ready.train_pairs
    if not heldout:
        return ("No outfit is held out yet, so a refine cannot measure whether it learned your taste "
                "(preference accuracy n/a): vote on more, different outfits.")
    return (f"{heldout} of the pairs (their outfits, chosen by a hash) are held out: never trained on, they "
            "measure whether a refine learned your taste.")


def _versions_table(versions: list[AdapterVersion]) -> dict:
    rows = []
    for v in versions:
        after = v.metrics.get("after", {})
        rows.append([v.name + (" (active)" if v.active else ""),
                     "starting adapter" if v.number == 0 else f"refined from v{v.parent}",
                     (v.method or "").upper(), clock(v.created) if v.created else "",
                     v.pairs, ", ".join(f"{k} {val:.3f}" for k, val in after.items() if isinstance(val, float))])
    return {"headers": ["version", "origin", "method", "created", "trained on (pairs or votes)", "metrics after"],
            "data": rows}


def _side(heading: str, groups: dict[str, list[Card]]) -> str:
    """One version's suggestions: a row per slot, named, each card with its whole title and score."""
    rows = "".join(f'<div class="compare-row"><h4>{html.escape(slot)}</h4>'
                   + "".join(f"<div>{card_html(c, reason=False)}</div>" for c in groups[slot]) + "</div>"
                   for slot in slot_order(groups))
    return f"<h3>{html.escape(heading)}</h3>{rows}"


def _loss_frame(losses: list[float]) -> pd.DataFrame:
    """Loss per step, the steps as labels: a numeric axis over a few steps ticks 1.0, 1.2, 1.4 ... (the plot keeps
    them in training order through its `sort`)."""
    return pd.DataFrame({"step": [str(n) for n in range(1, len(losses) + 1)], "loss": losses})


def _metric_rows(result: RefineResult | None) -> list[list]:
    """Before / after of each metric, with what it was measured on: a figure on two held-out pairs is no result."""
    if result is None:  # no run has ended yet
        return []
    n = result.heldout_pairs
    pairs = (f"{n} held-out pairs" + (" (too few to read)" if n < 20 else "") if n else
             "no held-out pairs: vote on more, different outfits so some can be held out")
    on = {"fitb": "held-out Polyvore outfits", "preference_accuracy": pairs, "reward_accuracy": pairs}
    before, after = result.before, result.after
    return [[k, _fmt(before.get(k)), _fmt(after.get(k)), on.get(k, "")] for k in sorted(set(before) | set(after))]


def _fmt(value) -> str:
    """n/a: not measured (FITB switched off, no held-out pairs, or reward accuracy before training)."""
    return f"{value:.3f}" if isinstance(value, float) else ("n/a" if value is None else str(value))


def _progress_html(status: RefineStatus, problem: str = "") -> str:
    """The run's state and progress bar, and `problem`: why a refine cannot start now."""
    if status.state == "failed":
        detail = status.error or "failed"
    elif status.state == "done":
        detail = f"v{status.version} is now the active adapter"
    else:
        detail = f"step {status.step} of {status.total}" if status.total else ""
    state = html.escape(status.state)
    return (f'<div id="refine-state" data-state="{state}"><b>{state}</b> {status.fraction:.0%} '
            f"{html.escape(detail)} {html.escape(problem)}</div><div class='progress'><div style='width:{status.fraction:.0%}'></div></div>")
