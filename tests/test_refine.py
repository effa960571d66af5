"""DPO refinement on conftest's tiny random Llama + LoRA adapter: versions, the reference adapter, stop, kill,
jobs."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from taste import record_taste

from stylist.app.refine_worker import RefineWorker
from stylist.core.adapters import META, AdapterRegistry
from stylist.core.adapters import main as adapters_main
from stylist.core.errors import StylistError
from stylist.core.feedback import Context, FeedbackStore, Option, Pair
from stylist.core.refine_protocol import RefineStatus
from stylist.models.spec import LMSpec
from stylist.train.refine import RefineConfig, preference_logps, refine

FAST = RefineConfig(steps=6, batch_size=4, learning_rate=5e-3, fitb_questions=0, min_pairs=4, heldout_percent=30,
                    anchors=0.0, sft_weight=0.0)  # the user pairs and DPO alone; anchors and the SFT term have tests


@pytest.fixture
def data(tmp_path):
    record_taste(FeedbackStore(tmp_path / "feedback.sqlite"))
    return tmp_path


def run(data, tiny_lm, config=FAST, **kw):
    return refine(data, "ann", config, llm=tiny_lm.base, sft_adapter=tiny_lm.adapter, **kw)


def test_refine_makes_an_active_version_that_prefers_the_liked_items(data, tiny_lm):
    from stylist.models.lm import load_lm

    calls = []
    result = run(data, tiny_lm, RefineConfig(**{**FAST.__dict__, "steps": 20}),
                 progress=lambda step, total, loss: calls.append((step, total, loss)))
    registry = AdapterRegistry(data / "adapters", tiny_lm.adapter)
    assert result.version == 1 and registry.active_number() == 1 and [v.number for v in registry.list()] == [0, 1]
    assert [c[0] for c in calls] == list(range(1, 21)) and all(c[1] == 20 and c[2] is not None for c in calls)
    assert result.train_pairs + result.heldout_pairs == len(FeedbackStore(data / "feedback.sqlite").pairs())
    version = registry.get(1)
    assert version.parent == 0 and version.pairs == result.train_pairs
    before, after = version.metrics["before"], version.metrics["after"]
    assert after["preference_accuracy"] >= before["preference_accuracy"] and after["reward_accuracy"] > 0.5
    assert sorted(p.name for p in version.path.iterdir()) == ["README.md", "adapter_config.json",
                                                              "adapter_model.safetensors", "version.json"]
    from safetensors import safe_open

    with safe_open(version.path / "adapter_model.safetensors", "pt") as f:
        assert f.keys() and not [k for k in f.keys() if ".ref." in k]  # trl's frozen reference copy is not saved
    # the saved folder is a standard PEFT adapter that loads on the base model; training pairs moved the right way
    pairs = FeedbackStore(data / "feedback.sqlite").pairs()
    margins = []
    for adapter in (tiny_lm.adapter, version.path):
        model, tokenizer = load_lm(str(tiny_lm.base), adapter)
        chosen, rejected = preference_logps(model, tokenizer, pairs)
        margins.append(sum(c - r for c, r in zip(chosen, rejected)) / len(pairs))
    assert margins[1] > margins[0] + 0.2 and result.losses[-1] < result.losses[0]


def test_kto_refines_on_every_vote_and_the_version_says_so(data, tiny_lm):
    """KTO trains on each like and dislike alone (a dislike with nothing liked beside it counts), through the same
    worker, versions and held-out measures as DPO; the new version records its method."""
    from stylist.models.lm import load_lm

    store = FeedbackStore(data / "feedback.sqlite")
    lone = Context(("grey wool coat", "black jeans"), "shoes")
    store.record("ann", lone, Option("x", "red floral sandals"), "dislike", adapter_version=0)
    assert not [p for p in store.pairs("ann") if p.prompt == lone.prompt]
    votes = store.votes("ann")
    assert any(v.prompt == lone.prompt and v.label is False for v in votes)
    result = run(data, tiny_lm, RefineConfig(**{**FAST.__dict__, "method": "kto", "steps": 20}))
    registry = AdapterRegistry(data / "adapters", tiny_lm.adapter)
    version = registry.get(result.version)
    assert version.method == "kto" and version.pairs == result.train_pairs and result.heldout_pairs > 0
    assert result.train_pairs < len(votes) and result.losses[-1] < result.losses[0]
    model, tokenizer = load_lm(str(tiny_lm.base), version.path)
    liked = [v for v in votes if v.label][:4]
    disliked = [v for v in votes if not v.label][:4]
    before, _ = load_lm(str(tiny_lm.base), tiny_lm.adapter)
    gap = lambda m: (sum(preference_logps(m, tokenizer, [Pair(v.prompt, v.completion, v.completion) for v in liked])[0])  # noqa: E731
                     - sum(preference_logps(m, tokenizer, [Pair(v.prompt, v.completion, v.completion) for v in disliked])[0]))
    assert gap(model) > gap(before)  # liked captions gained on disliked ones


def test_kto_batches_hold_two_votes_at_least_and_the_method_is_checked(data, tiny_lm):
    result = run(data, tiny_lm, RefineConfig(**{**FAST.__dict__, "method": "kto", "steps": 2, "batch_size": 1}))
    assert result.steps == 2
    with pytest.raises(SystemExit):
        from stylist.train.refine import main

        main(["--method", "orpo"])


def test_the_reference_is_the_starting_adapter_not_the_base_model(data, tiny_lm):
    """With a learning rate of 0 the policy stays equal to the reference, so every DPO loss is log 2;
    the adapter is far from zero (init_lora_weights=False), so a base-model reference would differ
    (by about 0.1 per pair at beta 1)."""
    result = run(data, tiny_lm, RefineConfig(**{**FAST.__dict__, "learning_rate": 0.0, "steps": 3, "beta": 1.0}))
    assert result.losses == pytest.approx([0.6931] * 3, abs=1e-3)


def test_sft_weight_adds_the_chosen_side_nll_to_the_dpo_loss(data, tiny_lm):
    """At learning rate 0 the DPO part stays log 2; the SFT term adds the chosen captions' mean token NLL."""
    result = run(data, tiny_lm, RefineConfig(**{**FAST.__dict__, "learning_rate": 0.0, "steps": 2, "sft_weight": 1.0}))
    assert all(loss > 0.6931 + 0.5 for loss in result.losses)


