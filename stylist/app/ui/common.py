"""Helpers every tab uses: errors shown as one line, user text shown as text, suggestion cards, times and upload
types."""

from __future__ import annotations

import functools
import html
import re
import sys
import time
import traceback
import types
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import gradio as gr
from gradio.blocks import Block
from gradio.components.api_component import Api

from stylist.app.access import UPLOAD_SUFFIXES, check_choice
from stylist.app.suggestions import Card
from stylist.core.errors import StylistError
from stylist.core.vocabulary import SLOTS

UPLOAD_TYPES = sorted(UPLOAD_SUFFIXES)
Components = dict[str, Block | list[Block]]  # what a `create_*_tab` hands back: name -> component(s)


def one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Show any problem as one line in the page instead of a stack trace: a user-caused one as it is, anything
    else as a line naming its kind (its traceback goes to the log, `capped`)."""
    if getattr(fn, "one_line", False):
        return fn

    @functools.wraps(fn)  # keeps the signature, so Gradio still injects gr.SelectData and friends
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except StylistError as exc:
            print(f"visitor error ({fn.__name__}): {one_line(str(exc))}", file=sys.stderr, flush=True)
            raise gr.Error(one_line(str(exc)), print_exception=False) from None
        except gr.Error:
            raise
        except Exception as exc:
            print(capped("".join(traceback.format_exception(exc))), file=sys.stderr, flush=True)
            raise gr.Error(f"the server could not do that ({type(exc).__name__}; the app's log has the details)"
                           ) from None
    wrapped.one_line = True
    return wrapped


def api_value(label: str, json_type: str, default: Any = None) -> Api:
    """A value only an API client sends or gets back (nothing on the page), as `gr.api` makes them; used with
    `gr.on([], ...)` for endpoints that also read the page session's gr.State, which `gr.api` cannot."""
    return Api(default, {"type": json_type}, label)


def capped(text: str, width: int = 500, lines: int = 40) -> str:
    """What the log gets of a text a client may have grown: its last `lines` lines, each at most `width`."""
    return "\n".join(one_line(line, width) for line in text.splitlines()[-lines:])


def one_line(text: str, limit: int = 500) -> str:
    """`text` as one line of at most `limit` characters, any string a client sent included (lone surrogates too)."""
    text = " ".join(text.split()).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def guard_choices(demo: gr.Blocks, custom_chars: int) -> None:
    """Every dropdown's value is checked against its choices (`check_choice`) before Gradio's own check, which
    would put the whole value in its error and the log."""
    for block in demo.blocks.values():
        if isinstance(block, gr.Dropdown):
            block.preprocess = types.MethodType(_checked(type(block).preprocess, custom_chars), block)


def _checked(preprocess: Callable[..., Any], custom_chars: int) -> Callable[..., Any]:
    def checked(dropdown: gr.Dropdown, payload: Any) -> Any:
        try:
            check_choice(payload, [value for _, value in dropdown.choices], dropdown.label or "a choice",
                         dropdown.multiselect, custom_chars if dropdown.allow_custom_value else None)
        except StylistError as exc:
            raise gr.Error(str(exc)) from None
        return preprocess(dropdown, payload)
    return checked


def md(text: str) -> str:
    """Show text literally inside Markdown: escape HTML and the characters Markdown would act on."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!|~])", r"\\\1", html.escape(text.strip()))


def clock(seconds: float) -> str:
    """A timestamp as the tables show it: local date and minute."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def slot_order(groups: Mapping[str, Any]) -> list[str]:
    """The slots of an answer in the vocabulary's order (tops before shoes before hats), unknown ones last."""
    return sorted(groups, key=lambda s: SLOTS.index(s) if s in SLOTS else len(SLOTS))


def card_html(card: Card, reason: bool) -> str:
    """A suggestion as HTML: photo (fetched by the browser from the served catalog folder, so an answer carries no
    image data), title, score, "for you" once the visitor has voted, and the reason when asked. All text escaped."""
    photo = (f'<img src="gradio_api/file={quote(card.image)}" alt="" loading="lazy">' if card.image
             else '<div class="no-photo">no photo</div>')
    for_you = f" · <b>for you {card.for_you:.2f}</b>" if card.for_you is not None else ""
    why = f'<p class="card-reason">{html.escape(card.reason)}</p>' if reason else ""
    return (f'{photo}<p class="card-title"><b>{html.escape(card.title)}</b></p>'
            f'<p class="card-score">score {card.score:.2f}{for_you}</p>{why}')
