"""The outfit model: the outfit LM (base LM + LoRA adapter versions), its log-likelihoods and generation,
and the PMI score that judges how well an item fits an outfit, all behind `OutfitModel`, which
`load_outfit_model` builds for the app, refinement, evaluation and tuning alike.

    python -m stylist eval fitb --split test            # the scorer at work (see evaluation/outfits.py)

Raw likelihood favours short, common captions, so an item is scored by how much the outfit raises its
likelihood and how much it raises the outfit's: pointwise mutual information in both directions,

    forward  = log p(item | outfit) - log p(item | nothing)
    backward = mean over outfit items o of  log p(o | item) - log p(o | nothing)

each divided by (completion tokens) ** length_power, plus optionally the counting model's PMI
(`counts.py`). The weights live in `checkpoints/scorer/scoring.json`, chosen on the validation part of
the training split by `python -m stylist train-lm --step tune`. The "nothing" terms always come from the
adapter the model was loaded with (version 0): a refined adapter is scored against the one it was refined from.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from stylist.core.catalog import Item
from stylist.core.errors import StylistError
from stylist.core.paths import CHECKPOINTS
from stylist.core.prompts import completion, item_caption, outfit_prompt
from stylist.models.counts import DEFAULT_COUNTS, CountModel

BASE_LM = CHECKPOINTS / "base-lm"
SFT_ADAPTER = CHECKPOINTS / "adapters" / "sft"
SCORER_DIR = CHECKPOINTS / "scorer"


def default_adapter(llm: str | os.PathLike | None = None, adapter: str | os.PathLike | None = None) -> str | None:
    """The adapter folder `load_lm` puts on the LM, None for the bare base model: adapter=None means the
    embedded SFT adapter for the embedded LM and no adapter for another LM; 'none' means the bare base model."""
    if adapter is None:
        return str(SFT_ADAPTER) if llm is None and SFT_ADAPTER.exists() else None
    return None if str(adapter) == "none" else str(adapter)


def load_lm(llm: str | os.PathLike | None = None, adapter: str | os.PathLike | None = None
            ) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Base LM (`checkpoints/base-lm` or any HF causal LM id/folder) with a LoRA adapter on top
    (see `default_adapter`)."""
    source = str(llm or BASE_LM)
    adapter = default_adapter(llm, adapter)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise StylistError(f"cannot load language model {source!r}: {exc}") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if adapter is not None:
        model = attach_adapter(model, adapter)
    model.eval()
    return model, tokenizer


def attach_adapter(model: PreTrainedModel, adapter: str | os.PathLike, name: str = "default") -> PreTrainedModel:
    from peft import PeftModel

    _require_adapter(adapter)
    return PeftModel.from_pretrained(model, str(adapter), adapter_name=name)


def _require_adapter(adapter: str | os.PathLike) -> None:
    if not (Path(adapter) / "adapter_config.json").exists():
        raise StylistError(f"adapter {adapter}: no adapter_config.json (not a PEFT adapter folder)")


def _folder(adapter: str | os.PathLike) -> str:
    """One name per adapter folder, however the path to it is spelled."""
    return str(Path(adapter).resolve())


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
    """Weights of the outfit score; `train-lm --step tune` picks them on the training split's validation part."""

    forward: float = 1.0
    backward: float = 1.0
    counts: float = 0.0
    length_power: float = 1.0  # 0 = summed log-probs, 1 = per token


def is_unconditional(prompt: str) -> bool:
    """An empty outfit without occasion or season: the prompt of the PMI "nothing" terms."""
    head, _, rest = prompt.partition("\n")
    return head == outfit_prompt([]).partition("\n")[0] and "\n" not in rest


Pair = tuple[str, str]  # (prompt, completion text)


