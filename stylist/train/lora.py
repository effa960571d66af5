"""An outfit LM loaded to be trained: its LoRA adapter's weights take gradients, and a 4-bit LLM is prepared for
QLoRA first. The app and evaluation load the same LLM for inference only (`stylist.models.lm.load_lm`)."""

from __future__ import annotations

import os

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from stylist.models.lm import attach_adapter, default_adapter, load_base
from stylist.models.spec import LMSpec


def load_trainable(llm: LMSpec | str | os.PathLike | None = None, adapter: str | os.PathLike | None = None
                   ) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The LLM of a spec with its adapter (see `default_adapter`; `adapter` replaces the spec's) taking gradients;
    the bare LLM when the spec names none (SFT puts a fresh LoRA on it)."""
    spec = LMSpec.of(llm, adapter)
    model, tokenizer = load_base(spec)
    if spec.load_in_4bit:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model)
    folder = default_adapter(spec)
    if folder is not None:
        model = attach_adapter(model, folder, trainable=True)
    model.eval()
    return model, tokenizer
