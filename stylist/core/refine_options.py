"""The refine worker's settings, defined once: the worker (`stylist/train/refine.py`) trains by them and the app
(`stylist/app/refine_control.py`) reads its minimum pairs and held-out share from the same `--refine-args` it hands the
worker, both through `stylist.core.options`."""

from __future__ import annotations

from dataclasses import dataclass

from stylist.core.feedback import HELDOUT_PERCENT, MIN_TRAIN_PAIRS
from stylist.core.options import option


@dataclass
class RefineConfig:
    """DPO settings of a refine; beta, learning_rate, epochs, anchors and sft_weight were chosen with
    `bench/simulated_user.py --split valid` (docs/results.md)."""

    beta: float = option(0.5, "DPO beta: the higher, the closer the adapter stays to the one it starts from")
    learning_rate: float = option(1e-3, "a LoRA-sized rate; trl's default 1e-6 is for full fine-tuning")
    epochs: float = option(2.0, "passes over the user pairs and their anchor pairs")
    batch_size: int = option(8, "pairs per optimizer step")
    steps: int | None = option(None, "optimizer steps, in place of --epochs (the app's tests use a handful)")
    min_pairs: int = option(MIN_TRAIN_PAIRS, "fewest training pairs (of outfits not held out) a refine starts with")
    anchors: float = option(1.0, "Polyvore anchor pairs per user pair; 0 trains on the user's pairs alone")
    sft_weight: float = option(0.5, "weight of trl's 'sft' loss (NLL of the chosen side) added to the DPO loss")
    heldout_percent: int = option(HELDOUT_PERCENT, "percent of outfit contexts held out to measure before and "
                                                   "after; 0 trains on everything")
    max_length: int = option(256, "tokens of prompt and completion that trl keeps")
    fitb_questions: int = option(100, "the first questions of held-out Polyvore FITB, measured before and after; "
                                      "0 skips FITB")
    seed: int = option(0, "seed of the anchor pairs and of training")
    threads: int = option(1, "torch threads (the app's other core keeps serving pages)")
