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

import functools
import hashlib
import inspect
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from stylist.core.catalog import Item
from stylist.core.errors import StylistError
from stylist.core.paths import CHECKPOINTS, writing
from stylist.core.prompts import chat_ids, completion, item_caption, model_prompt, outfit_prompt, uses_chat
from stylist.models.counts import DEFAULT_COUNTS, CountModel
from stylist.models.spec import LMSpec

BASE_LM = CHECKPOINTS / "base-lm"
SFT_ADAPTER = CHECKPOINTS / "adapters" / "sft"
SCORER_DIR = CHECKPOINTS / "scorer"


def default_adapter(spec: LMSpec) -> str | None:
    """The adapter folder `load_lm` puts on the spec's LLM, None for the bare LLM: the spec's own, or when it
    names none the embedded SFT adapter for the embedded LM and none for another LLM; 'none': the bare LLM."""
    if spec.adapter is None:
        return str(SFT_ADAPTER) if spec.llm is None and SFT_ADAPTER.exists() else None
    return None if spec.adapter == "none" else spec.adapter


def load_lm(llm: LMSpec | str | os.PathLike | None = None, adapter: str | os.PathLike | None = None, *,
            trainable: bool = False) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The LLM of a spec (`checkpoints/base-lm` or any HF causal LM id/folder; a bare id or folder gets the
    spec's default placement) with its LoRA adapter on top (see `default_adapter`; `adapter` replaces the spec's).
    trainable: the adapter's weights take gradients, and a 4-bit LLM is prepared for QLoRA first."""
    spec = LMSpec.of(llm, adapter)
    source = spec.llm or str(BASE_LM)
    kwargs = spec.load_kwargs()  # refuses an impossible placement before anything is read
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise StylistError(f"cannot load language model {source!r}: {exc}") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if trainable and spec.load_in_4bit:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model)
    folder = default_adapter(spec)
    if folder is not None:
        model = attach_adapter(model, folder, trainable=trainable)
    model.eval()
    return model, tokenizer


def attach_adapter(model: PreTrainedModel, adapter: str | os.PathLike, name: str = "default",
                   trainable: bool = False) -> PreTrainedModel:
    """`model` with a PEFT adapter folder on top, once `check_adapter_fits` accepts it."""
    from peft import PeftModel

    check_adapter_fits(model, adapter)
    return PeftModel.from_pretrained(model, str(adapter), adapter_name=name, is_trainable=trainable)


def check_adapter_fits(model: PreTrainedModel, adapter: str | os.PathLike) -> None:
    """Refuse, in one line, an adapter folder that is not one or was trained for another LLM: each of its LoRA
    weights must land on a layer of `model` of its shape. Unchecked, PEFT stops at the first size mismatch with
    a traceback, or silently leaves out the layers this LLM lacks (a Llama adapter on Phi-3's fused layers)."""
    from safetensors import safe_open

    config = Path(adapter) / "adapter_config.json"
    if not config.exists():
        raise StylistError(f"adapter {adapter}: no adapter_config.json (not a PEFT adapter folder)")
    weights = Path(adapter) / "adapter_model.safetensors"
    if not weights.exists():
        return  # an old-style .bin adapter: PEFT checks it as it loads
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    layers = dict(base.named_modules())
    with safe_open(str(weights), framework="pt") as tensors:
        for key in tensors.keys():
            path, _, part = key.removeprefix("base_model.model.").partition(".lora_")
            problem = _misfit(layers.get(path), part, tensors.get_slice(key).get_shape())
            if problem:
                trained_for = json.loads(config.read_text()).get("base_model_name_or_path") or "another LLM"
                raise StylistError(f"adapter {adapter} was trained for {trained_for}, not {base.name_or_path} "
                                   f"(layer {path}: {problem}); pass the adapter made for this LLM, or none")


