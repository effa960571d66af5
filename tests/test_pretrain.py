"""The base LM's pre-training (`train-lm --step base`, slot format): its sequence format, its corpus (real outfits
only), and a tiny run end to end."""

from __future__ import annotations

import json
import random

import pytest

from stylist.core.catalog import Item
from stylist.core.paths import shared_data
from stylist.data.corpus import TrainingOutfit
from stylist.train import lm as train_lm
from stylist.train.lm import LMTrainConfig, outfit_text, pretrain_outfits, sft_examples


def outfit(*titles: str) -> TrainingOutfit:
    return TrainingOutfit([Item(id=str(k), title=t) for k, t in enumerate(titles)])


def test_outfit_text_is_the_prompt_format_with_one_item_missing():
    titles = ("black boots", "red coat", "blue jeans")
    for format in ("slot", "caption"):
        for seed in range(20):
            text = outfit_text(outfit(*titles), random.Random(seed), 0.5, format)
            head, _, missing = text.rpartition(": ")
            assert text.startswith("outfit: ") and "\nmissing" in text
            assert missing in titles and missing not in head.split("\n")[0]


def test_tiny_pretraining_saves_a_loadable_float16_base_every_epoch(tmp_path):
    from stylist.models.lm import load_lm

    outfits = [outfit(f"{c} boots", f"{c} coat", "blue jeans", "silk scarf") for c in ("black", "red", "navy", "tan")]
    titles = ["black boots", "red coat", "blue jeans", "silk scarf", "tan loafers"]
    out = pretrain_outfits(LMTrainConfig(base_dir=str(tmp_path / "base"), vocab_size=200, hidden=32, layers=1,
                                         heads=2, intermediate=64, base_epochs=2, batch_size=4),
                           (outfits * 4, outfits[:2], titles))
    log = json.loads((out / "train_log.json").read_text())
    assert log["epochs_done"] == 2 and len(log["log"]) == 2 and "valid_loss" in log["log"][-1]
    model, tokenizer = load_lm(out, "none")
    assert next(model.parameters()).dtype.is_floating_point and str(next(model.parameters()).dtype) == "torch.float32"
    assert tokenizer("black boots")["input_ids"][0] == tokenizer.bos_token_id


@pytest.mark.skipif(not (shared_data() / "polyvore" / "outfits.json").exists(), reason="../shared/data not present")
def test_the_real_corpus_keeps_test_outfits_out():
    from stylist.data.splits import polyvore_catalog, polyvore_split

    catalog = polyvore_catalog()
    test_titles = {i.title for o in polyvore_split(catalog)["test"] for i in catalog.outfit_items(o)}
    train, valid, titles = train_lm.outfit_corpus(LMTrainConfig(more_demo=0, maryland_repeats=1))
    assert len(train) > 700 and len(valid) > 100
    assert len(test_titles - set(titles)) > 100  # titles only in test outfits are never read


def test_the_slot_format_names_the_slot_in_the_same_tokens_either_way():
    """An unnamed-slot example ("missing" + " shoes: boots") must be the named one ("missing shoes:" + " boots")
    token for token, so the slot PMI and the caption PMI given the slot add up to the whole completion's."""
    from stylist.core.prompts import completion, open_prompt, outfit_prompt, slot_completion, training_pair
    from stylist.models.likelihood import encode_pair
    from stylist.models.lm import BASE_LM, load_lm

    _, tokenizer = load_lm(BASE_LM, "none")
    prompt, text = training_pair(["red wool coat", "blue jeans"], "shoes", "black leather ankle boots", False,
                                 format="slot")
    assert prompt == open_prompt(["red wool coat", "blue jeans"])
    assert text == slot_completion("shoes", "black leather ankle boots")
    named = encode_pair(tokenizer, outfit_prompt(["red wool coat", "blue jeans"], "shoes"),
                        completion("black leather ankle boots"))
    assert encode_pair(tokenizer, prompt, text)[0] == named[0] and prompt.endswith("\nmissing")
    examples = sft_examples([outfit("black boots", "red coat", "blue jeans")] * 10, random.Random(0))
    assert {p.endswith(":") for p, _ in examples} == {True, False}
    assert all(t.startswith((" shoes: ", " outerwear: ", " bottoms: ")) for p, t in examples if not p.endswith(":"))
    caption = sft_examples([outfit("black boots", "red coat", "blue jeans")] * 10, random.Random(0), "caption")
    assert all(p.endswith(":") and ": " not in t for p, t in caption)  # the old format asks "missing:" or names it
    assert any(p.endswith("\nmissing:") for p, _ in caption)
    sequences = [outfit_text(outfit("black boots", "red coat", "blue jeans"), random.Random(seed), 0.5, "slot")
                 for seed in range(20)]
    assert all(s.rpartition("\nmissing ")[2].split(":")[0] in ("shoes", "outerwear", "bottoms") for s in sequences)
    tagged = TrainingOutfit(outfit("black boots", "red coat").items, {"occasion": "work", "season": "winter"})
    texts = [p + t for p, t in sft_examples([tagged] * 5, random.Random(0))]
    texts += [outfit_text(tagged, random.Random(seed), 0.5, "slot") for seed in range(5)]
    assert all("\noccasion: work\nseason: winter\nmissing" in t for t in texts)  # every prompt carries its tags


def test_more_demo_outfits_keep_the_catalog_rules_and_leave_its_own_outfits_out():
    from stylist.data.corpus import demo_catalog, more_demo_outfits
    from stylist.data.demo_catalog import check_outfit

    more = more_demo_outfits(60)
    drawn = {frozenset(i.id for i in o.items) for o in more}
    assert len(more) == len(drawn) == 60 and not drawn & {frozenset(o.item_ids) for o in demo_catalog().outfits}
    assert all(not check_outfit(o.items, o.tags["occasion"], o.tags["season"]) for o in more)
