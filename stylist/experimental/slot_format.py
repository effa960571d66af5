"""The outfit LM asked to name the missing slot: a probe of a prompt format, not yet in `train-lm`.

    python -m stylist.experimental.slot_format --step base --out-dir runs/slot/base      # 1.4 M, 7 epochs, ~11 min
    python -m stylist.experimental.slot_format --step sft --base-dir runs/slot/base --out-dir runs/slot/sft   # ~17 min
    python -m stylist.experimental.lm_slot_probe --llm runs/slot/base --adapter runs/slot/sft               # ~4 min

The committed format names the missing slot in half of the SFT prompts ("missing shoes:") and its loss covers
the caption only, so the LM never learns which kind of piece an outfit lacks, which the counts know well. Here,
when the prompt does not name the slot, the completion begins with it: "missing" + " shoes: black boots", the
same tokens as "missing shoes:" + " black boots". The base is pre-trained as `pretrain_lm` does (real outfits), with
the slot always in its sequences. Results: docs/experiments/outfit-lm-pretraining.md.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import torch

import stylist.experimental.pretrain_lm as pretrain_lm
import stylist.train.lm as lm
from stylist.core.options import parse_config, summary
from stylist.core.paths import RUNS
from stylist.core.prompts import completion
from stylist.data.corpus import TrainingOutfit


@dataclass
class SlotFormatConfig:
    step: str = field(default="base", metadata={"help": "base: pre-train a base LM; sft: a LoRA adapter on one"})
    out_dir: str = field(default=str(RUNS / "slot" / "base"), metadata={"help": "where the base or adapter is written"})
    base_dir: str = field(default=str(RUNS / "slot" / "base"), metadata={"help": "the base LM the sft step reads"})
    threads: int = field(default=2, metadata={"help": "torch threads"})
    seed: int = field(default=0, metadata={"help": "the random stream of pre-training or SFT"})


def slot_first(prompt: str, text: str, slot: str) -> tuple[str, str]:
    """A (prompt, completion) pair in this format: a prompt that does not name the missing slot ends at "missing"
    and its completion begins with the slot; one that names it is kept."""
    if prompt.endswith("\nmissing:"):
        return prompt.removesuffix(":"), completion(f"{slot}: {text.strip()}")
    return prompt, text


def sft_examples(outfits: list[TrainingOutfit], rng: random.Random) -> list[tuple[str, str]]:
    """`lm.sft_examples` (one example per item, in order) in this format."""
    slots = [item.slot for outfit in outfits for item in outfit.items]
    return [slot_first(prompt, text, slot) for (prompt, text), slot in zip(SFT_EXAMPLES(outfits, rng), slots, strict=True)]


def outfit_sequence(outfit: TrainingOutfit, rng: random.Random, subset_share: float) -> str:
    """`pretrain_lm.outfit_sequence` with the slot always named."""
    head, unnamed, missing = OUTFIT_SEQUENCE(outfit, rng, subset_share).rpartition("\nmissing: ")
    if not unnamed:
        return head + missing
    slot = next(item.slot for caption, item in zip(outfit.captions, outfit.items) if caption.strip() == missing)
    return f"{head}\nmissing {slot}: {missing}"


SFT_EXAMPLES, OUTFIT_SEQUENCE = lm.sft_examples, pretrain_lm.outfit_sequence


def main(argv: list[str] | None = None) -> int:
    config = parse_config(SlotFormatConfig, argv, "python -m stylist.experimental.slot_format", summary(__doc__))
    if config.step not in ("base", "sft"):
        raise SystemExit(f"--step: base or sft, not {config.step!r}")
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    if config.step == "base":
        pretrain_lm.outfit_sequence = outfit_sequence
        pretrain_lm.pretrain(pretrain_lm.PretrainConfig(out_dir=config.out_dir, vocab_size=4000, hidden=128, layers=4,
                                                        heads=4, intermediate=384, epochs=7, lr=3e-3,
                                                        seed=config.seed))
    else:
        lm.sft_examples = sft_examples
        lm.train_sft(lm.LMTrainConfig(step="sft", base_dir=config.base_dir, adapter_dir=config.out_dir,
                                    seed=config.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
