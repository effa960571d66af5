"""Helpers every tab uses: errors shown as one line, user text shown as text, times and upload types."""

from __future__ import annotations

import functools
import html
import re
import time
from collections.abc import Callable
from typing import Any

import gradio as gr
from gradio.blocks import Block

from stylist.app.access import UPLOAD_SUFFIXES
from stylist.core.errors import StylistError

UPLOAD_TYPES = sorted(UPLOAD_SUFFIXES)
Components = dict[str, Block | list[Block]]  # what a `create_*_tab` hands back: name -> component(s)


def one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Show a user-caused problem as one line in the page instead of a stack trace."""
    @functools.wraps(fn)  # keeps the signature, so Gradio still injects gr.SelectData and friends
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except StylistError as exc:
            raise gr.Error(str(exc)) from None
    return wrapped


def md(text: str) -> str:
    """Show text literally inside Markdown: escape HTML and the characters Markdown would act on."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!|~])", r"\\\1", html.escape(text.strip()))


def clock(seconds: float) -> str:
    """A timestamp as the tables show it: local date and minute."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))