def _misfit(layer: torch.nn.Module | None, part: str, shape: list[int]) -> str | None:
    """Why a LoRA weight (`part` A.weight or B.weight, of `shape`) does not fit `layer`, or None."""
    if layer is None:
        return "this LLM has no such layer"
    # nn.Linear and PEFT's wrapped layers say in/out_features; GPT-2's Conv1D says nx/nf
    size_in = getattr(layer, "in_features", getattr(layer, "nx", None))
    size_out = getattr(layer, "out_features", getattr(layer, "nf", None))
    wanted = {"A.weight": (1, size_in), "B.weight": (0, size_out)}.get(part)
    if wanted is None or wanted[1] is None or shape[wanted[0]] == wanted[1]:
        return None
    return f"{'input' if part == 'A.weight' else 'output'} size {shape[wanted[0]]} in the adapter, {wanted[1]} here"


def lora_config(r: int = 16, alpha: int = 32):
    """The LoRA of every adapter the project makes (SFT, a fresh version 0): on every linear layer, so any causal
    LM family gets one (Llama's q_proj.., Phi-3's fused qkv_proj, GPT-2's c_attn)."""
    from peft import LoraConfig

    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")


def new_lora(model: PreTrainedModel) -> PreTrainedModel:
    """A fresh trainable LoRA shaped like the embedded SFT adapter. Its B starts at zero, so the model with it
    says exactly what the bare LLM says."""
    from peft import get_peft_model

    return get_peft_model(model, lora_config())


def with_initial_adapter(spec: LMSpec, root: str | os.PathLike) -> LMSpec:
    """The spec with version 0's adapter named, so refine and Compare have one to start from: its own, the
    embedded SFT adapter for the embedded LM, or, for an LLM named without one (or with 'none'), a fresh LoRA
    (`new_lora`) saved once in `root`/initial-<LLM>. The same folder serves every later start and refine, so
    the versions refined from it keep it as their reference."""
    folder = default_adapter(spec)
    if folder is not None:
        return replace(spec, adapter=folder)
    initial = Path(root) / f"initial-{_slug(spec.llm or str(BASE_LM))}"
    if not (initial / "adapter_config.json").exists():
        model, _ = load_lm(replace(spec, adapter="none"))
        with writing(Path(root)):
            Path(root).mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))  # complete or absent, never half written
            new_lora(model).save_pretrained(str(scratch))
            try:
                os.replace(scratch, initial)
            except OSError:  # another process (a second rank of a launch) saved its own first: everyone uses that
                if not (initial / "adapter_config.json").exists():
                    raise
                shutil.rmtree(scratch, ignore_errors=True)
    return replace(spec, adapter=str(initial))


def _slug(llm: str) -> str:
    """A folder name for an LLM id or folder: its last part, and a hash of its full name (an existing folder's
    absolute path) so two LLMs of one name keep their own adapters."""
    path = Path(llm).expanduser()
    name = str(path.resolve()) if path.exists() else llm
    return re.sub(r"[^A-Za-z0-9._-]+", "-", Path(name).name) + "-" + hashlib.sha1(name.encode()).hexdigest()[:8]


def _folder(adapter: str | os.PathLike) -> str:
    """One name per adapter folder, however the path to it is spelled."""
    return str(Path(adapter).resolve())


def encode_pair(tokenizer: PreTrainedTokenizerBase, prompt: str, text: str) -> tuple[list[int], int]:
    """Token ids of prompt + completion + eos (a chat LM: the templated user message + the assistant's answer and
    end of turn), and where the completion starts; tokenised the way trl's SFT and DPO trainers tokenise
    `prompts.trl_row` (prompt and prompt+completion whole), so scores, SFT and DPO agree."""
    if uses_chat(tokenizer):
        prompt_ids, full = chat_ids(tokenizer, prompt), chat_ids(tokenizer, prompt, text)
    else:
        prompt_ids = tokenizer(prompt)["input_ids"]
        full = tokenizer(prompt + text)["input_ids"] + [tokenizer.eos_token_id]
    start = len(prompt_ids)
    while start > 0 and full[:start] != prompt_ids[:start]:  # a token merged across the boundary
        start -= 1
    return full, start


SHARED_PREFIX_MIN = 4  # completions of one prompt that make running the prompt once worth it