class _AdapterVersions:
    """The LM with the adapter versions loaded into it, one likelihood cache per version and the shared cache
    of unconditional terms. Version 0 is the adapter the LM came with (its folder, or None when unknown) and
    scores every unconditional term. Switching adapter and the forward pass happen under one lock, so
    threads asking for different versions never see each other's adapter."""

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, folder: str | None):
        from peft import PeftModel

        self.model, self.tokenizer, self.folder = model, tokenizer, folder
        self.lock = threading.RLock()
        self.names: dict[str | None, str] = {None: model.active_adapter if isinstance(model, PeftModel) else ""}
        self.caches: dict[str | None, dict[Pair, tuple[float, float]]] = {None: {}}  # -> (log p, tokens)
        self.prior: dict[Pair, tuple[float, float]] = {}

    def version(self, adapter: str | os.PathLike | None) -> str | None:
        """The key of an adapter folder: None for version 0, however it is named."""
        if adapter is None:
            return None
        key = _folder(adapter)
        return None if key == self.folder else key

    def _name(self, version: str | None) -> str:
        """The PEFT adapter name of a version ("" for the bare base model), loading it when first asked for."""
        from peft import PeftModel

        if version not in self.names:
            name = f"version_{len(self.names)}"  # PEFT adapter names may not contain dots
            if isinstance(self.model, PeftModel):
                _require_adapter(version)
                self.model.load_adapter(version, adapter_name=name)
            else:
                self.model = attach_adapter(self.model, version, name=name)
            self.model.eval()
            self.names[version], self.caches[version] = name, {}
        return self.names[version]

    @contextmanager
    def _active(self, version: str | None) -> Iterator[None]:
        """The model with this version's adapter on (the caller holds the lock)."""
        from peft import PeftModel

        name = self._name(version)
        if name == "":  # version 0 is the bare base model
            with self.model.disable_adapter() if isinstance(self.model, PeftModel) else nullcontext():
                yield
            return
        if self.model.active_adapter != name:
            self.model.set_adapter(name)
        yield

    def raw(self, pairs: Sequence[Pair], version: str | None) -> np.ndarray:
        """(log p, tokens) of each pair: conditional ones with `version`, unconditional ones with version 0."""
        with self.lock:
            self._name(version)  # a version's cache comes with it
            caches = {False: self.caches[version], True: self.prior}
            todo = sorted({p for p in pairs if p not in caches[is_unconditional(p[0])]})
            for unconditional, by in ((False, version), (True, None)):
                part = [p for p in todo if is_unconditional(p[0]) == unconditional]
                if part:
                    with self._active(by):
                        lp, n = completion_logprobs(self.model, self.tokenizer, [p for p, _ in part],
                                                    [t for _, t in part])
                    caches[unconditional].update(zip(part, zip(lp.tolist(), n.tolist())))
            return np.array([caches[is_unconditional(p[0])][p] for p in pairs]).reshape(-1, 2)

    def generate(self, prompts: Sequence[str], max_new_tokens: int, version: str | None) -> list[str]:
        with self.lock, self._active(version):
            return generate(self.model, self.tokenizer, prompts, max_new_tokens=max_new_tokens)


