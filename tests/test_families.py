"""Any Hugging Face causal LM behind the outfit model, on conftest's tiny random LM of each family (Llama,
Mistral, Qwen2, Gemma, Phi-3, GPT-2): it recommends, learns in a few SFT steps, refines from a fresh all-linear LoRA to v1 through the
`refine` command, refuses 4-bit on the CPU and an adapter of another LLM in one line; and with such an LLM the
app's Refine button makes v1 and Compare shows v0 against v1."""

from __future__ import annotations

import argparse
import hashlib
import json

import numpy as np
import pytest
from taste import record_taste
from test_sft import PAIRS, QUICK

from stylist.__main__ import main as stylist_main
from stylist.app.config import AppConfig
from stylist.app.service import Stylist
from stylist.core.adapters import AdapterRegistry
from stylist.core.catalog import Catalog, Item
from stylist.core.errors import StylistError
from stylist.core.feedback import FeedbackStore
from stylist.core.paths import CHECKPOINTS
from stylist.models.likelihood import completion_logprobs
from stylist.models.lm import load_lm
from stylist.models.spec import LMSpec
from stylist.recommend.recommender import Recommender
from stylist.train.lm import sft_trainer

ITEMS = [("black leather ankle boots", "Ankle Boots"), ("white canvas sneakers", "Sneakers"),
         ("brown leather tote bag", "Tote Bags"), ("red clutch bag", "Clutches"), ("navy wool coat", "Coats")]
OUTFIT = ["white cotton t-shirt", "blue denim jeans"]
TINY_REFINE = ["--steps", "2", "--batch-size", "4", "--learning-rate", "0.005", "--fitb-questions", "0",
               "--min-pairs", "4", "--heldout-percent", "0", "--anchors", "0"]


def test_one_spec_gives_every_command_the_same_options_and_places_the_llm(monkeypatch):
    import torch

    parser = argparse.ArgumentParser()
    LMSpec.add_arguments(parser)
    spec = LMSpec("org/llm", "runs/sft", "cuda", "bfloat16", True)
    assert LMSpec.from_args(parser.parse_args(spec.cli_args())) == spec
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert LMSpec("org/llm").load_kwargs() == {"dtype": torch.float32}
    with pytest.raises(StylistError, match="no CUDA GPU"):
        LMSpec("org/llm", device="cuda").check()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert LMSpec().load_kwargs() == {"dtype": torch.float32}  # the embedded LM stays where its figures were made
    assert LMSpec("org/llm").load_kwargs() == {"dtype": torch.bfloat16, "device_map": "auto"}
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")  # one process per GPU under accelerate launch: the whole LLM on its own
    assert LMSpec("org/llm", dtype="float32").load_kwargs() == {"dtype": torch.float32, "device_map": {"": 1}}


def test_each_family_recommends_from_the_catalog(family_lm):
    catalog = Catalog("tiny")
    for n, (title, category) in enumerate(ITEMS):
        catalog.add(Item(f"i{n}", title, category))
    result = Recommender.load(catalog, llm=LMSpec(str(family_lm))).recommend(OUTFIT, occasion="casual", k=2)
    assert set(result) == {"shoes", "bags", "outerwear"}
    for slot, found in result.items():
        assert found and all(s.item.slot == slot and np.isfinite(s.score) for s in found)


def test_each_family_scores_a_shared_prompt_as_whole_sequences(family_lm, monkeypatch):
    """Completions of one prompt continue from its cache (prompts of several lengths, left-padded in one batch):
    the same log-probabilities as running every sequence whole, in every family and chat template."""
    from stylist.core.prompts import completion, outfit_prompt
    from stylist.models import likelihood

    model, tokenizer = load_lm(LMSpec(str(family_lm)))
    prompts = [outfit_prompt(OUTFIT[:k], slot) for k in (0, 1, 2) for slot in ("shoes", "bags")]
    pairs = [(p, completion(t)) for p in prompts for t, _ in ITEMS] + [(prompts[-1], completion("red hat"))]
    shared = completion_logprobs(model, tokenizer, *zip(*pairs))
    monkeypatch.setattr(likelihood, "SHARED_PREFIX_MIN", len(pairs) + 1)
    whole = completion_logprobs(model, tokenizer, *zip(*pairs))
    assert np.allclose(shared[0], whole[0], atol=1e-4) and (shared[1] == whole[1]).all()


def checkpoints_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in CHECKPOINTS.rglob("*") if p.is_file()):
        digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


