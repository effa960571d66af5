"""One way from a config dataclass to command-line options (`stylist.core.options`), for every train command and
for the app, which reads the refine worker's settings from the same `--refine-args` it hands the worker."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

import pytest

from stylist.__main__ import main as stylist_main
from stylist.app.refine_control import RefineControl
from stylist.core.feedback import FeedbackStore
from stylist.core.options import config_from, option, parse_config, parse_known_config
from stylist.core.refine_options import RefineConfig
from stylist.train import caption_words, captioner, embedder, lm, preference, refine

# command -> (its settings dataclass, the options it takes that are not settings)
COMMANDS = {
    "train-lm": (lm.LMTrainConfig, []),
    "train-captioner": (captioner.CaptionerTrainConfig, ["--ensemble"]),
    "train-preference": (preference.PreferenceTrainConfig, ["--n-tokens", "--embedder"]),
    "train-embedder": (embedder.EmbedderConfig, []),
    "train-caption-words": (caption_words.CaptionWordsConfig, []),
    "refine": (RefineConfig, ["--user", "--all", "--data-dir", "--llm", "--adapter", "--device", "--dtype",
                              "--load-in-4bit", "--json", "--status-file", "--stop-file", "--lock-fd"]),
}


def help_text(command: str, capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        stylist_main([command, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_of_a_command_is_listed_with_its_help(command, capsys):
    config, others = COMMANDS[command]
    text = help_text(command, capsys)
    squeezed = re.sub(r"\s", "", text)  # argparse wraps lines, also after a hyphen
    for f in fields(config):
        assert f.metadata.get("help"), f"{config.__name__}.{f.name} has no help"
        assert re.search(rf"^  --{f.name.replace('_', '-')}\b", text, re.MULTILINE), f"{command}: no --{f.name}"
        assert re.sub(r"\s", "", f.metadata["help"]) in squeezed, f"the help of {config.__name__}.{f.name}"
    for name in others:  # listed, with a help of its own
        assert re.search(rf"^  {name}\b[^\n]*?(?: {{2,}}|\n +)[a-z]", text, re.MULTILINE), f"{command}: no {name}"


def test_the_app_reads_the_refine_settings_the_worker_runs_by():
    extra = ["--steps", "2", "--llm", "some/lm", "--min-pairs", "4", "--heldout-percent", "40", "--json"]
    worker = config_from(RefineConfig, refine.parser().parse_args(extra))
    refining = RefineControl(None, None, None, None, extra)
    assert refining.worker_config == worker
    assert (worker.min_pairs, worker.heldout_percent, worker.steps) == (4, 40, 2)
    assert RefineControl(None, None, None, None, []).worker_config == RefineConfig()  # the defaults, also the worker's


def test_the_app_counts_readiness_with_the_workers_minimum(tmp_path):
    ready = RefineControl(None, None, None, FeedbackStore(tmp_path / "feedback.sqlite"), ["--min-pairs", "3"]).readiness()
    assert (ready.min_pairs, ready.needed) == (3, 3)


@pytest.mark.parametrize("argv", [["refine", "--min-pairs", "many"], ["refine", "--steps", "1.5"],
                                  ["train-captioner", "--select", "worst"], ["train-lm", "--step", "everything"],
                                  ["train-lm", "--device", "tpu"], ["train-preference", "--select", "auc"],
                                  ["train-caption-words", "--words", "plaid"], ["train-embedder", "--dim", "x"]])
def test_a_bad_value_is_refused_with_status_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        stylist_main(argv)
    assert exit_.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_a_bad_refine_setting_in_the_apps_refine_args_is_refused_with_status_2():
    with pytest.raises(SystemExit) as exit_:
        RefineControl(None, None, None, None, ["--heldout-percent", "half"])
    assert exit_.value.code == 2


@dataclass
class Toy:
    name: str = option("a", "a name")
    steps: int | None = option(None, "optional count")
    flag: bool = option(False, "a switch")
    on: bool = option(True, "on unless told")
    sizes: tuple[int, ...] = option((1, 2), "several")
    pick: str = option("x", "one of two", choices=("x", "y"))


def test_fields_become_typed_options():
    assert parse_config(Toy, [], "toy", "") == Toy()
    told = parse_config(Toy, ["--steps", "3", "--flag", "--no-on", "--sizes", "4", "5", "6", "--pick", "y"], "toy", "")
    assert told == Toy("a", 3, True, False, (4, 5, 6), "y") and isinstance(told.sizes, tuple)


def test_known_settings_are_read_and_the_other_options_left():
    assert parse_known_config(Toy, ["--llm", "x", "--steps", "7", "--json"]) == Toy(steps=7)
