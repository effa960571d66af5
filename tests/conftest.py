"""The tiny outfit LM the LM, recommender and refine tests share: built from configs in seconds, no downloads."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from stylist.core.prompts import outfit_prompt
from stylist.core.vocabulary import OCCASIONS, SEASONS, SLOTS

# every word the tests' captions and prompts use; any other word reads as <unk>
GARMENTS = ["black leather ankle boots", "white cotton t-shirt", "blue denim jeans", "gold hoop earrings", "red lipstick",
            "navy wool coat", "brown leather tote bag", "grey knit beanie", "white canvas sneakers", "red clutch bag",
            "floral loafers sandals", "linen shirt", "silk blouse", "wool sweater", "white tee", "denim jacket",
            "sneakers clutches coats hats jeans tote bags"]


class TinyLM(NamedTuple):
    base: Path  # a 2-layer random Llama with a word-level tokenizer
    adapter: Path  # a LoRA adapter with non-zero weights: version 0
    other: Path  # another such adapter: a later version


def save_adapter(base: Path, folder: Path, seed: int) -> None:
    """A LoRA adapter initialised at random (B included), so it changes what the model says."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(LlamaForCausalLM.from_pretrained(base), lora).save_pretrained(folder)


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory) -> TinyLM:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    root = tmp_path_factory.mktemp("tiny-lm")
    split = pre_tokenizers.Whitespace()
    texts = GARMENTS + [outfit_prompt(["a"], slot, occasion, season)
                        for slot in SLOTS for occasion in OCCASIONS for season in SEASONS]
    words = ["<pad>", "</s>", "<unk>"] + sorted({w for t in texts for w, _ in split.pre_tokenize_str(t)})
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = split
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="</s>",
                                        unk_token="<unk>")
    tokenizer.save_pretrained(root / "base")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(words), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                         pad_token_id=0, eos_token_id=1, bos_token_id=1)
    LlamaForCausalLM(config).save_pretrained(root / "base")
    save_adapter(root / "base", root / "sft", seed=1)
    save_adapter(root / "base", root / "v2", seed=2)
    return TinyLM(root / "base", root / "sft", root / "v2")
