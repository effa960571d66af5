"""Where training runs: trainer arguments that follow the device the model was loaded on, shared by SFT and
DPO (the model spec decides where a model lives, training adapts to it rather than forcing the CPU), and which
of several data-parallel processes writes."""

from __future__ import annotations

import os
from typing import Any


def device_args(model: Any) -> dict[str, Any]:
    """On a GPU: bf16 autocast (where the GPU has it) and activation (gradient) checkpointing, which a
    multi-billion LLM needs to fit. On the CPU: float32, and `use_cpu` so the trainer does not move the model
    to a GPU it happens to find."""
    import torch

    cuda = next(model.parameters()).device.type == "cuda"
    return {"use_cpu": not cuda, "bf16": cuda and torch.cuda.is_bf16_supported(), "fp16": False,
            "activation_checkpointing": cuda}


def main_process() -> bool:
    """Whether this process writes: the only one, or rank 0 of those `accelerate launch` (or torchrun) started.
    The others train alongside it, data-parallel, and leave files, locks and reports to it."""
    return int(os.environ.get("RANK", "0")) == 0