def test_too_few_pairs_says_how_many_more_are_needed(tmp_path, tiny_lm):
    record_taste(FeedbackStore(tmp_path / "feedback.sqlite"), contexts=1)
    with pytest.raises(StylistError, match=r"a refine needs at least 50\): \d+ more pairs are needed"):
        refine(tmp_path, "ann", RefineConfig(min_pairs=50), llm=tiny_lm.base, sft_adapter=tiny_lm.adapter)
    assert [v.number for v in AdapterRegistry(tmp_path / "adapters", tiny_lm.adapter).list()] == [0]


def test_stop_between_steps_keeps_the_active_version(data, tiny_lm):
    result = run(data, tiny_lm, RefineConfig(**{**FAST.__dict__, "steps": 50}), should_stop=lambda: True)
    registry = AdapterRegistry(data / "adapters", tiny_lm.adapter)
    assert result.stopped and result.version is None and result.steps == 1
    assert registry.active_number() == 0 and [v.number for v in registry.list()] == [0]


def test_rollback_and_activate(data, tiny_lm, capsys):
    run(data, tiny_lm)
    run(data, tiny_lm)
    registry = AdapterRegistry(data / "adapters", tiny_lm.adapter)
    assert registry.active_number() == 2 and registry.get(2).parent == 1
    cli = ["--data-dir", str(data), "--sft-adapter", str(tiny_lm.adapter)]
    assert adapters_main(["rollback", *cli]) == 0 and registry.active_path() == data / "adapters" / "1"
    assert "* v1   DPO from v0" in capsys.readouterr().out
    assert registry.activate("v0").number == 0 and registry.active_path() == tiny_lm.adapter
    with pytest.raises(StylistError, match="nothing to roll back"):
        registry.rollback()
    with pytest.raises(StylistError, match="no adapter version 7"):
        registry.activate(7)


def wait_for(job: RefineWorker, ok, timeout: float = 60) -> RefineStatus:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = job.status()
        if ok(status):
            return status
        time.sleep(0.1)
    raise AssertionError(f"timed out; last status {status}, log:\n{job.log_tail()}")


def job_for(data, tiny_lm) -> RefineWorker:
    return RefineWorker(data, LMSpec(str(tiny_lm.base), str(tiny_lm.adapter)))


ARGS = ["--fitb-questions", "0", "--min-pairs", "4", "--batch-size", "4"]


