"""The outfit LM's plumbing on a tiny random Llama built here: loading any model folder (+ adapter),
likelihoods tokenised the way trl's DPO does, generation, the PMI scorer; plus splits and counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylist.core.catalog import Item, Outfit
from stylist.core.errors import StylistError
from stylist.core.prompts import completion, item_caption, outfit_prompt
from stylist.data.splits import bucket, part_of, split_outfits
from stylist.models.counts import CountConfig, CountModel
from stylist.models.outfit import (
    PMIScorer,
    ScoringConfig,
    completion_logprobs,
    encode_pair,
    generate,
    is_unconditional,
    load_lm,
)
from stylist.train.lm import TrainConfig, make_tokenizer, new_llama

TEXTS = ["black leather ankle boots", "white cotton t-shirt", "blue denim jeans", "gold hoop earrings",
         "red lipstick", "navy wool coat", "brown leather tote bag", "grey knit beanie"] * 4
TINY = TrainConfig(vocab_size=200, hidden=32, layers=2, heads=2, intermediate=64)


def save_tiny_lm(folder) -> None:
    """A 2-layer Llama with the project's own tokenizer format, as `from_pretrained` reads it."""
    torch.manual_seed(0)
    tokenizer = make_tokenizer(TEXTS, TINY.vocab_size)
    new_llama(tokenizer, TINY).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def save_tiny_adapter(base_folder, folder) -> None:
    """A LoRA adapter on the standard projections, with non-zero B so that it changes the outputs."""
    from peft import LoraConfig, get_peft_model

    model, _ = load_lm(base_folder, "none")
    peft = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj", "o_proj"], task_type="CAUSAL_LM"))
    for name, param in peft.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.5)
    peft.save_pretrained(folder)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    base = tmp_path_factory.mktemp("base")
    adapter = tmp_path_factory.mktemp("adapter")
    save_tiny_lm(base)
    save_tiny_adapter(base, adapter)
    return base, adapter


def test_tokenizer_has_special_tokens_and_bos(tiny):
    _, tokenizer = load_lm(tiny[0], "none")
    assert tokenizer.pad_token == "<pad>" and tokenizer.eos_token == "</s>"
    ids = tokenizer("outfit: black boots")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and tokenizer.eos_token_id not in ids


def test_completion_is_tokenised_like_trl(tiny):
    """trl tokenises prompt and prompt+completion: the completion must start right after the prompt."""
    _, tokenizer = load_lm(tiny[0], "none")
    prompt = outfit_prompt(["white cotton t-shirt", "blue denim jeans"], "shoes")
    ids, start = encode_pair(tokenizer, prompt, completion("black leather ankle boots"))
    assert ids[:start] == tokenizer(prompt)["input_ids"]
    assert tokenizer.decode(ids[start:], skip_special_tokens=True).strip() == "black leather ankle boots"
    assert ids[-1] == tokenizer.eos_token_id


def test_logprobs_do_not_depend_on_batching(tiny):
    model, tokenizer = load_lm(*tiny)
    prompts = [outfit_prompt(["white cotton t-shirt"]), outfit_prompt([]), outfit_prompt(["red lipstick", "navy wool coat"], "bags")]
    texts = [completion(t) for t in ("blue denim jeans", "gold hoop earrings", "brown leather tote bag")]
    together, lengths = completion_logprobs(model, tokenizer, prompts, texts, batch_size=3)
    alone = [completion_logprobs(model, tokenizer, [p], [t])[0][0] for p, t in zip(prompts, texts)]
    assert np.allclose(together, alone, atol=1e-4)
    assert (together < 0).all() and (lengths >= 2).all()


def test_adapter_changes_the_model_and_none_means_base(tiny):
    from peft import PeftModel

    base, _ = load_lm(tiny[0], "none")
    tuned, tokenizer = load_lm(*tiny)
    assert isinstance(tuned, PeftModel) and not isinstance(base, PeftModel)
    args = ([outfit_prompt(["white cotton t-shirt"])], [completion("blue denim jeans")])
    assert not np.allclose(completion_logprobs(base, tokenizer, *args)[0], completion_logprobs(tuned, tokenizer, *args)[0])


def test_bad_model_or_adapter_is_one_line_error(tiny, tmp_path):
    with pytest.raises(StylistError):
        load_lm(tmp_path / "missing")
    with pytest.raises(StylistError, match="adapter_config"):
        load_lm(tiny[0], tmp_path)


