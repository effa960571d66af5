"""The SFT adapter trained on what the counts miss: tried, not adopted (not part of `train-lm`).

    python -m stylist.experimental.residual_lm --out-dir runs/residual/a        # about 2 minutes an epoch on 2 cores
    python -m stylist train-lm --step tune --adapter-dir runs/residual/a --scorer-dir runs/residual/a-scorer
    python bench/lm_table.py --split valid --seeds 3 4 5 --adapter runs/residual/a \
        --scoring runs/residual/a-scorer/scoring.json

SFT teaches the LM to write the missing caption; the recommender then ranks by the LM's forward PMI plus the
counts, and there the LM adds nothing the counts do not already know. Here the adapter is trained on the
deployed score itself: for fill-in-the-blank questions drawn from the training outfits (random and same-category
negatives), cross-entropy over the candidates of PMI + counts_weight * counts, so its gradient goes to the
questions the counts get wrong. The counts of a question come from a model fit without its outfit's fold (out of
fold), as the counts of a held-out outfit never saw it. The LM's PMI alone and the true caption's likelihood are
kept in the loss, so the LM still ranks and writes on its own. It did not beat the counts on valid:
docs/experiments/outfit-lm-pretraining.md, addendum 6.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from stylist.core.catalog import Catalog, Item, Outfit
from stylist.core.options import parse_config, summary
from stylist.core.paths import RUNS
from stylist.core.prompts import completion, item_caption, outfit_prompt
from stylist.data.corpus import demo_catalog, outfits_of
from stylist.data.splits import polyvore_catalog, split_outfits
from stylist.evaluation.outfits import FitbQuestion, build_fitb_questions
from stylist.models.counts import DEFAULT_COUNTS, CountModel
from stylist.models.likelihood import encode_pair, padded
from stylist.models.lm import BASE_LM, SFT_ADAPTER, load_lm


@dataclass
class ResidualConfig:
    out_dir: str = field(default=str(RUNS / "residual" / "a"), metadata={"help": "where the adapter is written"})
    base_dir: str = field(default=str(BASE_LM), metadata={"help": "the base LM"})
    adapter_dir: str = field(default=str(SFT_ADAPTER), metadata={"help": "the SFT adapter training starts from"})
    epochs: int = field(default=4, metadata={"help": "passes; each draws one random and one same-category "
                                                     "question per training outfit"})
    lr: float = field(default=5e-4, metadata={"help": "AdamW learning rate (linear decay)"})
    counts_weight: float = field(default=2.0, metadata={"help": "the counts' weight in the score (the scorer's)"})
    lm_only_weight: float = field(default=0.5, metadata={"help": "weight of the LM's PMI alone ranking loss"})
    nll_weight: float = field(default=0.5, metadata={"help": "weight of the true caption's per-token NLL"})
    folds: int = field(default=5, metadata={"help": "folds of the out-of-fold counts"})
    questions_per_batch: int = field(default=16, metadata={"help": "questions per optimizer step"})
    threads: int = field(default=2, metadata={"help": "torch threads"})
    seed: int = field(default=0, metadata={"help": "question draws and fold assignment"})


@dataclass
class Question:
    context: list[str]
    candidates: list[str]  # the true caption first
    counts: np.ndarray


@dataclass
class Folds:
    """The training outfits, the fold of each, and per fold a counting model fit on the other folds (and the demo
    outfits) in the committed counts' config: what a held-out outfit's counts would be."""

    catalog: Catalog
    outfits: list[Outfit]
    fold: dict[str, int]
    counts: list[CountModel]

    @classmethod
    def make(cls, catalog: Catalog, config: ResidualConfig) -> Folds:
        train = split_outfits(catalog.outfits)["train"]
        shown = demo_catalog()
        demo = [o.items for o in outfits_of(shown)] if shown else []
        fold = {o.id: random.Random(f"{config.seed}-{o.id}").randrange(config.folds) for o in train}
        counts_config = CountModel.load(DEFAULT_COUNTS).config
        counts = [CountModel.fit([o.items for o in outfits_of(catalog, [o for o in train if fold[o.id] != k])] + demo,
                                 counts_config) for k in range(config.folds)]
        return cls(catalog, train, fold, counts)

    def questions(self, epoch: int) -> list[Question]:
        """One random- and one same-category-negative question per training outfit, with out-of-fold counts."""
        questions: list[Question] = []
        for k, counts in enumerate(self.counts):
            held = [o for o in self.outfits if self.fold[o.id] == k]
            seed = 1000 * epoch + 2 * k
            drawn: list[FitbQuestion] = [q for hard in (False, True)
                                         for q in build_fitb_questions(self.catalog, held, hard, seed=seed + hard)]
            for q in drawn:
                context: list[Item] = [self.catalog.items[i] for i in q.question]
                candidates = [self.catalog.items[i] for i in q.answers]
                questions.append(Question([item_caption(i) for i in context], [item_caption(c) for c in candidates],
                                          np.array(counts.candidate_scores(context, candidates), dtype=np.float32)))
        return questions


def mean_logprobs(model, tokenizer, pairs: list[tuple[str, str]]) -> torch.Tensor:
    """Per-token mean log p(completion | prompt) of each pair, with gradients (the scorer's length_power 1)."""
    encoded = [encode_pair(tokenizer, p, completion(t)) for p, t in pairs]
    ids, mask = padded(tokenizer, [seq for seq, _ in encoded])
    target = torch.zeros_like(ids, dtype=torch.bool)
    for row, (seq, start) in enumerate(encoded):
        target[row, start:len(seq)] = True
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
    token_lp = logits.log_softmax(-1).gather(-1, ids[:, 1:, None]).squeeze(-1) * target[:, 1:]
    return token_lp.sum(-1) / target[:, 1:].sum(-1).clamp(min=1)


def batch_loss(model, tokenizer, batch: list[Question], config: ResidualConfig) -> tuple[torch.Tensor, float]:
    """The ranking losses of a batch of questions and the share the deployed score answers right."""
    pairs = [(outfit_prompt(q.context), c) for q in batch for c in q.candidates]
    pairs += [(outfit_prompt([]), c) for q in batch for c in q.candidates]
    lp = mean_logprobs(model, tokenizer, pairs).view(2, len(batch), -1)
    pmi = lp[0] - lp[1]
    score = pmi + config.counts_weight * torch.tensor(np.stack([q.counts for q in batch]))
    zero = torch.zeros(len(batch), dtype=torch.long)
    loss = (torch.nn.functional.cross_entropy(score, zero)
            + config.lm_only_weight * torch.nn.functional.cross_entropy(pmi, zero)
            - config.nll_weight * lp[0, :, 0].mean())
    return loss, float((score.argmax(1) == 0).float().mean())


def main(argv: list[str] | None = None) -> int:
    config = parse_config(ResidualConfig, argv, "python -m stylist.experimental.residual_lm", summary(__doc__))
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    from peft import PeftModel

    base, tokenizer = load_lm(config.base_dir, "none")
    model = PeftModel.from_pretrained(base, config.adapter_dir, is_trainable=True)
    folds = Folds.make(polyvore_catalog(), config)
    epochs = [folds.questions(epoch) for epoch in range(config.epochs)]
    steps = sum(-(-len(e) // config.questions_per_batch) for e in epochs)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / steps)
    rng, log = random.Random(config.seed), []
    model.train()
    with tqdm(total=steps, desc="residual", mininterval=30) as bar:
        for epoch, questions in enumerate(epochs):
            rng.shuffle(questions)
            losses, right = [], []
            for begin in range(0, len(questions), config.questions_per_batch):
                batch = questions[begin:begin + config.questions_per_batch]
                loss, accuracy = batch_loss(model, tokenizer, batch, config)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                losses.append(loss.item())
                right.append(accuracy)
                bar.update()
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}", fitb=f"{np.mean(right[-20:]):.3f}")
            log.append({"epoch": epoch, "loss": float(np.mean(losses)), "train_fitb": float(np.mean(right))})
            print(json.dumps(log[-1]), flush=True)
    out = Path(config.out_dir)
    model.save_pretrained(out, selected_adapters=["default"])
    tokenizer.save_pretrained(out)
    (out / "train_log.json").write_text(json.dumps({"config": asdict(config), "log": log}, indent=1))
    print(f"adapter written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
