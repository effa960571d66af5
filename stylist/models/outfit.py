"""The outfit model: the outfit LM (base LM + LoRA adapter versions), its log-likelihoods and generation,
and the PMI score that judges how well an item fits an outfit, all behind `OutfitModel`, which
`load_outfit_model` builds for the app, refinement, evaluation and tuning alike.

    python -m stylist eval fitb --split test            # the scorer at work (see evaluation/outfits.py)

Raw likelihood favours short, common captions, so an item is scored by how much the outfit raises its
likelihood and how much it raises the outfit's: pointwise mutual information in both directions,

    forward  = log p(item | outfit) - log p(item | nothing)
    backward = mean over outfit items o of  log p(o | item) - log p(o | nothing)

each divided by (completion tokens) ** length_power, plus optionally the counting model's PMI
(`counts.py`). An LM trained in the slot format (`prompts.FORMATS`: a prompt that does not name the missing slot
ends at "missing" and the answer starts with the slot) adds a third term, the slot's PMI with the outfit,

    slot     = log p(slot | outfit) - log p(slot | nothing)   (summed over the slot's tokens)

and reads each outfit item in the backward term with its slot (" shoes: black boots"). The weights and the
format live in `checkpoints/scorer/scoring.json` (or the adapter's own), chosen on the validation part of
the training split by `python -m stylist train-lm --step tune`. The "nothing" terms always come from the
adapter the model was loaded with (version 0): a refined adapter is scored against the one it was refined from.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from stylist.core.catalog import Item
from stylist.core.errors import StylistError
from stylist.core.paths import CHECKPOINTS
from stylist.core.prompts import (
    FORMATS,
    Decoding,
    completion,
    item_caption,
    open_prompt,
    outfit_prompt,
    slot_completion,
)
from stylist.core.vocabulary import slot_of
from stylist.models.adapter_versions import AdapterVersions, Pair
from stylist.models.counts import DEFAULT_COUNTS, CountModel
from stylist.models.lm import adapter_key, default_adapter, load_lm
from stylist.models.spec import LMSpec

SCORER_DIR = CHECKPOINTS / "scorer"


@dataclass
class ScoringConfig:
    """Weights of the outfit score; `train-lm --step tune` picks them on the training split's validation part."""

    forward: float = 1.0
    backward: float = 1.0
    counts: float = 0.0
    length_power: float = 1.0  # 0 = summed log-probs, 1 = per token
    slot: float = 0.0  # the slot's PMI with the outfit (slot format only)
    format: str = "caption"  # how the LM was trained (`prompts.FORMATS`); checkpoints without it: "caption"

    def __post_init__(self):
        if self.format not in FORMATS:
            raise StylistError(f"unknown LM format {self.format!r} in the scoring weights: one of {', '.join(FORMATS)}")


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

    def __init__(self, lm: AdapterVersions | None, config: ScoringConfig, counts: CountModel | None):
        self._lm, self._counts = lm, counts
        self.config = config

    @property
    def adapter(self) -> str | None:
        """Version 0's folder: None for the bare base model or an LM handed over already loaded."""
        return self._lm.folder if self._lm is not None else None

    def keep_prior(self, folder: str | os.PathLike) -> None:
        """Keep the unconditional terms in `folder` across starts (see `adapter_versions.PriorFile`); no LM, nothing kept."""
        if self._lm is not None:
            self._lm.keep_prior(folder)

    def save_prior(self) -> bool | None:
        """Store new unconditional terms now (they are also stored every PRIOR_SAVE_SECONDS)."""
        return self._lm.save_prior() if self._lm is not None else None

    def logprobs(self, pairs: Sequence[Pair], adapter: str | os.PathLike | None = None) -> np.ndarray:
        """Length-normalised log p(text | prompt) for (prompt, text) pairs, memoised."""
        raw = self._lm.likelihoods(pairs, self._lm.version(adapter))
        return raw[:, 0] / np.maximum(raw[:, 1], 1.0) ** self.config.length_power

    @property
    def slot_format(self) -> bool:
        """Whether the LM was trained to answer an open "missing" with the slot (see `prompts.open_prompt`)."""
        return self.config.format == "slot"

    def pmi_pairs(self, context: Sequence[str], candidate: str, slot: str | None = None, occasion: str | None = None,
                  season: str | None = None, backward: bool = True, with_slot: bool = False,
                  context_slots: Sequence[str] | None = None) -> list[Pair]:
        """The (prompt, text) likelihoods a candidate's forward (and, with `backward`, backward) PMI need, plus with
        `with_slot` (slot format, `slot` named) its slot's PMI. The unconditional prompt keeps the slot but not the
        occasion/season, so it is the same for every outfit (cacheable) and the occasion counts as part of the
        outfit. The slot format reads each outfit item backward with its slot (`context_slots`, else `slot_of`)."""
        pairs = [(outfit_prompt(context, slot, occasion, season), completion(candidate)),
                 (outfit_prompt([], slot), completion(candidate))]
        if with_slot and slot and self.slot_format:
            pairs += [(open_prompt(context, occasion, season), slot_completion(slot, candidate)),
                      (open_prompt([]), slot_completion(slot, candidate))]
        if backward and self.slot_format:
            slots = context_slots or [slot_of(o) for o in context]
            for o, o_slot in zip(context, slots, strict=True):
                text = slot_completion(o_slot, o)
                pairs += [(open_prompt([candidate]), text), (open_prompt([]), text)]
        elif backward:
            for o in context:
                pairs += [(outfit_prompt([candidate]), completion(o)), (outfit_prompt([]), completion(o))]
        return pairs

    def pmi_terms(self, context: Sequence[str], candidates: Sequence[str], slot: str | None = None,
                  occasion: str | None = None, season: str | None = None,
                  adapter: str | os.PathLike | None = None, backward: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Forward PMI of each candidate caption with the outfit, and its backward PMI with each outfit
        caption (candidates x context; candidates x 0 without `backward`)."""
        forward, _, back = self._terms(context, [(c, slot) for c in candidates], occasion, season, adapter, backward)
        return forward, back

    def _terms(self, context: Sequence[str], candidates: Sequence[tuple[str, str | None]], occasion: str | None,
               season: str | None, adapter: str | os.PathLike | None, backward: bool, with_slot: bool = False,
               context_slots: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Forward, slot (zeros unless `with_slot` in the slot format) and backward PMI of (caption, slot)
        candidates. The slot term is the open prompt's " slot: caption" minus the caption given the slot, summed
        over tokens: what the outfit says of the slot alone."""
        with_slot = with_slot and self.slot_format and all(slot for _, slot in candidates)
        pairs = [p for c, slot in candidates
                 for p in self.pmi_pairs(context, c, slot, occasion, season, backward, with_slot, context_slots)]
        raw = self._lm.likelihoods(pairs, self._lm.version(adapter))
        summed = raw[:, 0].reshape(len(candidates), -1)
        lp = (raw[:, 0] / np.maximum(raw[:, 1], 1.0) ** self.config.length_power).reshape(len(candidates), -1)
        head = 4 if with_slot else 2
        slot_pmi = (summed[:, 2] - summed[:, 3] - (summed[:, 0] - summed[:, 1]) if with_slot
                    else np.zeros(len(candidates)))
        return lp[:, 0] - lp[:, 1], slot_pmi, lp[:, head::2] - lp[:, head + 1::2]

    @property
    def ranks_by_backward(self) -> bool:
        """Whether the backward PMI is part of the score; when not, callers need it only for what they show."""
        return bool(self.config.backward)

    def slot_terms(self, captions: Sequence[str], candidates: dict[str, Sequence[str]], occasion: str | None = None,
                   season: str | None = None, adapter: str | os.PathLike | None = None, backward: bool = True
                   ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """`pmi_terms` of each slot's candidate captions (slots without candidates left out). Every likelihood of
        every slot runs in one batched pass first, so the per-slot reads hit the cache."""
        self.logprobs([p for slot, texts in candidates.items() for text in texts
                       for p in self.pmi_pairs(captions, text, slot, occasion, season, backward)], adapter)
        return {slot: self.pmi_terms(captions, texts, slot, occasion, season, adapter, backward)
                for slot, texts in candidates.items() if texts}

    def rank_slots(self, captions: Sequence[str], pools: dict[str, Sequence[Item]], occasion: str | None = None,
                   season: str | None = None, adapter: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
        """The outfit score (LM PMI and counts, by `config`) of each slot's candidate items with the visitor's
        captions, for the slots that have candidates. The slot term is left out: it is the same for every candidate
        of one slot, so it never changes their order."""
        terms = self.slot_terms(captions, {slot: [item_caption(i) for i in pool] for slot, pool in pools.items()},
                                occasion, season, adapter, self.ranks_by_backward)
        worn = [Item(id=f"user-{n}", title=c) for n, c in enumerate(captions)]
        return {slot: self.combine(forward, backward, self.counts_scores(worn, list(pools[slot])))
                for slot, (forward, backward) in terms.items()}

    def describe(self, captions: Sequence[str], slots: Sequence[str], occasion: str | None, season: str | None,
                 turns: int, max_new_tokens: int, adapter: str | os.PathLike | None = None,
                 decoding: Decoding | None = None) -> list[list[str]]:
        """For each slot, descriptions of the missing piece: `turns` greedy ones, one per rotation of the captions
        (the LM reads an outfit as a set, so each order gives another), then `decoding.samples` sampled ones of the
        first order. With a `decoding.prior_weight`, they come best first by what each adds over the request without
        the outfit, per token: log p(text | outfit, request) - w log p(text | slot, occasion, season), which puts
        last what the LM writes for any outfit of that slot ("black ...")."""
        decoding = decoding or Decoding()
        captions = list(captions)
        prompts = [[outfit_prompt(captions[t:] + captions[:t], slot, occasion, season) for t in range(turns)]
                   for slot in slots]
        greedy = self.generate([p for rotations in prompts for p in rotations], max_new_tokens, adapter)
        sampled = (self._lm.generate([rotations[0] for rotations in prompts], max_new_tokens, self._lm.version(adapter),
                                     decoding.samples, decoding.temperature) if decoding.samples else [])
        found = []
        for n, (slot, rotations) in enumerate(zip(slots, prompts)):
            texts = greedy[n * turns:(n + 1) * turns] + sampled[n * decoding.samples:(n + 1) * decoding.samples]
            texts = list(dict.fromkeys(t for t in texts if t)) or texts[:1]
            if decoding.prior_weight and len(texts) > 1:
                raw = self._lm.likelihoods([(prompt, completion(t)) for t in texts
                                            for prompt in (rotations[0], outfit_prompt([], slot, occasion, season))],
                                           self._lm.version(adapter))
                per_token = (raw[:, 0] / np.maximum(raw[:, 1], 1.0)).reshape(len(texts), 2)
                gain = per_token[:, 0] - decoding.prior_weight * per_token[:, 1]
                texts = [texts[i] for i in np.argsort(-gain, kind="stable")]
            found.append(texts)
        return found

    def likeliest(self, captions: Sequence[str], options: dict[str, Sequence[str]], occasion: str | None,
                  season: str | None, adapter: str | os.PathLike | None = None) -> dict[str, str]:
        """For each slot, the option the LM finds likeliest as the outfit's missing piece (one pass for all)."""
        pairs = [(outfit_prompt(captions, slot, occasion, season), completion(text))
                 for slot, texts in options.items() for text in texts]
        scores, best = self.logprobs(pairs, adapter), {}
        for slot, texts in options.items():
            best[slot] = texts[int(np.argmax(scores[:len(texts)]))]
            scores = scores[len(texts):]
        return best

    def counts_scores(self, context: list[Item], candidates: list[Item]) -> np.ndarray | None:
        """The counting model's PMI of each candidate with the outfit; None when it has no weight."""
        if self._counts is None or not self.config.counts:
            return None
        return np.array(self._counts.candidate_scores(context, candidates))

    def combine(self, forward: np.ndarray, backward: np.ndarray, counts: np.ndarray | None,
                slot: np.ndarray | None = None) -> np.ndarray:
        """The weighted score of `ScoringConfig` from its parts."""
        score = self.config.forward * forward
        if slot is not None:
            score = score + self.config.slot * slot
        if backward.shape[1]:
            score = score + self.config.backward * backward.mean(1)
        if counts is not None:
            score = score + self.config.counts * counts
        return score

    def _scored(self, candidates: list[Item]) -> list[tuple[str, str | None]]:
        """(caption, slot) of catalog candidates as scored: the caption format asks for the caption alone
        ("missing:"), the slot format for the caption given each candidate's own slot, plus its slot's PMI."""
        return [(item_caption(c), c.slot if self.slot_format else None) for c in candidates]

    def candidate_scores(self, context: list[Item], candidates: list[Item],
                         adapter: str | os.PathLike | None = None) -> list[float]:
        backward, slot = np.zeros((len(candidates), 0)), None
        if self._lm is not None and (self.config.forward or self.config.backward or self.config.slot):
            forward, slot, backward = self._terms([item_caption(i) for i in context], self._scored(candidates), None,
                                                  None, adapter, self.ranks_by_backward, bool(self.config.slot),
                                                  [i.slot for i in context])
        else:
            forward = np.zeros(len(candidates))
        return self.combine(forward, backward, self.counts_scores(context, candidates), slot).tolist()

    def outfit_score(self, items: list[Item], adapter: str | os.PathLike | None = None) -> float:
        """Mean over items of how well each fits the rest of the outfit."""
        if self._lm is not None:
            captions = [item_caption(i) for i in items]
            self.logprobs([p for k, (c, slot) in enumerate(self._scored(items))  # one batched pass
                           for p in self.pmi_pairs(captions[:k] + captions[k + 1:], c, slot, None, None,
                                                   self.ranks_by_backward, bool(self.config.slot),
                                                   [i.slot for i in items[:k] + items[k + 1:]])], adapter)
        return float(np.mean([self.candidate_scores(items[:k] + items[k + 1:], [item], adapter)[0]
                              for k, item in enumerate(items)]))

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


def load_outfit_model(llm: LMSpec | str | os.PathLike | None = None, adapter: str | os.PathLike | None = None, *,
                      use_lm: bool = True, use_counts: bool | None = None,
                      scoring: ScoringConfig | str | os.PathLike | None = None,
                      model: PreTrainedModel | None = None, tokenizer: PreTrainedTokenizerBase | None = None,
                      counts: CountModel | None = None, share: OutfitModel | None = None) -> OutfitModel:
    """The one way to build an `OutfitModel`: the recommender's (LM PMI + counts, weights from scoring.json)
    by default, or either part alone.

    llm, adapter: as `load_lm` (an `LMSpec`, or an LLM id/folder and an adapter); or `model` + `tokenizer` already loaded (refine measures the model it trains),
    whose active adapter is version 0; or `share`, another OutfitModel whose LM, adapter versions and
    likelihoods to reuse under other weights (rows of a results table). use_lm=False: the counts alone.
    use_counts: True requires `checkpoints/scorer/counts.npz`, None uses it when present, False scores by
    the LM alone (with its own "lm_only" weights). scoring: the weights, or the JSON file to read them from
    (default: the `scoring.json` that `train-lm --step tune` wrote next to the adapter, else the committed one;
    counts.npz likewise). counts: a counting model to use instead of the saved one (tuning the counts)."""
    scorer = _scorer_dir(LMSpec.of(llm, adapter) if model is None and share is None else None)
    if isinstance(scoring, ScoringConfig):
        config = replace(scoring)
    else:
        config = load_scoring_config(with_counts=use_counts is not False, path=scoring or scorer / "scoring.json")
    saved_counts = scorer / DEFAULT_COUNTS.name if (scorer / DEFAULT_COUNTS.name).exists() else DEFAULT_COUNTS
    if counts is None and (use_counts is not False or not use_lm):
        if saved_counts.exists():
            counts = CountModel.load(saved_counts)
        elif use_counts is None and use_lm:
            config.counts = 0.0
        else:
            raise StylistError(f"no counts at {saved_counts}: run `python -m stylist train-lm --step counts`")
    if not use_lm:
        return OutfitModel(None, ScoringConfig(forward=0, backward=0, counts=1.0), counts)
    if share is not None:
        lm = share._lm
    elif model is not None:
        lm = AdapterVersions(model, tokenizer, None)
    else:
        spec = LMSpec.of(llm, adapter)
        folder = default_adapter(spec)
        lm = AdapterVersions(*load_lm(spec), adapter_key(folder) if folder else None, merge=True)
    return OutfitModel(lm, config, counts)


def scoring_path(spec: LMSpec) -> Path:
    """The scoring weights (and prompt format) an LLM and adapter are scored with: see `_scorer_dir`."""
    return _scorer_dir(spec) / "scoring.json"


def _scorer_dir(spec: LMSpec | None) -> Path:
    """Where an LLM's scoring weights live: next to its adapter when `tune` wrote them there (they are tuned per
    LLM and adapter), else the committed ones of the embedded LM."""
    folder = default_adapter(spec) if spec is not None else None
    return Path(folder) if folder and (Path(folder) / "scoring.json").exists() else SCORER_DIR


def save_scoring_config(with_counts: ScoringConfig, lm_only: ScoringConfig,
                        path: str | os.PathLike = SCORER_DIR / "scoring.json") -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps({"with_counts": asdict(with_counts), "lm_only": asdict(lm_only)}, indent=1))
