"""What the person running the app reads in its log: a visitor's mistake in one line, no library noise at start."""

import subprocess
import sys

import gradio as gr
import pytest

from stylist.app.ui.common import one_line_errors
from stylist.core.errors import StylistError
from stylist.core.paths import REPO


def test_a_visitor_mistake_is_one_log_line_and_no_traceback(capsys):
    @one_line_errors
    def complete():
        raise StylistError("add at least one photo (or type a caption) first")

    with pytest.raises(gr.Error) as info:
        complete()
    assert not info.value.print_exception  # Gradio would print the whole traceback
    assert capsys.readouterr().err == "visitor error (complete): add at least one photo (or type a caption) first\n"


def test_loading_the_models_for_the_app_prints_no_progress_bars_or_library_warnings():
    script = ("import app; app.quiet_loading()\n"
              "from stylist.models.lm import load_lm\n"
              "load_lm('checkpoints/base-lm', 'checkpoints/adapters/sft')\n")
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "Loading weights" not in run.stderr and "Warning" not in run.stderr, run.stderr
