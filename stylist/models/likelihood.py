"""Log-likelihoods and greedy generation with a causal LM, the way trl's trainers tokenise: the numbers the
outfit score, SFT and DPO share. Completions of one prompt run the prompt once and continue from its
key/value cache, since a recommendation scores a dozen candidates after each outfit prompt.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from stylist.core.prompts import chat_ids, model_prompt, uses_chat


def context_limit(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> int | None:
    """The most tokens the LM reads at once: its position embeddings or its tokenizer's maximum, whichever is
    smaller (a tokenizer without one says about 1e30); None when neither says."""
    limits = [getattr(getattr(model, "config", None), "max_position_embeddings", None), tokenizer.model_max_length]
    known = [int(n) for n in limits if isinstance(n, (int, float)) and 0 < n < 1e9]
    return min(known) if known else None


def encode_pair(tokenizer: PreTrainedTokenizerBase, prompt: str, text: str, limit: int | None = None
                ) -> tuple[list[int], int]:
    """Token ids of prompt + completion + eos (a chat LM: the templated user message + the assistant's answer and
    end of turn), and where the completion starts; tokenised the way trl's SFT and DPO trainers tokenise
    `prompts.trl_row` (prompt and prompt+completion whole), so scores, SFT and DPO agree. Over `limit` tokens
    the prompt loses its oldest tokens after the first (an LM cannot read past its context, and a prompt that
    long is only someone's very long caption); the completion is kept whole."""
    if uses_chat(tokenizer):
        prompt_ids, full = chat_ids(tokenizer, prompt), chat_ids(tokenizer, prompt, text)
    else:
        prompt_ids = tokenizer(prompt)["input_ids"]
        full = tokenizer(prompt + text)["input_ids"] + [tokenizer.eos_token_id]
    start = len(prompt_ids)
    while start > 0 and full[:start] != prompt_ids[:start]:  # a token merged across the boundary
        start -= 1
    over = len(full) - limit if limit else 0
    if over > 0 and start - over > 1:
        full, start = full[:1] + full[1 + over:], start - over
    return full, start


SHARED_PREFIX_MIN = 4  # completions of one prompt that make running the prompt once worth it


@torch.no_grad()
def completion_logprobs(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str],
                        texts: Sequence[str], batch_size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Summed log-probability of each completion given its prompt, and its number of tokens.

    A recommendation scores a dozen candidates after each outfit prompt, so completions that share a prompt run
    the prompt once and continue from its key/value cache (`_shared_prompt_logprobs`); the rest run whole."""
    limit = context_limit(model, tokenizer)
    encoded = [encode_pair(tokenizer, p, t, limit) for p, t in zip(prompts, texts)]
    logprobs, lengths = np.zeros(len(encoded)), np.zeros(len(encoded))
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, (seq, start) in enumerate(encoded):
        if start >= 2:  # the cache holds the prompt but its last token, whose logits score the first completion token
            groups.setdefault(tuple(seq[:start - 1]), []).append(i)
    shared = [(list(prefix), rows) for prefix, rows in groups.items() if len(rows) >= SHARED_PREFIX_MIN]
    per_batch = max(1, batch_size // 16)  # prompts per batch: each brings a dozen completions or so
    for begin in range(0, len(shared), per_batch):
        part = shared[begin:begin + per_batch]
        rows = [i for _, group in part for i in group]
        logprobs[rows], lengths[rows] = _shared_prompt_logprobs(
            model, tokenizer, [prefix for prefix, _ in part],
            [(k, encoded[i][0][len(prefix):]) for k, (prefix, group) in enumerate(part) for i in group])
    done = {i for _, group in shared for i in group}
    rest = sorted((i for i in range(len(encoded)) if i not in done), key=lambda i: len(encoded[i][0]))  # less padding
    for begin in range(0, len(rest), batch_size):
        batch = rest[begin:begin + batch_size]
        ids, mask = padded(tokenizer, [encoded[i][0] for i in batch])
        target = torch.zeros_like(mask, dtype=torch.bool)
        for row, i in enumerate(batch):
            seq, start = encoded[i]
            target[row, start:len(seq)] = True
        logprobs[batch], lengths[batch] = _token_logprobs(model, ids, mask, target)
    return logprobs, lengths


def padded(tokenizer: PreTrainedTokenizerBase, seqs: list[list[int]], left: bool = False
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of token id lists padded on the right (or left), and its attention mask."""
    width = max(len(seq) for seq in seqs)
    ids = torch.full((len(seqs), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        where = slice(width - len(seq), width) if left else slice(0, len(seq))
        ids[row, where] = torch.tensor(seq)
        mask[row, where] = 1
    return ids, mask


def _token_logprobs(model: PreTrainedModel, ids: torch.Tensor, mask: torch.Tensor, target: torch.Tensor,
                    **inputs) -> tuple[np.ndarray, np.ndarray]:
    """Summed log p of the `target` tokens of each row (each predicted from the position before it); `inputs`
    may carry a cache, the full attention mask and position ids. The LM head runs only from the first position
    that predicts a target on (a tenth of the LM's weights in each position, and its vocabulary-wide
    normaliser the largest tensor of a pass)."""
    device = next(model.parameters()).device
    predicted = target[:, 1:]
    first = int(predicted.any(0).nonzero()[0, 0]) if predicted.any() else predicted.shape[1]
    keep = ids.shape[1] - first  # logits of positions first .. end; the last one predicts nothing
    inputs = {"attention_mask": mask, **inputs, **_keep_logits(model, keep)}
    logits = model(input_ids=ids.to(device), **{k: v.to(device) if torch.is_tensor(v) else v
                                                for k, v in inputs.items()}).logits[:, -keep:-1].float()
    chosen = logits.gather(-1, ids[:, first + 1:, None].to(device)).squeeze(-1)
    token_lp = (chosen - torch.logsumexp(logits, -1)) * predicted[:, first:].to(device)
    return token_lp.sum(-1).cpu().numpy(), predicted.sum(-1).numpy()


def _keep_logits(model: PreTrainedModel, last: int) -> dict[str, int]:
    """The forward argument that computes logits for the `last` positions only, where the LM's class takes it
    (every transformers causal LM does; a remote-code one may not, and then gets every position)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return {"logits_to_keep": max(last, 1)} if _takes_logits_to_keep(type(base)) else {}


@functools.cache
def _takes_logits_to_keep(cls: type) -> bool:
    return "logits_to_keep" in inspect.signature(cls.forward).parameters


def _shared_prompt_logprobs(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prefixes: list[list[int]],
                            rows: list[tuple[int, list[int]]]) -> tuple[np.ndarray, np.ndarray]:
    """`completion_logprobs` of rows (prefix number, suffix): the prefixes (prompts less their last token) run
    once, left-padded in one batch; each row continues from its prefix's cache with its suffix (the prompt's
    last token, then the completion), and every suffix token but the first is scored."""
    device = next(model.parameters()).device
    prefix_ids, prefix_mask = padded(tokenizer, prefixes, left=True)
    positions = (prefix_mask.cumsum(1) - 1).clamp(min=0)
    cache = model(input_ids=prefix_ids.to(device), attention_mask=prefix_mask.to(device),
                  position_ids=positions.to(device), use_cache=True, **_keep_logits(model, 1)).past_key_values
    which = torch.tensor([k for k, _ in rows])
    cache.batch_select_indices(which.to(device))
    ids, mask = padded(tokenizer, [suffix for _, suffix in rows])
    start = prefix_mask.sum(1)[which].unsqueeze(1)
    return _token_logprobs(model, ids, mask, mask.bool(), past_key_values=cache, use_cache=True,
                           attention_mask=torch.cat([prefix_mask[which], mask], 1),
                           position_ids=start + torch.arange(ids.shape[1]).unsqueeze(0))


@torch.no_grad()
def generate(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str],
             max_new_tokens: int = 16, num_beams: int = 1, samples: int = 0, temperature: float = 1.0,
             seed: int = 0) -> list[str]:
    """Greedy (or beam) continuations of the prompts (a chat LM's answers), from their first line with text to
    its end; with `samples`, that many sampled ones per prompt instead (prompt by prompt), drawn from `seed` so
    the same request gets the same texts. A chat LM stops at its end of turn too (its generation config's eos),
    not only at the tokenizer's."""
    limit = context_limit(model, tokenizer)
    tokenizer.padding_side = tokenizer.truncation_side = "left"  # a prompt over the context loses its oldest words
    batch = tokenizer([model_prompt(tokenizer, p) for p in prompts], return_tensors="pt", padding=True,
                      truncation=limit is not None, max_length=limit and max(1, limit - max_new_tokens),
                      add_special_tokens=not uses_chat(tokenizer))  # a chat template brings its own
    tokenizer.padding_side = tokenizer.truncation_side = "right"
    ends = model.generation_config.eos_token_id
    ends = [tokenizer.eos_token_id, *(ends if isinstance(ends, list) else [] if ends is None else [ends])]
    sampling = ({"do_sample": True, "num_return_sequences": samples, "temperature": temperature, "top_k": 0,
                 "top_p": 1.0} if samples else {"do_sample": False})
    with torch.random.fork_rng(devices=[]):  # the caller's random stream is left as it was
        torch.manual_seed(seed)
        out = model.generate(**batch.to(next(model.parameters()).device), max_new_tokens=max_new_tokens,
                             num_beams=num_beams, pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=sorted(set(ends)), **sampling)
    texts = tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    return [t.lstrip().split("\n")[0].strip(" ;") for t in texts]
