"""The outfit language model: loading (base LM + optional LoRA adapter), log-likelihoods, generation,
and the PMI scorer that judges how well an item fits an outfit.

    python -m stylist eval fitb --split test            # the scorer at work (see evaluation/outfits.py)

Raw likelihood favours short, common captions, so an item is scored by how much the outfit raises its
likelihood and how much it raises the outfit's: pointwise mutual information in both directions,

    forward  = log p(item | outfit) - log p(item | nothing)
    backward = mean over outfit items o of  log p(o | item) - log p(o | nothing)

each divided by (completion tokens) ** length_power, plus optionally the counting model's PMI
(`counts.py`). The weights live in `checkpoints/scorer/scoring.json`, chosen on the validation part of
the training split by `train_lm.py`. The "nothing" terms may come from a fixed reference adapter
(`PMIScorer.reference`): a refined adapter is scored against the one it was refined from.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from stylist.core.catalog import Item
from stylist.core.errors import StylistError
from stylist.core.paths import CHECKPOINTS
from stylist.core.prompts import completion, item_caption, outfit_prompt

BASE_LM = CHECKPOINTS / "base-lm"
SFT_ADAPTER = CHECKPOINTS / "adapters" / "sft"
SCORER_DIR = CHECKPOINTS / "scorer"


def load_lm(llm: str | os.PathLike | None = None, adapter: str | os.PathLike | None = None
            ) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Base LM (`checkpoints/base-lm` or any HF causal LM id/folder) with a LoRA adapter on top.

    adapter=None means the embedded SFT adapter for the embedded LM and no adapter for another LM;
    'none' means the bare base model."""
    source = str(llm or BASE_LM)
    if adapter is None:
        adapter = SFT_ADAPTER if llm is None and SFT_ADAPTER.exists() else "none"
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise StylistError(f"cannot load language model {source!r}: {exc}") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if str(adapter) != "none":
        model = attach_adapter(model, adapter)
    model.eval()
    return model, tokenizer


def attach_adapter(model: PreTrainedModel, adapter: str | os.PathLike, name: str = "default") -> PreTrainedModel:
    from peft import PeftModel

    if not (Path(adapter) / "adapter_config.json").exists():
        raise StylistError(f"adapter {adapter}: no adapter_config.json (not a PEFT adapter folder)")
    return PeftModel.from_pretrained(model, str(adapter), adapter_name=name)


def encode_pair(tokenizer: PreTrainedTokenizerBase, prompt: str, text: str) -> tuple[list[int], int]:
    """Token ids of prompt + completion + eos, and where the completion starts; tokenised the way trl's
    DPOTrainer does (prompt and prompt+completion as whole strings), so scores and DPO agree."""
    prompt_ids = tokenizer(prompt)["input_ids"]
    full = tokenizer(prompt + text)["input_ids"] + [tokenizer.eos_token_id]
    start = len(prompt_ids)
    while start > 0 and full[:start] != prompt_ids[:start]:  # a token merged across the boundary
        start -= 1
    return full, start


@torch.no_grad()
def completion_logprobs(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str],
                        texts: Sequence[str], batch_size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Summed log-probability of each completion given its prompt, and its number of tokens."""
    encoded = [encode_pair(tokenizer, p, t) for p, t in zip(prompts, texts)]
    order = np.argsort([len(ids) for ids, _ in encoded])  # similar lengths share a batch: less padding
    logprobs, lengths = np.zeros(len(encoded)), np.zeros(len(encoded))
    device = next(model.parameters()).device
    for begin in range(0, len(order), batch_size):
        batch = order[begin:begin + batch_size]
        width = max(len(encoded[i][0]) for i in batch)
        ids = torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        target = torch.zeros((len(batch), width), dtype=torch.bool)
        for row, i in enumerate(batch):
            seq, start = encoded[i]
            ids[row, :len(seq)] = torch.tensor(seq)
            mask[row, :len(seq)] = 1
            target[row, start:len(seq)] = True
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits[:, :-1].float()
        token_lp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None].to(device)).squeeze(-1)
        token_lp = (token_lp * target[:, 1:].to(device)).sum(-1)
        logprobs[batch] = token_lp.cpu().numpy()
        lengths[batch] = target[:, 1:].sum(-1).numpy()
    return logprobs, lengths


@torch.no_grad()
def generate(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str],
             max_new_tokens: int = 16, num_beams: int = 1) -> list[str]:
    """Greedy (or beam) continuations of the prompts, cut at the end of the line."""
    tokenizer.padding_side = "left"
    batch = tokenizer(list(prompts), return_tensors="pt", padding=True)
    tokenizer.padding_side = "right"
    out = model.generate(**batch, max_new_tokens=max_new_tokens, num_beams=num_beams, do_sample=False,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    texts = tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    return [t.split("\n")[0].strip(" ;") for t in texts]


@dataclass
class ScoringConfig:
    """Weights of the outfit score; `train_lm.py` picks them on the training split's validation part."""

    forward: float = 1.0
    backward: float = 1.0
    counts: float = 0.0
    length_power: float = 1.0  # 0 = summed log-probs, 1 = per token