@torch.no_grad()
def completion_logprobs(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str],
                        texts: Sequence[str], batch_size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Summed log-probability of each completion given its prompt, and its number of tokens.

    A recommendation scores a dozen candidates after each outfit prompt, so completions that share a prompt run
    the prompt once and continue from its key/value cache (`_shared_prompt_logprobs`); the rest run whole."""
    encoded = [encode_pair(tokenizer, p, t) for p, t in zip(prompts, texts)]
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
        ids, mask = _padded(tokenizer, [encoded[i][0] for i in batch])
        target = torch.zeros_like(mask, dtype=torch.bool)
        for row, i in enumerate(batch):
            seq, start = encoded[i]
            target[row, start:len(seq)] = True
        logprobs[batch], lengths[batch] = _token_logprobs(model, ids, mask, target)
    return logprobs, lengths


def _padded(tokenizer: PreTrainedTokenizerBase, seqs: list[list[int]], left: bool = False
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
    prefix_ids, prefix_mask = _padded(tokenizer, prefixes, left=True)
    positions = (prefix_mask.cumsum(1) - 1).clamp(min=0)
    cache = model(input_ids=prefix_ids.to(device), attention_mask=prefix_mask.to(device),
                  position_ids=positions.to(device), use_cache=True, **_keep_logits(model, 1)).past_key_values
    which = torch.tensor([k for k, _ in rows])
    cache.batch_select_indices(which.to(device))
    ids, mask = _padded(tokenizer, [suffix for _, suffix in rows])
    start = prefix_mask.sum(1)[which].unsqueeze(1)
    return _token_logprobs(model, ids, mask, mask.bool(), past_key_values=cache, use_cache=True,
                           attention_mask=torch.cat([prefix_mask[which], mask], 1),
                           position_ids=start + torch.arange(ids.shape[1]).unsqueeze(0))


@torch.no_grad()
def generate(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str],
             max_new_tokens: int = 16, num_beams: int = 1) -> list[str]:
    """Greedy (or beam) continuations of the prompts (a chat LM's answers), from their first line with text to
    its end. A chat LM stops at its end of turn too (its generation config's eos), not only at the tokenizer's."""
    tokenizer.padding_side = "left"
    batch = tokenizer([model_prompt(tokenizer, p) for p in prompts], return_tensors="pt", padding=True,
                      add_special_tokens=not uses_chat(tokenizer))  # a chat template brings its own
    tokenizer.padding_side = "right"
    ends = model.generation_config.eos_token_id
    ends = [tokenizer.eos_token_id, *(ends if isinstance(ends, list) else [] if ends is None else [ends])]
    out = model.generate(**batch.to(next(model.parameters()).device), max_new_tokens=max_new_tokens,
                         num_beams=num_beams, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=sorted(set(ends)))
    texts = tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    return [t.lstrip().split("\n")[0].strip(" ;") for t in texts]


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
PRIOR_FORMAT = 1  # bump when the way a likelihood is computed changes: stored terms are then recomputed
PRIOR_SAVE_SECONDS = 10.0


class _PriorFile:
    """Version 0's unconditional terms on disk, one file per LM fingerprint: the same for every request and
    every start, and a shop's catalog holds more items than a start should score (hours with a 7B LLM), so each
    item's term is computed the first time it is a candidate, ever. JSON lines after a header line; new terms
    are appended. A damaged or stale file is said once, what can be read of it is kept, and it is written anew
    (temporary file, then `os.replace`); a folder that refuses writes keeps the terms in memory only."""

    def __init__(self, folder: str | os.PathLike, key: str):
        self.path, self.key = Path(folder) / f"lm-prior-{key[:20]}.jsonl", key
        self.whole = True  # the next write replaces the file with every term

    def header(self) -> str:
        return json.dumps({"format": PRIOR_FORMAT, "key": self.key})

    def read(self) -> dict[Pair, tuple[float, float]]:
        terms: dict[Pair, tuple[float, float]] = {}
        if not self.path.exists():
            return terms
        try:
            with open(self.path) as lines:
                if next(lines, "").strip() != self.header():
                    return terms  # another format: written anew
                for line in lines:
                    prompt, text, lp, n = json.loads(line)
                    terms[(str(prompt), str(text))] = (float(lp), float(n))
            self.whole = False
        except (OSError, ValueError, TypeError) as exc:
            print(f"warning: damaged LM term file {self.path} ({exc!r:.200}): {len(terms)} terms read, "
                  "the rest computed again", file=sys.stderr)
        return terms

    def write(self, terms: dict[Pair, tuple[float, float]], new: list[Pair]) -> bool:
        """Append the new terms (or write every term, see `whole`); False (said once) when the folder refuses."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            target = tmp if self.whole else self.path
            with open(target, "w" if self.whole else "a") as out:
                if self.whole:
                    out.write(self.header() + "\n")
                out.writelines(json.dumps([*pair, *terms[pair]]) + "\n" for pair in (terms if self.whole else new))
            if self.whole:
                os.replace(tmp, self.path)
                self.whole = False
            return True
        except OSError as exc:
            print(f"warning: LM terms kept in memory only: cannot write {self.path} ({exc.strerror or exc})",
                  file=sys.stderr)
            with suppress(OSError):
                tmp.unlink()
            return False


class _AdapterVersions:
    """The LM with the adapter versions loaded into it, one likelihood cache per version and the shared cache
    of unconditional terms. Version 0 is the adapter the LM came with (its folder, or None when unknown) and
    scores every unconditional term. Switching adapter and the forward pass happen under one lock, so
    threads asking for different versions never see each other's adapter."""

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, folder: str | None,
                 merge: bool = False):
        from peft import PeftModel

        self.model, self.tokenizer, self.folder = model, tokenizer, folder
        # a LoRA adds a third to a small LM's forward FLOPs: the version in use is merged into the weights,
        # float32 only (taking it out again leaves float32 rounding, ~1e-7 of a weight)
        self.merge = merge and isinstance(model, PeftModel) and all(p.dtype == torch.float32 for p in model.parameters())
        self.merged = False
        self.lock = threading.RLock()
        self.names: dict[str | None, str] = {None: model.active_adapter if isinstance(model, PeftModel) else ""}
        self.caches: dict[str | None, dict[Pair, tuple[float, float]]] = {None: {}}  # -> (log p, tokens)
        self.prior: dict[Pair, tuple[float, float]] = {}
        self.stored: _PriorFile | None = None
        self.saved = 0  # unconditional terms the file holds

    def keep_prior(self, folder: str | os.PathLike) -> None:
        """Read the unconditional terms stored in `folder` for this LM and store new ones there every
        PRIOR_SAVE_SECONDS (a daemon thread: at most those seconds of terms are lost with the process)."""
        from stylist.models.embedder import weights_fingerprint

        with self.lock:
            self._unmerge()  # version 0 as loaded
            try:
                key = weights_fingerprint(self.model, type(self.tokenizer).__name__, str(len(self.tokenizer)),
                                          str(getattr(self.tokenizer, "chat_template", None)))
            except (RuntimeError, NotImplementedError) as exc:  # weights offloaded to disk (meta tensors)
                print(f"warning: LM terms kept in memory only: cannot fingerprint the LM ({exc!r:.120})",
                      file=sys.stderr)
                return
            self.stored = _PriorFile(folder, key)
            self.prior.update(self.stored.read())
            self.saved = len(self.prior)
        threading.Thread(target=self._keep_saving, name="lm-prior", daemon=True).start()

    def _keep_saving(self) -> None:
        while self.save_prior() is not False:
            time.sleep(PRIOR_SAVE_SECONDS)

    def save_prior(self) -> bool | None:
        """Store the unconditional terms computed since the last save, if any; False when the folder refuses
        writes. The cache only grows, in insertion order, so the new terms are its last ones."""
        with self.lock:
            if self.stored is None or len(self.prior) == self.saved:
                return None
            terms = dict(self.prior)
            new, self.saved = list(terms)[self.saved:], len(terms)
        return self.stored.write(terms, new)

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
                check_adapter_fits(self.model, version)
                self._unmerge()
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
            self._unmerge()
            with self.model.disable_adapter() if isinstance(self.model, PeftModel) else nullcontext():
                yield
            return
        if self.model.active_adapter != name:
            self._unmerge()
            self.model.set_adapter(name)
        if self.merge and not self.merged:
            self.model.merge_adapter()
            self.merged = True
        yield

    def _unmerge(self) -> None:
        """Take the merged version's LoRA out of the weights before another version (or none) is put on."""
        if self.merged:
            self.model.unmerge_adapter()
            self.merged = False

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

    def keep_prior(self, folder: str | os.PathLike) -> None:
        """Keep the unconditional terms in `folder` across starts (see `_PriorFile`); no LM, nothing kept."""
        if self._lm is not None:
            self._lm.keep_prior(folder)

    def save_prior(self) -> bool | None:
        """Store new unconditional terms now (they are also stored every PRIOR_SAVE_SECONDS)."""
        return self._lm.save_prior() if self._lm is not None else None

    def logprobs(self, pairs: Sequence[Pair], adapter: str | os.PathLike | None = None) -> np.ndarray:
        """Length-normalised log p(text | prompt) for (prompt, text) pairs, memoised."""
        raw = self._lm.raw(pairs, self._lm.version(adapter))
        return raw[:, 0] / np.maximum(raw[:, 1], 1.0) ** self.config.length_power

    @staticmethod
    def pmi_pairs(context: Sequence[str], candidate: str, slot: str | None = None, occasion: str | None = None,
                  season: str | None = None, backward: bool = True) -> list[Pair]:
        """The (prompt, text) likelihoods a candidate's forward (and, with `backward`, backward) PMI need. The
        unconditional prompt keeps the slot but not the occasion/season, so it is the same for every outfit
        (cacheable) and the occasion counts as part of the outfit."""
        pairs = [(outfit_prompt(context, slot, occasion, season), completion(candidate)),
                 (outfit_prompt([], slot), completion(candidate))]
        for o in context if backward else ():
            pairs += [(outfit_prompt([candidate]), completion(o)), (outfit_prompt([]), completion(o))]
        return pairs

    def pmi_terms(self, context: Sequence[str], candidates: Sequence[str], slot: str | None = None,
                  occasion: str | None = None, season: str | None = None,
                  adapter: str | os.PathLike | None = None, backward: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Forward PMI of each candidate caption with the outfit, and its backward PMI with each outfit
        caption (candidates x context; candidates x 0 without `backward`)."""
        pairs = [p for c in candidates for p in self.pmi_pairs(context, c, slot, occasion, season, backward)]
        lp = self.logprobs(pairs, adapter).reshape(len(candidates), -1)
        return lp[:, 0] - lp[:, 1], lp[:, 2::2] - lp[:, 3::2]

    @property
    def ranks_by_backward(self) -> bool:
        """Whether the backward PMI is part of the score; when not, callers need it only for what they show."""
        return bool(self.config.backward)

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
            forward, backward = self.pmi_terms([item_caption(i) for i in context], [item_caption(c) for c in candidates],
                                               adapter=adapter, backward=self.ranks_by_backward)
        else:
            forward = np.zeros(len(candidates))
        return self.combine(forward, backward, self.counts_scores(context, candidates)).tolist()

    def outfit_score(self, items: list[Item], adapter: str | os.PathLike | None = None) -> float:
        """Mean over items of how well each fits the rest of the outfit."""
        if self._lm is not None:
            captions = [item_caption(i) for i in items]
            self.logprobs([p for k, c in enumerate(captions)  # one batched pass
                           for p in self.pmi_pairs(captions[:k] + captions[k + 1:], c, backward=self.ranks_by_backward)],
                          adapter)
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
        lm = _AdapterVersions(model, tokenizer, None)
    else:
        spec = LMSpec.of(llm, adapter)
        folder = default_adapter(spec)
        lm = _AdapterVersions(*load_lm(spec), _folder(folder) if folder else None, merge=True)
    return OutfitModel(lm, config, counts)


def _scorer_dir(spec: LMSpec | None) -> Path:
    """Where an LLM's scoring weights live: next to its adapter when `tune` wrote them there (they are tuned per
    LLM and adapter), else the committed ones of the embedded LM."""
    folder = default_adapter(spec) if spec is not None else None
    return Path(folder) if folder and (Path(folder) / "scoring.json").exists() else SCORER_DIR


def save_scoring_config(with_counts: ScoringConfig, lm_only: ScoringConfig,
                        path: str | os.PathLike = SCORER_DIR / "scoring.json") -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps({"with_counts": asdict(with_counts), "lm_only": asdict(lm_only)}, indent=1))