def test_killing_a_refine_mid_training_loses_nothing_and_stop_ends_a_run_cleanly(data, tiny_lm):
    store, job = FeedbackStore(data / "feedback.sqlite"), job_for(data, tiny_lm)
    registry = AdapterRegistry(data / "adapters", tiny_lm.adapter)
    job.start(user="ann", steps=100000, extra=ARGS)
    with pytest.raises(StylistError, match="already running"):
        job.start(user="ann")
    status = wait_for(job, lambda s: s.step >= 2)
    store.record("bob", Context(("linen shirt",), "shoes"), Option("x", "black boots"), "like")  # a click meanwhile
    before = store.events(include_undone=True)
    os.killpg(status.pid, signal.SIGKILL)
    status = wait_for(job, lambda s: not s.running)
    assert status.state == "failed" and "unexpectedly" in status.error
    assert store.events(include_undone=True) == before and len(before) == 12 * 4 + 1
    assert registry.active_number() == 0 and [v.number for v in registry.list()] == [0]
    assert any(p.name.startswith(".tmp") for p in (data / "adapters").iterdir())  # the killed run's scratch...

    job.start(user="ann", steps=100000, extra=ARGS)  # the lock is free again; a stop request ends this run
    wait_for(job, lambda s: s.step >= 1)
    status = job.stop(timeout=30)
    assert status.state == "stopped" and status.losses and status.result.version is None, job.log_tail()
    assert registry.active_number() == 0 and [v.number for v in registry.list()] == [0]

    assert run(data, tiny_lm).version == 1  # the next complete run adds v1 and clears what the others left
    assert not any(p.name.startswith(".tmp") for p in (data / "adapters").iterdir())


def test_negative_pairs_come_from_training_outfits_only():
    from stylist.core.prompts import completion, item_caption
    from stylist.data.corpus import negative_pairs
    from stylist.data.splits import polyvore_catalog, split_outfits

    catalog = polyvore_catalog()
    parts = split_outfits(catalog.outfits)
    categories = {}
    for outfit in parts["train"]:
        for item in catalog.outfit_items(outfit):
            categories.setdefault(completion(item_caption(item)), set()).add(item.category)
    rows = negative_pairs(60, seed=3, same_category=1.0)
    assert rows == negative_pairs(60, seed=3, same_category=1.0) and len(rows) == 60
    held_out = {completion(item_caption(i)) for part in ("valid", "test") for o in parts[part]
                for i in catalog.outfit_items(o)} - set(categories)
    for row in rows:
        assert row["chosen"] != row["rejected"] and row["chosen"] not in held_out
        assert categories[row["chosen"]] & categories[row["rejected"]]  # same category when asked for
    mixed = negative_pairs(200, seed=3, same_category=0.0)
    assert sum(not (categories[r["chosen"]] & categories[r["rejected"]]) for r in mixed) > 100
    assert negative_pairs(0) == []


def test_refine_mixes_in_anchor_pairs(data, tiny_lm):
    result = run(data, tiny_lm, RefineConfig(**{**FAST.__dict__, "anchors": 2.0, "steps": 2}))
    assert result.train_pairs > 0 and result.anchor_pairs == 2 * result.train_pairs
    meta = AdapterRegistry(data / "adapters", tiny_lm.adapter).path(result.version) / META
    assert json.loads(meta.read_text())["anchor_pairs"] == result.anchor_pairs


def test_refine_measures_held_out_fitb_in_the_format_its_checkpoint_states(data, tiny_lm, tmp_path, monkeypatch):
    """A slot-format LM's refine scores its held-out FITB with its own weights and prompts, not the embedded LM's."""
    import shutil

    from stylist.evaluation import outfits
    from stylist.models.outfit import ScoringConfig, save_scoring_config
    from stylist.train import refine as refine_module

    adapter = tmp_path / "slot-sft"
    shutil.copytree(tiny_lm.adapter, adapter)
    save_scoring_config(ScoringConfig(slot=0.5, format="slot"), ScoringConfig(format="slot"), adapter / "scoring.json")
    seen = []
    monkeypatch.setattr(refine_module, "shared_data", lambda: tmp_path)
    (tmp_path / "polyvore").mkdir()
    (tmp_path / "polyvore" / "outfits.json").write_text("[]")
    monkeypatch.setattr(outfits, "heldout_fitb", lambda scorer, n: seen.append(scorer) or 0.5)
    refine(data, "ann", RefineConfig(**{**FAST.__dict__, "steps": 1, "fitb_questions": 4}), llm=tiny_lm.base,
           sft_adapter=adapter)
    assert len(seen) == 2 and all(s.slot_format and s.config.slot == 0.5 for s in seen)