def is_unconditional(prompt: str) -> bool:
    """An empty outfit without occasion or season: the prompt of the PMI "nothing" terms."""
    head, _, rest = prompt.partition("\n")
    return head == outfit_prompt([]).partition("\n")[0] and "\n" not in rest


class PMIScorer:
    """Scores candidates and whole outfits by LM pointwise mutual information (plus optional counts).

    Log-likelihoods are memoised by (prompt, text), so the unconditional terms of catalog items are
    computed once and re-ranking a few candidates is cheap. The unconditional ("nothing") terms have their
    own cache, `prior`, scored with `reference` (a PEFT adapter name, "" for the bare base model, None for
    whatever is active). A DPO-refined adapter is scored against its reference, the SFT adapter: PMI
    log pi_new(item | outfit) - log pi_ref(item). Scoring the prior with the refined adapter would cancel
    what DPO learned, since DPO raises a liked item's likelihood with and without the outfit alike."""

    def __init__(self, model: PreTrainedModel | None, tokenizer: PreTrainedTokenizerBase | None,
                 config: ScoringConfig | None = None, counts=None):
        self.model, self.tokenizer = model, tokenizer
        self.config = config or ScoringConfig()
        self.counts = counts
        self.cache: dict[tuple[str, str], tuple[float, float]] = {}  # (prompt, text) -> (log p, tokens)
        self.prior: dict[tuple[str, str], tuple[float, float]] = {}  # the same for unconditional prompts
        self.reference: str | None = None  # the Recommender sets it to the adapter it was loaded with

    def _cache_of(self, pair: tuple[str, str]) -> dict[tuple[str, str], tuple[float, float]]:
        return self.prior if is_unconditional(pair[0]) else self.cache

    @contextmanager
    def _as_reference(self) -> Iterator[None]:
        """The model switched to the reference adapter for the duration (the active one restored after)."""
        from peft import PeftModel

        active = self.model.active_adapter if isinstance(self.model, PeftModel) else ""
        if self.reference is None or self.reference == active:
            yield
        elif self.reference == "":
            with self.model.disable_adapter():
                yield
        else:
            self.model.set_adapter(self.reference)
            try:
                yield
            finally:
                self.model.set_adapter(active)

    def logprobs(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Length-normalised log p(text | prompt) for (prompt, text) pairs, memoised."""
        todo = sorted({p for p in pairs if p not in self._cache_of(p)})
        for cache, model in ((self.cache, nullcontext()), (self.prior, self._as_reference())):
            part = [p for p in todo if self._cache_of(p) is cache]
            if part:
                with model:
                    lp, n = completion_logprobs(self.model, self.tokenizer, [p for p, _ in part], [t for _, t in part])
                cache.update(zip(part, zip(lp.tolist(), n.tolist())))
        raw = np.array([self._cache_of(p)[p] for p in pairs]).reshape(-1, 2)
        return raw[:, 0] / np.maximum(raw[:, 1], 1.0) ** self.config.length_power

    @staticmethod
    def pmi_pairs(context: Sequence[str], candidate: str, slot: str | None = None, occasion: str | None = None,
                  season: str | None = None) -> list[tuple[str, str]]:
        """The (prompt, text) likelihoods a candidate's forward and backward PMI need. The unconditional
        prompt keeps the slot but not the occasion/season, so it is the same for every outfit (cacheable)
        and the occasion counts as part of the outfit."""
        pairs = [(outfit_prompt(context, slot, occasion, season), completion(candidate)),
                 (outfit_prompt([], slot), completion(candidate))]
        for o in context:
            pairs += [(outfit_prompt([candidate]), completion(o)), (outfit_prompt([]), completion(o))]
        return pairs

    def pmi_terms(self, context: Sequence[str], candidates: Sequence[str], slot: str | None = None,
                  occasion: str | None = None, season: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Forward PMI of each candidate caption with the outfit, and its backward PMI with each outfit
        caption (candidates x context)."""
        pairs = [p for c in candidates for p in self.pmi_pairs(context, c, slot, occasion, season)]
        lp = self.logprobs(pairs).reshape(len(candidates), -1)
        return lp[:, 0] - lp[:, 1], lp[:, 2::2] - lp[:, 3::2]

    def combine(self, forward: np.ndarray, backward: np.ndarray, counts: np.ndarray | None) -> np.ndarray:
        """The weighted score of `ScoringConfig` from its parts."""
        score = self.config.forward * forward
        if backward.shape[1]:
            score = score + self.config.backward * backward.mean(1)
        if counts is not None:
            score = score + self.config.counts * counts
        return score

    def candidate_scores(self, context: list[Item], candidates: list[Item]) -> list[float]:
        backward = np.zeros((len(candidates), 0))
        if self.model is not None and (self.config.forward or self.config.backward):
            forward, backward = self.pmi_terms([item_caption(i) for i in context], [item_caption(c) for c in candidates])
        else:
            forward = np.zeros(len(candidates))
        counts = None
        if self.counts is not None and self.config.counts:
            counts = np.array(self.counts.candidate_scores(context, candidates))
        return self.combine(forward, backward, counts).tolist()

    def outfit_score(self, items: list[Item]) -> float:
        """Mean over items of how well each fits the rest of the outfit."""
        if self.model is not None:
            captions = [item_caption(i) for i in items]
            self.logprobs([p for k, c in enumerate(captions)
                           for p in self.pmi_pairs(captions[:k] + captions[k + 1:], c)])  # one batched pass
        return float(np.mean([self.candidate_scores(items[:k] + items[k + 1:], [item])[0]
                              for k, item in enumerate(items)]))


def load_scoring_config(with_counts: bool = True, path: str | os.PathLike = SCORER_DIR / "scoring.json") -> ScoringConfig:
    """The tuned weights: those of LM PMI + counts, or the best for the LM's PMI alone."""
    path = Path(path)
    if not path.exists():
        return ScoringConfig()
    return ScoringConfig(**json.loads(path.read_text())["with_counts" if with_counts else "lm_only"])


def load_outfit_scorer(llm: str | None = None, adapter: str | None = None, use_lm: bool = True,
                       use_counts: bool = True, scoring: str | os.PathLike = SCORER_DIR / "scoring.json") -> PMIScorer:
    """The recommender's scorer (LM PMI + counts, weights from scoring.json), or either part alone."""
    from stylist.models.counts import DEFAULT_COUNTS, CountModel

    config = load_scoring_config(with_counts=use_counts, path=scoring)
    counts = None
    if use_counts:
        if not DEFAULT_COUNTS.exists():
            raise StylistError(f"no counts at {DEFAULT_COUNTS}: run `python -m stylist train-lm --step counts`")
        counts = CountModel.load(DEFAULT_COUNTS)
    if not use_lm:
        return PMIScorer(None, None, ScoringConfig(forward=0, backward=0, counts=1.0), counts)
    model, tokenizer = load_lm(llm, adapter)
    return PMIScorer(model, tokenizer, config, counts)


def save_scoring_config(with_counts: ScoringConfig, lm_only: ScoringConfig,
                        path: str | os.PathLike = SCORER_DIR / "scoring.json") -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps({"with_counts": asdict(with_counts), "lm_only": asdict(lm_only)}, indent=1))
