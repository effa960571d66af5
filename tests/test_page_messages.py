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


def test_refine_says_when_nothing_is_held_out_and_asks_for_more_varied_votes():
    from stylist.app.ui.components.refine import _metric_rows, heldout_note
    from stylist.core.feedback import Readiness
    from stylist.core.refine_protocol import RefineResult

    assert "vote on more, different outfits" in heldout_note(Readiness(pairs=10, users=1, train_pairs=10, min_pairs=8))
    assert "2 of the pairs" in heldout_note(Readiness(pairs=12, users=1, train_pairs=10, min_pairs=8))
    rows = _metric_rows(RefineResult(train_pairs=10, heldout_pairs=0, before={"preference_accuracy": None},
                                     after={"preference_accuracy": None}))
    assert rows == [["preference_accuracy", "n/a", "n/a",
                     "no held-out pairs: vote on more, different outfits so some can be held out"]]


def test_the_loss_chart_counts_whole_steps():
    from stylist.app.ui.components.refine import _loss_frame

    assert list(_loss_frame([0.69, 0.5, 0.4])["step"]) == ["1", "2", "3"]


def test_the_score_help_says_what_orders_a_row():
    from stylist.app.ui.components.style import SCORE_HELP

    assert "then by score and taste together" not in SCORE_HELP and "by score until you vote" in SCORE_HELP
