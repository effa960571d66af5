"""Loading the outfit LM: any HF causal LM (or the embedded `checkpoints/base-lm`) with its LoRA adapter, the
check that an adapter was trained for that LLM, and version 0 for an LLM named without one.

Inference only: `stylist.train.lora` loads an LLM to train on top of these.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from stylist.core.errors import StylistError
from stylist.core.paths import CHECKPOINTS, writing
from stylist.models.spec import LMSpec

BASE_LM = CHECKPOINTS / "base-lm"
SFT_ADAPTER = CHECKPOINTS / "adapters" / "sft"


def default_adapter(spec: LMSpec) -> str | None:
    """The adapter folder `load_lm` puts on the spec's LLM, None for the bare LLM: the spec's own, or when it
    names none the embedded SFT adapter for the embedded LM and none for another LLM; 'none': the bare LLM."""
    if spec.adapter is None:
        return str(SFT_ADAPTER) if spec.llm is None and SFT_ADAPTER.exists() else None
    return None if spec.adapter == "none" else spec.adapter


def load_lm(llm: LMSpec | str | os.PathLike | None = None, adapter: str | os.PathLike | None = None
            ) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The LLM of a spec (`checkpoints/base-lm` or any HF causal LM id/folder; a bare id or folder gets the
    spec's default placement) with its LoRA adapter on top (see `default_adapter`; `adapter` replaces the spec's),
    for inference (`stylist.train.lora.load_trainable` loads one to train)."""
    spec = LMSpec.of(llm, adapter)
    model, tokenizer = load_base(spec)
    folder = default_adapter(spec)
    if folder is not None:
        model = attach_adapter(model, folder)
    model.eval()
    return model, tokenizer


def load_base(spec: LMSpec) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The spec's LLM alone, in eval mode, and its tokenizer (with a pad token)."""
    source = spec.llm or str(BASE_LM)
    kwargs = spec.load_kwargs()  # refuses an impossible placement before anything is read
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise StylistError(f"cannot load language model {source!r}: {exc}") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer


def attach_adapter(model: PreTrainedModel, adapter: str | os.PathLike, name: str = "default",
                   trainable: bool = False) -> PreTrainedModel:
    """`model` with a PEFT adapter folder on top, once `check_adapter_fits` accepts it (`trainable`: its weights
    take gradients, for `stylist.train`)."""
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
    """The LoRA of every adapter the project makes (SFT in `stylist.train`, a fresh version 0 here): on every
    linear layer, so any causal LM family gets one (Llama's q_proj.., Phi-3's fused qkv_proj, GPT-2's c_attn)."""
    from peft import LoraConfig

    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")


def with_initial_adapter(spec: LMSpec, root: str | os.PathLike) -> LMSpec:
    """The spec with version 0's adapter named, so refine and Compare have one to start from: its own, the
    embedded SFT adapter for the embedded LM, or, for an LLM named without one (or with 'none'), a fresh LoRA of
    `lora_config` saved once in `root`/initial-<LLM>: its B starts at zero, so it says exactly what the bare LLM
    says. The same folder serves every later start and refine, so the versions refined from it keep it as their
    reference."""
    from peft import get_peft_model

    folder = default_adapter(spec)
    if folder is not None:
        return replace(spec, adapter=folder)
    initial = Path(root) / f"initial-{_slug(spec.llm or str(BASE_LM))}"
    if not (initial / "adapter_config.json").exists():
        model, _ = load_lm(replace(spec, adapter="none"))
        with writing(Path(root)):
            Path(root).mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))  # complete or absent, never half written
            get_peft_model(model, lora_config()).save_pretrained(str(scratch))
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


def adapter_key(adapter: str | os.PathLike) -> str:
    """One name per adapter folder, however the path to it is spelled."""
    return str(Path(adapter).resolve())
