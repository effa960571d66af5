"""The outfit LM asked to name the missing slot, trained on what is real: a prompt format tried, not in `train-lm`.

    python -m stylist.experimental.slot_format --step base --out-dir runs/slot/base      # 1.4 M, 8 epochs
    python -m stylist.experimental.slot_format --step sft --base-dir runs/slot/base --out-dir runs/slot/sft
    python -m stylist.experimental.lm_slot_probe --llm runs/slot/base --adapter runs/slot/sft --weights-out runs/slot/sft/slot_scoring.json

The committed format names the missing slot in half of the SFT prompts ("missing shoes:") and its loss covers
the caption only, so the LM never learns which kind of piece an outfit lacks, which the counts know well. Here,
when the prompt does not name the slot, the completion begins with it: "missing" + " shoes: black boots", the
same tokens as "missing shoes:" + " black boots", so the recommender's prompts (which name the slot) read the
same in both formats. Every sequence and SFT prompt of an outfit with an occasion or season carries it, so the LM
learns to condition on them. The base reads only what is real: Maryland's training outfits (twice an epoch)
and titles, the demo catalog's outfits and more rule-made outfits of the same catalog (`more_demo_outfits`),
and the garment-type nouns. Results: docs/experiments/outfit-lm-pretraining.md.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import torch

from stylist.core.options import parse_config, summary
from stylist.core.paths import RUNS
from stylist.core.prompts import completion
from stylist.core.vocabulary import GARMENT_TYPES
from stylist.data.corpus import TrainingOutfit, more_demo_outfits
from stylist.experimental import pretrain_lm
from stylist.train import lm


@dataclass
class SlotFormatConfig:
    step: str = field(default="base", metadata={"help": "base: pre-train a base LM; sft: a LoRA adapter on one"})
    out_dir: str = field(default=str(RUNS / "slot" / "base"), metadata={"help": "where the base or adapter is written"})
    base_dir: str = field(default=str(RUNS / "slot" / "base"), metadata={"help": "the base LM the sft step reads"})
    threads: int = field(default=1, metadata={"help": "torch threads"})
    seed: int = field(default=0, metadata={"help": "the random stream of pre-training or SFT"})
    epochs: int = field(default=8, metadata={"help": "pre-training epochs (base) or SFT epochs (sft)"})
    more_demo: int = field(default=1500, metadata={"help": "rule-made demo outfits beyond the catalog's 360 (base)"})
    maryland_repeats: int = field(default=2, metadata={"help": "times each Maryland training outfit is read an epoch (base)"})


def slot_first(prompt: str, text: str, slot: str) -> tuple[str, str]:
    """A (prompt, completion) pair in this format: a prompt that does not name the missing slot ends at "missing"
    and its completion begins with the slot; one that names it is kept."""
    if prompt.endswith("\nmissing:"):
        return prompt.removesuffix(":"), completion(f"{slot}: {text.strip()}")
    return prompt, text


def sft_examples(outfits: list[TrainingOutfit], rng: random.Random) -> list[tuple[str, str]]:
    """`lm.sft_examples` (one example per item, in order; the tags always) in this format."""
    slots = [item.slot for outfit in outfits for item in outfit.items]
    return [slot_first(prompt, text, slot)
            for (prompt, text), slot in zip(lm.sft_examples(outfits, rng, tag_share=1.0), slots, strict=True)]


def outfit_sequence(outfit: TrainingOutfit, rng: random.Random, subset_share: float) -> str:
    """`pretrain_lm.outfit_pair` with the slot always named and the tags always shown, as one text."""
    prompt, text, slot = pretrain_lm.outfit_pair(outfit, rng, subset_share, tag_share=1.0)
    return "".join(slot_first(prompt, text, slot))


def corpus(config: SlotFormatConfig) -> pretrain_lm.Corpus:
    """`pretrain_lm.corpus` with Maryland's training outfits repeated, more rule-made demo outfits, and the
    garment-type nouns among the single texts."""
    train, valid, titles = pretrain_lm.corpus()
    demo = [o for o in train if o.tags]
    maryland = [o for o in train if not o.tags]
    more = more_demo_outfits(config.more_demo, seed=config.seed + 1)
    return maryland * config.maryland_repeats + demo + more, valid, sorted({*titles, *GARMENT_TYPES.values()})


def main(argv: list[str] | None = None) -> int:
    config = parse_config(SlotFormatConfig, argv, "python -m stylist.experimental.slot_format", summary(__doc__))
    if config.step not in ("base", "sft"):
        raise SystemExit(f"--step: base or sft, not {config.step!r}")
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    if config.step == "base":
        pretrain_lm.pretrain(pretrain_lm.PretrainConfig(out_dir=config.out_dir, vocab_size=4000, hidden=128, layers=4,
                                                        heads=4, intermediate=384, epochs=config.epochs, lr=3e-3,
                                                        seed=config.seed), outfit_sequence, corpus(config))
    else:
        lm.train_sft(lm.LMTrainConfig(step="sft", base_dir=config.base_dir, adapter_dir=config.out_dir,
                                      seed=config.seed, sft_epochs=config.epochs), sft_examples)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
