"""SFT through trl's SFTTrainer on tiny random models of three families (Llama, GPT-2's Conv1D layers, Phi-3's
fused projections): LoRA reaches every linear layer, the loss covers the missing item's caption only (tokenised
as the scorer tokenises it), a few steps raise its likelihood, and `train-lm` never writes the committed
checkpoints unless told to."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stylist.core.catalog import Item
from stylist.core.errors import StylistError
from stylist.core.prompts import completion, outfit_prompt
from stylist.data.corpus import TrainingOutfit
from stylist.models.likelihood import completion_logprobs, encode_pair
from stylist.models.lm import BASE_LM, SFT_ADAPTER, load_lm
from stylist.models.outfit import SCORER_DIR
from stylist.train import lm
from stylist.train.lm import LMTrainConfig, resolve_paths, sft_trainer

PAIRS = [(outfit_prompt(["white cotton t-shirt", "blue denim jeans"], "shoes"), completion("black leather ankle boots")),
         (outfit_prompt(["silk blouse", "navy wool coat"], "bags"), completion("brown leather tote bag")),
         (outfit_prompt(["linen shirt"]), completion("white canvas sneakers")),
         (outfit_prompt(["wool sweater", "blue denim jeans"], "hats", "casual", "winter"), completion("grey knit beanie"))]
QUICK = LMTrainConfig(sft_lr=2e-2, sft_epochs=1, sft_steps=6, batch_size=4, lora_r=4, lora_alpha=8)
# every linear layer of each family: what "all-linear" must reach
LAYERS = {"llama": {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"},
          "gpt2": {"c_attn", "c_proj", "c_fc"},
          "phi3": {"qkv_proj", "o_proj", "gate_up_proj", "down_proj"}}


def family_model(base: Path, family: str, folder: Path) -> Path:
    """A 2-layer random model of `family` with the tiny LM's tokenizer, saved to `folder`."""
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel, Phi3Config, Phi3ForCausalLM

    if family == "llama":
        return base
    tokenizer = AutoTokenizer.from_pretrained(base)
    ids = {"pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id,
           "bos_token_id": tokenizer.eos_token_id}
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=128,
                                       **ids)) if family == "gpt2" else \
        Phi3ForCausalLM(Phi3Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128, **ids))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("family", sorted(LAYERS))
def test_sft_puts_lora_on_every_linear_layer_and_learns_the_captions(tiny_lm, tmp_path, family):
    model, tokenizer = load_lm(family_model(tiny_lm.base, family, tmp_path / "base"), "none")
    prompts, texts = zip(*PAIRS)
    before = completion_logprobs(model, tokenizer, prompts, texts)[0]
    trainer = sft_trainer(model, tokenizer, PAIRS * 4, PAIRS, QUICK, tmp_path / "out")
    adapted = {name.rsplit(".", 1)[-1] for name, module in trainer.model.named_modules() if hasattr(module, "lora_A")}
    assert adapted == LAYERS[family]
    trainer.train()
    losses = [row["loss"] for row in trainer.state.log_history if "loss" in row]
    assert len(losses) == QUICK.sft_steps and losses[-1] < losses[0]
    assert completion_logprobs(trainer.model, tokenizer, prompts, texts)[0].mean() > before.mean() + 1.0


def test_sft_loss_covers_the_completion_as_the_scorer_tokenises_it(tiny_lm, tmp_path):
    model, tokenizer = load_lm(tiny_lm.base, "none")
    trainer = sft_trainer(model, tokenizer, PAIRS, [], QUICK, tmp_path / "out")
    for row, (prompt, text) in zip(trainer.train_dataset, PAIRS):
        ids, start = encode_pair(tokenizer, prompt, text)
        assert row["input_ids"] == ids
        assert row["labels"] == [-100] * start + ids[start:]


def test_train_lm_sft_writes_a_loadable_adapter_under_runs(tiny_lm, tmp_path, monkeypatch, capsys):
    """The whole `train-lm --step sft` on a custom base LM, on a few outfits instead of Polyvore."""
    items = [Item(id=str(i), title=title) for i, title in enumerate(
        ["white cotton t-shirt", "blue denim jeans", "black leather ankle boots", "silk blouse", "navy wool coat"])]
    outfits = [TrainingOutfit(items[:3], {"occasion": "casual"}), TrainingOutfit(items[2:], {})]
    monkeypatch.setattr(lm, "training_outfits", lambda part, with_demo=True: outfits)
    monkeypatch.setattr(lm, "SCRATCH", tmp_path / "runs")
    lm.main(["--step", "sft", "--base-dir", str(tiny_lm.base), "--sft-steps", "2", "--batch-size", "2",
             "--lora-r", "4", "--lora-alpha", "8"])
    out = tmp_path / "runs" / "sft"
    assert f"adapter written to {out}" in capsys.readouterr().out
    model, tokenizer = load_lm(tiny_lm.base, out)
    assert np.isfinite(completion_logprobs(model, tokenizer, *zip(*PAIRS))[0]).all()


def test_training_never_writes_committed_checkpoints_unless_told(tmp_path):
    sft = resolve_paths(LMTrainConfig(step="sft", base_dir=str(tmp_path)))
    assert Path(sft.adapter_dir) == lm.SCRATCH / "sft" and sft.base_dir == str(tmp_path)
    tune = resolve_paths(LMTrainConfig(step="tune"))
    assert Path(tune.adapter_dir) == SFT_ADAPTER and Path(tune.scorer_dir) == lm.SCRATCH / "scorer"
    custom = resolve_paths(LMTrainConfig(step="tune", base_dir=str(tmp_path), adapter_dir=str(tmp_path / "a")))
    assert Path(custom.scorer_dir) == tmp_path / "a"  # the weights go beside the adapter they were tuned for
    everything = resolve_paths(LMTrainConfig())
    assert {everything.base_dir, everything.adapter_dir, everything.scorer_dir} == {
        str(lm.SCRATCH / "base-lm"), str(lm.SCRATCH / "sft")}
    told = resolve_paths(LMTrainConfig(overwrite=True))
    assert (told.base_dir, told.adapter_dir, told.scorer_dir) == (str(BASE_LM), str(SFT_ADAPTER), str(SCORER_DIR))
    named = resolve_paths(LMTrainConfig(step="sft", adapter_dir=str(SFT_ADAPTER)))
    assert named.adapter_dir == str(SFT_ADAPTER)  # naming the committed folder is telling
    with pytest.raises(StylistError, match="overwrite"):
        resolve_paths(LMTrainConfig(base_dir=str(tmp_path), overwrite=True))


def test_tune_reads_the_format_an_adapter_was_trained_in(tmp_path):
    """The committed adapter predates the slot format (its log says no format): tuned as the caption format whatever
    `--format` says; a new adapter's log or its scoring.json says which."""
    import json

    from stylist.models.outfit import ScoringConfig, save_scoring_config

    assert lm.trained_format(resolve_paths(LMTrainConfig(step="tune"))) == "caption"
    adapter = tmp_path / "sft"
    adapter.mkdir()
    (adapter / "train_log.json").write_text(json.dumps({"config": {"format": "slot"}}))
    assert lm.trained_format(LMTrainConfig(step="tune", format="caption", adapter_dir=str(adapter))) == "slot"
    save_scoring_config(ScoringConfig(format="caption"), ScoringConfig(format="caption"), adapter / "scoring.json")
    assert lm.trained_format(LMTrainConfig(step="tune", adapter_dir=str(adapter))) == "caption"
    assert lm.trained_format(LMTrainConfig(step="tune", format="caption", adapter_dir="none")) == "caption"
