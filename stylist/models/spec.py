"""Which outfit LM to load and where: one spec, and the same options for the app and every command.

    python app.py --llm Qwen/Qwen2.5-1.5B-Instruct --adapter runs/qwen-sft
    python -m stylist refine --llm mistralai/Mistral-7B-Instruct-v0.3 --adapter runs/mistral-sft --load-in-4bit

`--device auto` puts a named LLM on the GPU when there is one (spread over every visible GPU by
`device_map="auto"`, or one GPU per process under `accelerate launch`/`torchrun`) and keeps the embedded LM on
the CPU; `--dtype auto` is bfloat16 on a GPU that has it and float32 otherwise, so the embedded defaults load
exactly as they always did. `--load-in-4bit` quantises the LLM to NF4 with bitsandbytes (QLoRA when training);
it needs a CUDA GPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from dataclasses import dataclass, replace

from stylist.core.errors import StylistError

DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "bfloat16")


@dataclass(frozen=True)
class LMSpec:
    """An LLM (None: the embedded `checkpoints/base-lm`), its adapter (None: the embedded SFT adapter for the
    embedded LM, none for another LLM; 'none': the bare LLM) and where and how to load it."""

    llm: str | None = None
    adapter: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    load_in_4bit: bool = False

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise StylistError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.dtype not in DTYPES:
            raise StylistError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")

    @classmethod
    def of(cls, llm: LMSpec | str | os.PathLike | None = None, adapter: str | os.PathLike | None = None) -> LMSpec:
        """A spec from what callers have always passed (an LLM id or folder, and an adapter), or a spec with
        its adapter replaced when one is given."""
        spec = llm if isinstance(llm, LMSpec) else cls(None if llm is None else str(llm))
        return spec if adapter is None else replace(spec, adapter=str(adapter))

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser,
                      adapter_help: str = "LoRA adapter folder of that LLM, or 'none' for the bare LLM "
                                          "(default: the embedded SFT adapter for the embedded LLM)") -> None:
        """The options every command that loads the outfit LM takes; `from_args` reads them back."""
        parser.add_argument("--llm", default=None, help="outfit LLM: HF causal LM id or folder "
                                                        "(default: the embedded checkpoints/base-lm)")
        parser.add_argument("--adapter", default=None, help=adapter_help)
        parser.add_argument("--device", default="auto", choices=DEVICES,
                            help="auto: a named LLM on the GPU when there is one, the embedded LLM on the CPU")
        parser.add_argument("--dtype", default="auto", choices=DTYPES,
                            help="auto: bfloat16 on a GPU that supports it, float32 on the CPU")
        parser.add_argument("--load-in-4bit", action="store_true",
                            help="quantise the LLM to 4 bits with bitsandbytes (QLoRA when training; CUDA only)")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> LMSpec:
        return cls(args.llm, args.adapter, args.device, args.dtype, args.load_in_4bit)

    def cli_args(self) -> list[str]:
        """The options that give this spec back through `add_arguments` (for a worker process)."""
        args = ["--llm", self.llm] if self.llm else []
        args += ["--adapter", self.adapter] if self.adapter else []
        args += ["--device", self.device, "--dtype", self.dtype]
        return args + (["--load-in-4bit"] if self.load_in_4bit else [])

    def check(self) -> LMSpec:
        """This spec, once its device, dtype and quantisation are known to be possible here: a command refuses an
        impossible request in one line before it loads or reads anything else."""
        self.load_kwargs()
        return self

    def resolved_device(self) -> str:
        """cpu or cuda: 'auto' keeps the embedded LM on the CPU (its figures were measured there)."""
        import torch

        if self.device == "cuda" and not torch.cuda.is_available():
            raise StylistError("--device cuda: no CUDA GPU is visible to PyTorch on this machine")
        if self.device == "auto":
            return "cuda" if self.llm is not None and torch.cuda.is_available() else "cpu"
        return self.device

    def load_kwargs(self) -> dict:
        """`from_pretrained` keyword arguments: dtype, and on a GPU the device map and 4-bit quantisation."""
        import torch

        device = self.resolved_device()
        if self.load_in_4bit and device != "cuda":
            raise StylistError("--load-in-4bit needs a CUDA GPU (bitsandbytes 4-bit); load the LLM without it "
                               "on the CPU")
        if self.dtype == "auto":
            dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
        else:
            dtype = getattr(torch, self.dtype)
        kwargs: dict = {"dtype": dtype}
        if device == "cuda":
            # one process: spread over every visible GPU; one per GPU under accelerate/torchrun: this process's own
            ranks = int(os.environ.get("WORLD_SIZE", "1"))
            kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))} if ranks > 1 else "auto"
        if self.load_in_4bit:
            if importlib.util.find_spec("bitsandbytes") is None:
                raise StylistError("--load-in-4bit needs the bitsandbytes package: pip install bitsandbytes")
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=dtype)
        return kwargs
