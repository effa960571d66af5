"""The refine worker's settings, defined once: the worker (`stylist/train/refine.py`) trains by them and the app
(`stylist/app/refine_control.py`) reads its minimum pairs and held-out share from the same `--refine-args` it hands the
worker, both through `stylist.core.options`."""

from __future__ import annotations

from dataclasses import dataclass

from stylist.core.feedback import HELDOUT_PERCENT, MIN_TRAIN_PAIRS, FeedbackStore, Pair, Vote
from stylist.core.options import option

METHODS = ("dpo", "kto")


@dataclass
class RefineConfig:
    """Settings of a refine; beta, learning_rate, epochs, anchors and sft_weight were chosen for DPO with
    `bench/simulated_user.py --split valid` (docs/results.md)."""

    method: str = option("dpo", "dpo: trl's DPOTrainer on preference pairs (a like over a dislike or a passed-over "
                                "item); kto: trl's KTOTrainer on every like and dislike alone", choices=METHODS)
    beta: float = option(0.5, "DPO/KTO beta: the higher, the closer the adapter stays to the one it starts from")
    learning_rate: float = option(1e-3, "a LoRA-sized rate; trl's default 1e-6 is for full fine-tuning")
    epochs: float = option(2.0, "passes over the user pairs and their anchor pairs")
    batch_size: int = option(8, "pairs (or votes) per optimizer step; KTO needs at least 2")
    steps: int | None = option(None, "optimizer steps, in place of --epochs (the app's tests use a handful)")
    min_pairs: int = option(MIN_TRAIN_PAIRS, "fewest training pairs (KTO: votes) of outfits not held out a refine "
                                             "starts with")
    anchors: float = option(1.0, "Polyvore anchor pairs per user pair; 0 trains on the user's pairs alone")
    sft_weight: float = option(0.5, "weight of trl's 'sft' loss (NLL of the chosen side) added to the DPO loss "
                                    "(DPO only)")
    heldout_percent: int = option(HELDOUT_PERCENT, "percent of outfit contexts held out to measure before and "
                                                   "after; 0 trains on everything")
    max_length: int = option(256, "tokens of prompt and completion that trl keeps")
    fitb_questions: int = option(100, "the first questions of held-out Polyvore FITB, measured before and after; "
                                      "0 skips FITB")
    seed: int = option(0, "seed of the anchor pairs and of training")
    threads: int = option(1, "torch threads (the app's other core keeps serving pages)")


def training_examples(store: FeedbackStore, method: str, user: str | None = None) -> list[Pair] | list[Vote]:
    """What a refine by `method` trains on: preference pairs for DPO, single votes for KTO."""
    return store.votes(user) if method == "kto" else store.pairs(user)
