"""Helpers every tab uses: errors shown as one line, user text shown as text, suggestion cards, times and upload
types."""

from __future__ import annotations

import functools
import html
import re
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import gradio as gr
from gradio.blocks import Block

from stylist.app.access import UPLOAD_SUFFIXES
from stylist.app.suggestions import Card
from stylist.core.errors import StylistError
from stylist.core.vocabulary import SLOTS

UPLOAD_TYPES = sorted(UPLOAD_SUFFIXES)
Components = dict[str, Block | list[Block]]  # what a `create_*_tab` hands back: name -> component(s)


def one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Show a user-caused problem as one line in the page instead of a stack trace, and log it as one line too:
    a visitor's routine mistake is no fault of the server (real faults still log their traceback)."""
    @functools.wraps(fn)  # keeps the signature, so Gradio still injects gr.SelectData and friends
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except StylistError as exc:
            print(f"visitor error ({fn.__name__}): {exc}", file=sys.stderr, flush=True)
            raise gr.Error(str(exc), print_exception=False) from None
    return wrapped


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