class OutfitModel:
    """Scores candidates and whole outfits by LM pointwise mutual information (plus optional counts), and
    describes missing pieces; built by `load_outfit_model`.

    Every method that runs the LM takes `adapter`, an adapter version's folder (None = version 0, the one it
    was loaded with), so callers never switch adapters and concurrent callers can use different versions.
    Log-likelihoods are memoised per version by (prompt, text), so the unconditional terms of catalog
    items are computed once and re-ranking a few candidates is cheap. The unconditional ("nothing") terms
    always come from version 0: a DPO-refined adapter is scored against the one it was refined from,
    PMI log pi_new(item | outfit) - log pi_ref(item). Scoring the prior with the refined adapter would
    cancel what DPO learned, since DPO raises a liked item's likelihood with and without the outfit alike.
    `config` holds the weights; tuning may replace it."""

    def __init__(self, lm: _AdapterVersions | None, config: ScoringConfig, counts: CountModel | None):
        self._lm, self._counts = lm, counts
        self.config = config

    @property
    def adapter(self) -> str | None:
        """Version 0's folder: None for the bare base model or an LM handed over already loaded."""
        return self._lm.folder if self._lm is not None else None

    def logprobs(self, pairs: Sequence[Pair], adapter: str | os.PathLike | None = None) -> np.ndarray:
        """Length-normalised log p(text | prompt) for (prompt, text) pairs, memoised."""
        raw = self._lm.raw(pairs, self._lm.version(adapter))
        return raw[:, 0] / np.maximum(raw[:, 1], 1.0) ** self.config.length_power

    @staticmethod
    def pmi_pairs(context: Sequence[str], candidate: str, slot: str | None = None, occasion: str | None = None,
                  season: str | None = None) -> list[Pair]:
        """The (prompt, text) likelihoods a candidate's forward and backward PMI need. The unconditional
        prompt keeps the slot but not the occasion/season, so it is the same for every outfit (cacheable)
        and the occasion counts as part of the outfit."""
        pairs = [(outfit_prompt(context, slot, occasion, season), completion(candidate)),
                 (outfit_prompt([], slot), completion(candidate))]
        for o in context:
            pairs += [(outfit_prompt([candidate]), completion(o)), (outfit_prompt([]), completion(o))]
        return pairs

    def pmi_terms(self, context: Sequence[str], candidates: Sequence[str], slot: str | None = None,
                  occasion: str | None = None, season: str | None = None,
                  adapter: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Forward PMI of each candidate caption with the outfit, and its backward PMI with each outfit
        caption (candidates x context)."""
        pairs = [p for c in candidates for p in self.pmi_pairs(context, c, slot, occasion, season)]
        lp = self.logprobs(pairs, adapter).reshape(len(candidates), -1)
        return lp[:, 0] - lp[:, 1], lp[:, 2::2] - lp[:, 3::2]

    def counts_scores(self, context: list[Item], candidates: list[Item]) -> np.ndarray | None:
        """The counting model's PMI of each candidate with the outfit; None when it has no weight."""
        if self._counts is None or not self.config.counts:
            return None
        return np.array(self._counts.candidate_scores(context, candidates))

    def combine(self, forward: np.ndarray, backward: np.ndarray, counts: np.ndarray | None) -> np.ndarray:
        """The weighted score of `ScoringConfig` from its parts."""
        score = self.config.forward * forward
        if backward.shape[1]:
            score = score + self.config.backward * backward.mean(1)
        if counts is not None:
            score = score + self.config.counts * counts
        return score

    def candidate_scores(self, context: list[Item], candidates: list[Item],
                         adapter: str | os.PathLike | None = None) -> list[float]:
        backward = np.zeros((len(candidates), 0))
        if self._lm is not None and (self.config.forward or self.config.backward):
            forward, backward = self.pmi_terms([item_caption(i) for i in context],
                                               [item_caption(c) for c in candidates], adapter=adapter)
        else:
            forward = np.zeros(len(candidates))
        return self.combine(forward, backward, self.counts_scores(context, candidates)).tolist()

    def outfit_score(self, items: list[Item], adapter: str | os.PathLike | None = None) -> float:
        """Mean over items of how well each fits the rest of the outfit."""
        if self._lm is not None:
            captions = [item_caption(i) for i in items]
            self.logprobs([p for k, c in enumerate(captions)
                           for p in self.pmi_pairs(captions[:k] + captions[k + 1:], c)], adapter)  # one batched pass
        return float(np.mean([self.candidate_scores(items[:k] + items[k + 1:], [item], adapter)[0]
                              for k, item in enumerate(items)]))

    def warm(self, items: list[Item]) -> None:
        """Compute the items' unconditional terms now (they serve every adapter version), not at the first request."""
        self.logprobs([(outfit_prompt([], i.slot), completion(item_caption(i))) for i in items])

    def generate(self, prompts: Sequence[str], max_new_tokens: int = 16,
                 adapter: str | os.PathLike | None = None) -> list[str]:
        """Greedy continuations of the prompts with this adapter version, cut at the end of the line."""
        return self._lm.generate(prompts, max_new_tokens, self._lm.version(adapter))

    def scorer(self, adapter: str | os.PathLike | None) -> AdapterScorer:
        """Candidate and outfit scores with one adapter version, for code that takes a plain scorer (FITB, AUC)."""
        return AdapterScorer(self, adapter)


@dataclass(frozen=True)
class AdapterScorer:
    """An `OutfitModel` with one adapter version: the `candidate_scores` / `outfit_score` pair evaluators take."""

    model: OutfitModel
    adapter: str | os.PathLike | None

    def candidate_scores(self, context: list[Item], candidates: list[Item]) -> list[float]:
        return self.model.candidate_scores(context, candidates, self.adapter)

    def outfit_score(self, items: list[Item]) -> float:
        return self.model.outfit_score(items, self.adapter)


def load_scoring_config(with_counts: bool = True, path: str | os.PathLike = SCORER_DIR / "scoring.json") -> ScoringConfig:
    """The tuned weights: those of LM PMI + counts, or the best for the LM's PMI alone."""
    path = Path(path)
    if not path.exists():
        return ScoringConfig()
    return ScoringConfig(**json.loads(path.read_text())["with_counts" if with_counts else "lm_only"])


def load_outfit_model(llm: str | os.PathLike | None = None, adapter: str | os.PathLike | None = None, *,
                      use_lm: bool = True, use_counts: bool | None = None,
                      scoring: ScoringConfig | str | os.PathLike = SCORER_DIR / "scoring.json",
                      model: PreTrainedModel | None = None, tokenizer: PreTrainedTokenizerBase | None = None,
                      counts: CountModel | None = None, share: OutfitModel | None = None) -> OutfitModel:
    """The one way to build an `OutfitModel`: the recommender's (LM PMI + counts, weights from scoring.json)
    by default, or either part alone.

    llm, adapter: as `load_lm`; or `model` + `tokenizer` already loaded (refine measures the model it trains),
    whose active adapter is version 0; or `share`, another OutfitModel whose LM, adapter versions and
    likelihoods to reuse under other weights (rows of a results table). use_lm=False: the counts alone.
    use_counts: True requires `checkpoints/scorer/counts.npz`, None uses it when present, False scores by
    the LM alone (with its own "lm_only" weights). scoring: the weights, or the JSON file to read them from.
    counts: a counting model to use instead of the saved one (tuning the counts)."""
    if isinstance(scoring, ScoringConfig):
        config = replace(scoring)
    else:
        config = load_scoring_config(with_counts=use_counts is not False, path=scoring)
    if counts is None and (use_counts is not False or not use_lm):
        if DEFAULT_COUNTS.exists():
            counts = CountModel.load(DEFAULT_COUNTS)
        elif use_counts is None and use_lm:
            config.counts = 0.0
        else:
            raise StylistError(f"no counts at {DEFAULT_COUNTS}: run `python -m stylist train-lm --step counts`")
    if not use_lm:
        return OutfitModel(None, ScoringConfig(forward=0, backward=0, counts=1.0), counts)
    if share is not None:
        lm = share._lm
    elif model is not None:
        lm = _AdapterVersions(model, tokenizer, None)
    else:
        folder = default_adapter(llm, adapter)
        lm = _AdapterVersions(*load_lm(llm, folder or "none"), _folder(folder) if folder else None)
    return OutfitModel(lm, config, counts)


def save_scoring_config(with_counts: ScoringConfig, lm_only: ScoringConfig,
                        path: str | os.PathLike = SCORER_DIR / "scoring.json") -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps({"with_counts": asdict(with_counts), "lm_only": asdict(lm_only)}, indent=1))