def test_each_family_refines_from_a_fresh_lora_to_v1(family_lm, tmp_path, capsys):
    """No adapter named: version 0 is a fresh LoRA on every linear layer, saved in the data folder; two DPO
    steps make v1, which loads on the LLM and says something else; nothing under checkpoints/ changes."""
    record_taste(FeedbackStore(tmp_path / "feedback.sqlite"))
    before = checkpoints_digest()
    assert stylist_main(["refine", "--data-dir", str(tmp_path), "--llm", str(family_lm), "--json", *TINY_REFINE]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["version"] == 1 and result["steps"] == 2 and checkpoints_digest() == before

    [initial] = (tmp_path / "adapters").glob("initial-*")
    registry = AdapterRegistry(tmp_path / "adapters", initial)
    assert [v.number for v in registry.list()] == [0, 1] and registry.active_number() == 1
    base, tokenizer = load_lm(LMSpec(str(family_lm), "none"))
    linear = {name.rsplit(".", 1)[-1] for name, layer in base.named_modules()
              if type(layer).__name__ in ("Linear", "Conv1D") and name != "lm_head"}
    targets = json.loads((initial / "adapter_config.json").read_text())["target_modules"]
    assert {name.rsplit(".", 1)[-1] for name in targets} == linear  # Phi-3's fused qkv_proj, GPT-2's c_attn too

    prompts, texts = ["outfit: linen shirt\nmissing shoes:"] * 2, [" black boots", " red sandals"]
    scores = [completion_logprobs(*load_lm(LMSpec(str(family_lm), str(registry.path(n)))), prompts, texts)[0]
              for n in (0, 1)]
    assert np.allclose(scores[0], completion_logprobs(base, tokenizer, prompts, texts)[0], atol=1e-5)  # fresh = bare LLM
    assert not np.allclose(scores[0], scores[1], atol=1e-4)


def test_each_family_refuses_4bit_on_the_cpu_in_one_line(family_lm, tmp_path, capsys):
    """In the refine command and the app alike, before any model or data is read."""
    assert stylist_main(["refine", "--data-dir", str(tmp_path), "--llm", str(family_lm), "--load-in-4bit"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --load-in-4bit needs a CUDA GPU") and "\n" not in err
    with pytest.raises(StylistError, match="--load-in-4bit needs a CUDA GPU"):
        Stylist(AppConfig(lm=LMSpec(str(family_lm), load_in_4bit=True), data_dir=str(tmp_path)))


def test_each_family_refuses_an_adapter_of_another_llm_in_one_line(family_lm, tiny_lm):
    with pytest.raises(StylistError, match=rf"adapter {tiny_lm.adapter} was trained for {tiny_lm.base}, not "):
        load_lm(LMSpec(str(family_lm), str(tiny_lm.adapter)))


@pytest.mark.parametrize("family_lm", ["qwen2"], indirect=True)
def test_the_apps_refine_button_with_a_custom_llm_makes_v1_and_compare_shows_it(family_lm, tmp_path):
    from test_service import vote_everything, wait_until_settled

    app = Stylist(AppConfig(lm=LMSpec(str(family_lm)), data_dir=str(tmp_path / "data"), admin_password="secret",
                            refine_args=TINY_REFINE))
    vote_everything(app, app.visitors.issue(), ["white cotton shirt", "black wool trousers"])
    app.refine.start("secret")
    assert wait_until_settled(app) == "done", app.refine.status()
    assert [v.number for v in app.refine.versions()] == [0, 1] and app.refine.versions()[1].active
    assert app.refine.versions()[0].path.name.startswith("initial-")
    (old_name, old), (new_name, new) = app.suggestions.compare(OUTFIT, "", "")
    assert (old_name, new_name) == ("v0", "v1") and set(old) == set(new)
    assert all(c.adapter_version == 1 for found in new.values() for c in found)


def test_each_family_learns_the_captions_in_a_few_sft_steps(family_lm, tmp_path):
    """SFT through trl's SFTTrainer on each family, in its chat format when it has one: a LoRA on its linear
    layers, and a few steps lower the loss on the missing items' captions."""
    model, tokenizer = load_lm(str(family_lm), "none")
    trainer = sft_trainer(model, tokenizer, PAIRS * 4, PAIRS, QUICK, tmp_path / "out")
    assert any(hasattr(module, "lora_A") for module in trainer.model.modules())
    trainer.train()
    losses = [row["loss"] for row in trainer.state.log_history if "loss" in row]
    assert len(losses) == QUICK.sft_steps and losses[-1] < losses[0]