def test_generate_returns_one_line_per_prompt(tiny):
    model, tokenizer = load_lm(*tiny)
    out = generate(model, tokenizer, [outfit_prompt(["white cotton t-shirt"], "shoes"), outfit_prompt([], "bags")],
                   max_new_tokens=5)
    assert len(out) == 2 and all(isinstance(t, str) and "\n" not in t for t in out)


def test_pmi_scorer_is_conditional_minus_unconditional(tiny):
    model, tokenizer = load_lm(*tiny)
    scorer = PMIScorer(model, tokenizer, ScoringConfig(forward=1, backward=0, counts=0, length_power=0))
    context, candidate = [Item("a", "white cotton t-shirt")], Item("b", "blue denim jeans")
    got = scorer.candidate_scores(context, [candidate])[0]
    lp = completion_logprobs(model, tokenizer, [outfit_prompt(["white cotton t-shirt"]), outfit_prompt([])],
                             [completion("blue denim jeans")] * 2)[0]
    assert got == pytest.approx(lp[0] - lp[1], abs=1e-5)
    assert len(scorer.cache) > 0 and np.isfinite(scorer.outfit_score([*context, candidate]))



def test_only_the_empty_outfit_prompt_goes_to_the_prior():
    assert is_unconditional(outfit_prompt([])) and is_unconditional(outfit_prompt([], "shoes"))
    assert not is_unconditional(outfit_prompt(["white tee"], "shoes"))
    assert not is_unconditional(outfit_prompt([], "shoes", occasion="party"))

def test_split_is_deterministic_and_about_a_fifth():
    ids = [str(200000000 + 7919 * n) for n in range(2000)]
    parts = split_outfits(Outfit(i, []) for i in ids)
    assert 0.16 < len(parts["test"]) / len(ids) < 0.24
    assert all(part_of(o.id) == "test" for o in parts["test"]) and bucket("123") == bucket("123")
    assert len(parts["fit"]) == len(parts["train"]) + len(parts["valid"])


def test_counts_prefer_pairs_seen_together(tmp_path):
    boots, tee, lipstick = (Item("x", "black boots", "Boots"), Item("y", "white tee", "T-Shirts"),
                            Item("z", "red lipstick", "Lipstick"))
    outfits = [[Item(f"{n}a", "black boots", "Boots"), Item(f"{n}b", "white tee", "T-Shirts")] for n in range(5)]
    outfits += [[Item(f"{n}c", "red lipstick", "Lipstick"), Item(f"{n}d", "pink blush", "Blush")] for n in range(5)]
    counts = CountModel.fit(outfits)
    assert counts.pair_score(boots, tee) > 0 > counts.pair_score(boots, lipstick)
    counts.save(tmp_path / "c.npz")
    again = CountModel.load(tmp_path / "c.npz")
    assert again.candidate_scores([tee], [boots, lipstick]) == pytest.approx(counts.candidate_scores([tee], [boots, lipstick]))


def test_counts_price_band_separates_price_ranges():
    cheap, dear = Item("c", "tee", "T-Shirts", price=12.0), Item("d", "tee", "T-Shirts", price=400.0)
    outfits = [[Item(f"{n}a", "boots", "Boots", price=p), Item(f"{n}b", "tee", "T-Shirts", price=p * 0.9)]
               for n in range(4) for p in (15.0, 500.0)]
    with_price = CountModel.fit(outfits, CountConfig(min_count=1, price_weight=1.0))
    boots = Item("q", "boots", "Boots", price=14.0)
    assert with_price.pair_score(boots, cheap) > with_price.pair_score(boots, dear)
    assert CountModel.fit(outfits).pair_score(boots, cheap) == CountModel.fit(outfits).pair_score(boots, dear)
    unpriced = Item("u", "boots", "Boots")  # no price listed: only category and words speak
    assert with_price.pair_score(unpriced, cheap) == with_price.pair_score(unpriced, dear)


def test_item_caption_names_category_and_price_band():
    assert item_caption(Item("a", "Black Ankle Boots", "Boots")) == "black ankle boots"  # already says it
    assert item_caption(Item("b", "gucci", "Shoes", price=120.0)) == "gucci, shoes, p7"  # 2**7 = 128
    assert item_caption(Item("c", "", "Shoes", price=-1)) == "shoes"
