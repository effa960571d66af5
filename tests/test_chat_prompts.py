"""Chat templates: an instruct LLM (a tokenizer with a chat template) reads the outfit prompt as a templated user
message and answers as the assistant, alike in scoring, SFT, DPO and generation; a base LM without a template,
the embedded one included, reads the plain prompt as before. Tiny random Llama and Qwen2 models, each with a
template of its family's shape, built here: Llama 3's starts with a BOS the tokenizer also adds by itself; Qwen2's
ChatML on a byte-level BPE `Qwen2Tokenizer` (what AutoTokenizer loads for a qwen2 model whatever the folder says)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from stylist.core.prompts import CHAT_INSTRUCTION, completion, model_prompt, outfit_prompt, trl_row, uses_chat
from stylist.models.likelihood import completion_logprobs, encode_pair, generate
from stylist.models.lm import BASE_LM, load_lm
from stylist.train.lm import LMTrainConfig, sft_trainer

PROMPT = outfit_prompt(["white cotton t-shirt", "blue denim jeans"], "shoes", "casual", "summer")
CHOSEN, REJECTED = completion("black leather ankle boots"), completion("red clutch bag")
TEMPLATES = {
    "llama": (("{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n'"
              " + m['content'] | trim + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}"
              "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"),
              ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"], "<|eot_id|>"),
    "qwen2": (("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}"
              "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"),
              ["<|im_start|>", "<|im_end|>"], "<|im_end|>"),
}


def qwen2_tokenizer(specials: list[str]):
    """A byte-level BPE learnt from the test's texts, as a Qwen2Tokenizer."""
    import json

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator([PROMPT, CHOSEN, REJECTED, CHAT_INSTRUCTION, "user assistant"], trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=["<pad>", *specials],
        show_progress=False))
    bpe_model = json.loads(bpe.to_str())["model"]
    return Qwen2Tokenizer(vocab=bpe_model["vocab"], merges=[tuple(m) for m in bpe_model["merges"]], unk_token=None,
                          pad_token="<pad>")


@pytest.fixture(scope="module", params=sorted(TEMPLATES))
def chat_lm(request, tiny_lm, tmp_path_factory) -> Path:
    """A tiny instruct LLM: a tokenizer with the family's special tokens and chat template, and a random model of
    that family."""
    from tokenizers.processors import TemplateProcessing
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    family = request.param
    template, specials, end = TEMPLATES[family]
    tokenizer = qwen2_tokenizer(specials) if family == "qwen2" else AutoTokenizer.from_pretrained(tiny_lm.base)
    tokenizer.add_special_tokens({"additional_special_tokens": specials, "eos_token": end})
    tokenizer.chat_template = template
    if family == "llama":
        tokenizer.add_tokens(["\n"])  # the word-level tokenizer has no new line of its own
        bos = tokenizer.convert_tokens_to_ids("<|begin_of_text|>")
        tokenizer.bos_token = "<|begin_of_text|>"
        tokenizer.backend_tokenizer.post_processor = TemplateProcessing(
            single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", bos)])
    sizes = {"vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
             "num_attention_heads": 2, "num_key_value_heads": 2, "max_position_embeddings": 256,
             "pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id}
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**sizes)) if family == "llama" else Qwen2ForCausalLM(Qwen2Config(**sizes))
    folder = tmp_path_factory.mktemp(f"chat-{family}")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_instruct_llm_reads_a_templated_user_message(chat_lm):
    _, tokenizer = load_lm(chat_lm, "none")
    assert uses_chat(tokenizer)
    text = model_prompt(tokenizer, PROMPT)
    assert CHAT_INSTRUCTION in text and PROMPT in text and text != PROMPT
    assert text.endswith(("assistant<|end_header_id|>\n\n", "<|im_start|>assistant\n"))
    row = trl_row(tokenizer, PROMPT, completion=CHOSEN)
    assert row["prompt"][0]["role"] == "user" and row["completion"] == [{"role": "assistant", "content": CHOSEN.strip()}]


