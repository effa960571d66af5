"""The tiny outfit LMs the LM, recommender, refine and family tests share: built from configs in seconds, no
downloads. `tiny_lm` is a random Llama with two adapters; `family_lm` is one tiny random causal LM of each family
a user may bring (Llama, Mistral, Qwen2, Gemma, Phi-3, GPT-2), the instruct ones with their family's chat template."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator, Sequence
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
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))  # bench/pg_server.py, shared with the benches

ROLES = ["system", "user", "assistant", "model"]  # the words of the chat templates' role headers


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


def save_word_tokenizer(folder: Path, special: Sequence[str] = (), chat_template: str | None = None) -> int:
    """A word-level tokenizer of every word the tests use (ids: <pad> 0, </s> 1, <unk> 2, then `special` as whole
    tokens; "<s>" among them is the BOS token), plus the role words of a chat template; returns the vocabulary size."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    split = pre_tokenizers.Whitespace()
    texts = GARMENTS + [outfit_prompt(["a"], slot, occasion, season)
                        for slot in SLOTS for occasion in OCCASIONS for season in SEASONS]
    texts += ROLES if chat_template else []
    words = ["<pad>", "</s>", "<unk>", *special] + sorted({w for t in texts for w, _ in split.pre_tokenize_str(t)})
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = split
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="</s>",
                                        unk_token="<unk>", bos_token="<s>" if "<s>" in special else None,
                                        additional_special_tokens=[t for t in special if t != "<s>"])
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    tokenizer.save_pretrained(folder)
    return len(words)


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory) -> TinyLM:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    root = tmp_path_factory.mktemp("tiny-lm")
    vocab = save_word_tokenizer(root / "base")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                         pad_token_id=0, eos_token_id=1, bos_token_id=1)
    LlamaForCausalLM(config).save_pretrained(root / "base")
    save_adapter(root / "base", root / "sft", seed=1)
    save_adapter(root / "base", root / "v2", seed=2)
    return TinyLM(root / "base", root / "sft", root / "v2")


# the chat templates of the instruct families, cut down to what a single-turn prompt and answer need
CHAT_ML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
           "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
INST = ("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]"
        "{% else %}{{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}")
TURNS = ("{{ bos_token }}{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else m['role'] }}"
         "\n{{ m['content'] }}<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")
PHI = ("{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
       "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")
LAYERS = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
          "num_key_value_heads": 1, "max_position_embeddings": 128}
# family -> (config class, its options, chat template (None: a base LM) and the special tokens it uses)
FAMILIES = {
    "llama": ("LlamaConfig", LAYERS, None, ()),
    "mistral": ("MistralConfig", {**LAYERS, "sliding_window": None}, INST, ("[INST]", "[/INST]")),
    "qwen2": ("Qwen2Config", LAYERS, CHAT_ML, ("<|im_start|>", "<|im_end|>")),
    "gemma": ("GemmaConfig", {**LAYERS, "head_dim": 8}, TURNS, ("<start_of_turn>", "<end_of_turn>")),
    "phi3": ("Phi3Config", LAYERS, PHI, ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>")),
    "gpt2": ("GPT2Config", {"n_embd": 16, "n_layer": 2, "n_head": 2, "n_positions": 128}, None, ()),
}


@pytest.fixture(scope="session", params=sorted(FAMILIES))
def family_lm(request, tmp_path_factory) -> Path:
    """The folder of a tiny random causal LM of one family (a test using it runs once per family)."""
    import torch
    import transformers

    config_class, options, template, special = FAMILIES[request.param]
    folder = tmp_path_factory.mktemp(f"family-{request.param}")
    vocab = save_word_tokenizer(folder, ("<s>", *special), template)
    torch.manual_seed(0)
    config = getattr(transformers, config_class)(vocab_size=vocab, pad_token_id=0, eos_token_id=1, bos_token_id=3,
                                                 **options)
    transformers.AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL of a throw-away PostgreSQL cluster (bench/pg_server.py); skipped only where its binaries are absent."""
    from pg_server import BIN, MISSING, cluster

    if not BIN:
        pytest.skip(MISSING)
    with cluster() as url:
        yield url


@pytest.fixture
def pg_url(pg_server, request) -> str:
    """A fresh database of its own for one test."""
    from pg_server import new_database

    return new_database(pg_server, "t_" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:16])
