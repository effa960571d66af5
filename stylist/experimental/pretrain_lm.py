"""Pre-train the outfit LM's base on real outfits (Maryland's training part and the demo catalog's rule-made
outfits) and all training item titles.

    python -m stylist.experimental.pretrain_lm --out-dir runs/pretrain   # then: train-lm --step sft --base-dir ...

The committed base read single garment texts only. This base reads the prompt format itself
(`outfit: a ; b ; c / missing shoes: d`, loss on every token) on Maryland's training outfits and the demo's,
mixed with single titles, so it learns what garments are and which go together before the SFT adapter narrows
it. Maryland's test part is never read; its valid part gives the per-epoch validation loss. (Earlier runs also
read a second Polyvore crawl, withdrawn since: its titles were random.) After every epoch the model is saved
(float16, loaded back as float32), so a usable base exists if training stops early.
"""

from __future__ import annotations

import copy
import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerFast

from stylist.core.options import parse_config, summary
from stylist.core.paths import RUNS
from stylist.core.prompts import completion, outfit_prompt
from stylist.data.corpus import TrainingOutfit, garment_texts, training_outfits
from stylist.train.lm import LMTrainConfig, make_tokenizer, new_llama, train_loop


@dataclass
class PretrainConfig:
    out_dir: str = str(RUNS / "pretrain")
    vocab_size: int = 8000  # ~45k distinct titles: brand and garment words stay whole tokens
    hidden: int = 256  # d=256, 4 layers: 5M parameters, 10 MB in float16, ~1,100 tokens/s on one core
    layers: int = 4  # 6 layers ran at half the speed: fewer epochs over a corpus this small
    heads: int = 8
    intermediate: int = 768
    epochs: int = 5  # ~280k tokens an epoch: ~7 min on an idle core, ~18 min on a shared one
    lr: float = 1e-3  # the 3e-3 of the tiny base diverges at this width
    batch_size: int = 32
    subset_share: float = 0.25  # outfits shown with only some of their items, as the scorer's prompts are
    titles_per_outfit: float = 1.0  # single-title sequences per outfit sequence in an epoch
    seed: int = 0


def outfit_pair(outfit: TrainingOutfit, rng: random.Random, subset_share: float,
                tag_share: float = 0.5) -> tuple[str, str, str]:
    """One outfit as (prompt, completion, missing slot) with a random item missing, in a random order, the slot
    shown half the time (as in SFT) and each tag the outfit has a `tag_share` of the time."""
    captions = [(c, item.slot) for c, item in zip(outfit.captions, outfit.items) if c]
    rng.shuffle(captions)
    (missing, slot), others = captions[-1], [c for c, _ in captions[:-1]]
    if rng.random() < subset_share:
        others = others[:rng.randint(1, len(others))]
    tags = {key: outfit.tags.get(key) if rng.random() < tag_share else None for key in ("occasion", "season")}
    return outfit_prompt(others, slot if rng.random() < 0.5 else None, **tags), completion(missing), slot


def outfit_sequence(outfit: TrainingOutfit, rng: random.Random, subset_share: float) -> str:
    """`outfit_pair` as one text."""
    prompt, text, _ = outfit_pair(outfit, rng, subset_share)
    return prompt + text


def encode(tokenizer: PreTrainedTokenizerFast, text: str) -> tuple[list[int], int]:
    """Token ids + eos, with the loss on every token after <s>."""
    return tokenizer(text)["input_ids"][:255] + [tokenizer.eos_token_id], 1


def corpus() -> tuple[list[TrainingOutfit], list[TrainingOutfit], list[str]]:
    """(training outfits, validation outfits, single titles): Maryland's training part with the demo's outfits,
    Maryland's valid part, and every training garment text; the test part excluded."""
    train, valid = training_outfits("train"), training_outfits("valid", with_demo=False)
    keep = lambda outfits: [o for o in outfits if sum(bool(c) for c in o.captions) >= 2]
    return keep(train), keep(valid), sorted({t for t in garment_texts() if t})


def save(model, tokenizer: PreTrainedTokenizerFast, out: Path, report: dict) -> None:
    """The model in float16 (half the bytes; `load_lm` reads it back as float32), its tokenizer, the log."""
    copy.deepcopy(model).to(torch.float16).save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "train_log.json").write_text(json.dumps(report, indent=1))


OutfitWriter = Callable[[TrainingOutfit, random.Random, float], str]
Corpus = tuple[list[TrainingOutfit], list[TrainingOutfit], list[str]]


def pretrain(config: PretrainConfig, sequence: OutfitWriter = outfit_sequence, data: Corpus | None = None) -> Path:
    """Pre-train on `data` (default: `corpus()`), each outfit written by `sequence`, so another format or
    corpus (`slot_format`) reuses the loop, the saving and the log."""
    train, valid, titles = data or corpus()
    texts = titles + [c for o in train for c in o.captions]
    tokenizer = make_tokenizer(texts, config.vocab_size)
    loop = LMTrainConfig(batch_size=config.batch_size, seed=config.seed, hidden=config.hidden, layers=config.layers,
                       heads=config.heads, intermediate=config.intermediate)
    model = new_llama(tokenizer, loop)
    rng = random.Random(config.seed)
    valid_seqs = [encode(tokenizer, sequence(o, random.Random(i), config.subset_share))
                  for i, o in enumerate(valid)]
    title_seqs = [encode(tokenizer, t) for t in titles]
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = {"config": asdict(config), "parameters": model.num_parameters(), "train_outfits": len(train),
              "valid_outfits": len(valid), "titles": len(titles), "epochs_done": 0, "seconds": 0.0}
    print(json.dumps({k: v for k, v in report.items() if k != "config"}), flush=True)
    start = time.time()

    def sequences(epoch: int) -> list[tuple[list[int], int]]:
        """This epoch's data; called as each epoch begins, so it also saves the epoch just finished."""
        if epoch > report["epochs_done"]:
            report.update(epochs_done=epoch, seconds=round(time.time() - start))
            save(model, tokenizer, out, report)
        outfits = [encode(tokenizer, sequence(o, rng, config.subset_share)) for o in train]
        return outfits + rng.sample(title_seqs, min(len(title_seqs), int(len(train) * config.titles_per_outfit)))

    report["log"] = train_loop(model, sequences, loop, config.epochs, config.lr, tokenizer.pad_token_id,
                               "pretrain", valid=valid_seqs)
    report.update(epochs_done=config.epochs, seconds=round(time.time() - start))
    save(model, tokenizer, out, report)
    return out


def main(argv: list[str] | None = None) -> int:
    config = parse_config(PretrainConfig, argv, "python -m stylist.experimental.pretrain_lm", summary(__doc__))
    torch.set_num_threads(1)
    torch.manual_seed(config.seed)
    print(f"saved {pretrain(config)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