def test_base_lm_reads_the_plain_prompt(tiny_lm):
    from transformers import AutoTokenizer

    for folder in (tiny_lm.base, BASE_LM):  # the embedded LM's prompts (and so its figures) stay as they were
        tokenizer = AutoTokenizer.from_pretrained(folder)
        assert not uses_chat(tokenizer) and model_prompt(tokenizer, PROMPT) == PROMPT
        assert trl_row(tokenizer, PROMPT, chosen=CHOSEN, rejected=REJECTED) == {
            "prompt": PROMPT, "chosen": CHOSEN, "rejected": REJECTED}
        ids, start = encode_pair(tokenizer, PROMPT, CHOSEN)
        assert ids == tokenizer(PROMPT + CHOSEN)["input_ids"] + [tokenizer.eos_token_id]
        assert ids[:start] == tokenizer(PROMPT)["input_ids"]


def test_scoring_sft_and_dpo_tokenise_the_exchange_alike(chat_lm, tmp_path):
    from stylist.train.refine import dpo_trainer

    model, tokenizer = load_lm(chat_lm, "none")
    ids, start = encode_pair(tokenizer, PROMPT, CHOSEN)
    assert ids[:start] == tokenizer(model_prompt(tokenizer, PROMPT), add_special_tokens=False)["input_ids"]
    if tokenizer.bos_token_id is not None:
        assert ids.count(tokenizer.bos_token_id) == 1  # the template's BOS, not a second from the tokenizer
    answer = tokenizer.decode(ids[start:])
    assert answer.startswith(CHOSEN.strip()) and tokenizer.eos_token in answer  # the answer and its end of turn
    sft = sft_trainer(model, tokenizer, [(PROMPT, CHOSEN)] * 4, [], LMTrainConfig(sft_steps=2, batch_size=2, lora_r=4),
                      tmp_path / "sft")
    assert sft.train_dataset[0]["input_ids"] == ids
    assert sft.train_dataset[0]["labels"] == [-100] * start + ids[start:]  # the loss covers the answer only
    sft.train()
    model = sft.model
    rows = [{"prompt": PROMPT, "chosen": CHOSEN, "rejected": REJECTED}] * 2
    dpo = dpo_trainer(model, tokenizer, rows, tmp_path / "dpo", beta=0.5, learning_rate=1e-3, batch_size=2, epochs=1,
                      steps=1, max_length=256, seed=0)
    row = dpo.train_dataset[0]
    assert row["prompt_ids"] + row["chosen_ids"] == ids
    assert row["prompt_ids"] + row["rejected_ids"] == encode_pair(tokenizer, PROMPT, REJECTED)[0]
    logprobs, lengths = completion_logprobs(model, tokenizer, [PROMPT] * 2, [CHOSEN, REJECTED])
    assert np.isfinite(logprobs).all() and lengths[0] == len(ids) - start


class ScriptedLM(torch.nn.Module):
    """Answers every prompt with the same tokens, and remembers what it was given."""

    def __init__(self, answer: list[int], eos: int):
        from transformers import GenerationConfig

        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.answer, self.generation_config, self.inputs = answer, GenerationConfig(eos_token_id=eos), None

    def generate(self, input_ids, attention_mask, **kwargs):
        self.inputs = input_ids
        return torch.cat([input_ids, torch.tensor([self.answer] * len(input_ids))], 1)


def test_an_answer_starting_with_a_new_line_is_not_empty(chat_lm):
    _, tokenizer = load_lm(chat_lm, "none")
    answer = tokenizer("\n black leather ankle boots \n red lipstick", add_special_tokens=False)["input_ids"]
    model = ScriptedLM(answer + [tokenizer.eos_token_id], tokenizer.eos_token_id)
    assert generate(model, tokenizer, [PROMPT, outfit_prompt([])]) == ["black leather ankle boots"] * 2
    first = model.inputs[0][model.inputs[0] != tokenizer.pad_token_id].tolist()
    assert first == tokenizer(model_prompt(tokenizer, PROMPT), add_special_tokens=False)["input_ids"]
