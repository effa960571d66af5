"""Train the outfit LM (base, LoRA SFT), plus the counting model and the scorer's weights.

    python -m stylist train-lm --step base     # tokenizer + small Llama pre-trained on real outfits and titles
    python -m stylist train-lm --step sft      # LoRA SFT on outfits: present captions -> missing slot and caption
    python -m stylist train-lm --step counts   # co-occurrence counts (counts.npz)
    python -m stylist train-lm --step tune     # scoring weights on the validation part (scoring.json)
    python -m stylist train-lm                 # base, sft, counts, tune, in that order
    python -m stylist train-lm --overwrite     # the same, into the committed checkpoints/

The format (`--format`, `prompts.FORMATS`) is the slot format by default: a prompt that does not name the missing
slot ends at "missing" and the completion starts with the slot (" shoes: black boots"), so the LM learns which
kind of piece an outfit lacks; every prompt of a tagged outfit carries its occasion and season. Its base reads
real outfits in that format (Maryland's training part twice an epoch, the demo's outfits and `--more-demo`
rule-made ones) mixed with single titles and garment nouns. The caption format is how the first embedded LM was
made (`--format caption --vocab-size 2500 --layers 3 --base-epochs 8 --sft-epochs 8`: a base that read single
garment texts only, prompts that name the slot half the time). `tune` writes the format into scoring.json, which
is how the app knows how to ask the LM.

Any HF causal LM can be the base (`--base-dir`, a folder or hub id); SFT goes through trl's SFTTrainer on
whatever device the model is on. Nothing committed is written unless `--overwrite` (or an option naming a
committed folder) says so: see `resolve_paths`.

Polyvore outfits: the 'train' part of `splits` (70%) plus the demo outfits train; 'valid' (10%) picks
the counts config and the scoring weights; 'test' (20%) is never read here. DPO on Polyvore negatives,
tried and not adopted, is in `stylist.experimental.lm_dpo`.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tokenizers.processors import TemplateProcessing
from tqdm import tqdm
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from stylist.core.errors import StylistError
from stylist.core.options import option, parse_config, summary
from stylist.core.paths import CHECKPOINTS, REPO, RUNS
from stylist.core.prompts import FORMATS, training_pair, trl_row
from stylist.core.vocabulary import GARMENT_TYPES
from stylist.data.corpus import TrainingOutfit, garment_texts, more_demo_outfits, train_lm_tokenizer, training_outfits
from stylist.models.counts import DEFAULT_COUNTS, CountConfig, CountModel
from stylist.models.lm import BASE_LM, SFT_ADAPTER, lora_config
from stylist.models.outfit import SCORER_DIR, ScoringConfig, load_outfit_model, load_scoring_config, save_scoring_config
from stylist.models.spec import DEVICES, DTYPES, LMSpec
from stylist.train.callbacks import BarCallback, quiet
from stylist.train.hardware import device_args
from stylist.train.lora import load_trainable

STEPS = ("base", "sft", "counts", "tune")
SCRATCH = RUNS / "train-lm"  # where a run writes the folders it is not told to put elsewhere


@dataclass
class LMTrainConfig:
    step: str = option("all", "the step to run; all: base, sft, counts and tune in that order", choices=("all", *STEPS))
    format: str = option("slot", "slot: an open prompt's answer starts with the missing slot; caption: the first "
                                 "embedded LM's (base on single garment texts)", choices=FORMATS)
    base_dir: str = option("", "the base LM (folder or hub id): written by base, read by sft and tune "
                               "(default: runs/train-lm/base-lm when written, else checkpoints/base-lm)")
    adapter_dir: str = option("", "the SFT adapter: written by sft, read by tune ('none': the bare base LM)")
    scorer_dir: str = option("", "counts.npz, scoring.json and their reports: written by counts and tune")
    overwrite: bool = option(False, "the folders not named default to the committed checkpoints/, not runs/train-lm/")
    device: str = option("auto", "where sft and tune load the base LM (see stylist.models.spec)", choices=DEVICES)
    dtype: str = option("auto", "the base LM's dtype in sft and tune", choices=DTYPES)
    load_in_4bit: bool = option(False, "QLoRA: the base LM in 4 bits (CUDA, bitsandbytes)")
    vocab_size: int = option(4000, "BPE vocabulary of the base LM's tokenizer")
    hidden: int = option(128, "hidden size of the base LM")
    layers: int = option(4, "transformer layers of the base LM")
    heads: int = option(4, "attention heads of the base LM")
    intermediate: int = option(384, "MLP width of the base LM")
    base_epochs: int = option(4, "pre-training passes over the outfits (slot) or the garment texts (caption)")
    base_lr: float = option(3e-3, "peak AdamW learning rate of pre-training")
    more_demo: int = option(1500, "rule-made demo outfits beyond the catalog's own in pre-training (slot)")
    maryland_repeats: int = option(2, "times each Maryland training outfit is read a pre-training epoch (slot)")
    subset_share: float = option(0.25, "pre-training outfits shown with only some of their items (slot)")
    titles_per_outfit: float = option(1.0, "single-title sequences per outfit sequence a pre-training epoch (slot)")
    sft_epochs: int = option(2, "SFT passes over the training outfits, each with new prompts")
    sft_lr: float = option(2e-3, "peak learning rate of the LoRA SFT")
    sft_steps: int = option(0, "> 0: stop SFT after this many optimizer steps (a quick check of a new LLM)")
    lora_r: int = option(16, "LoRA rank")
    lora_alpha: int = option(32, "LoRA alpha (the update is scaled by alpha / r)")
    batch_size: int = option(32, "sequences per step, in pre-training and SFT")
    seed: int = option(0, "seed of the initialisation, the prompts and the batches")


def resolve_paths(config: LMTrainConfig) -> LMTrainConfig:
    """The config with every folder named. A folder a step of this run writes defaults to `runs/train-lm/`
    (the scorer's: the adapter's own folder), or with `--overwrite` to the committed checkpoint; a folder only
    read defaults to the committed one, and a later step reads what an earlier one wrote."""
    steps = STEPS if config.step == "all" else (config.step,)
    if config.step != "all" and config.step not in STEPS:
        raise StylistError(f"unknown step {config.step!r}: one of all, {', '.join(STEPS)}")
    if config.overwrite and config.base_dir and Path(config.base_dir).resolve() != BASE_LM:
        raise StylistError("--overwrite writes the embedded LM's checkpoints; for another --base-dir name "
                           "--adapter-dir and --scorer-dir instead")

    def default(named: str, committed: Path, scratch: Path, written: bool) -> str:
        return named or str(scratch if written and not config.overwrite else committed)

    base = default(config.base_dir, BASE_LM, SCRATCH / "base-lm", "base" in steps)
    if config.adapter_dir or "sft" in steps or Path(base).resolve() == BASE_LM:
        adapter = default(config.adapter_dir, SFT_ADAPTER, SCRATCH / "sft", "sft" in steps)
    else:
        adapter = "none"  # tune on another LLM without its adapter: the bare LLM's weights
    committed = adapter == "none" or CHECKPOINTS in Path(adapter).resolve().parents
    beside = SCRATCH / "scorer" if committed else Path(adapter)
    scorer = default(config.scorer_dir, SCORER_DIR, beside, bool({"counts", "tune"} & set(steps)))
    return replace(config, base_dir=base, adapter_dir=adapter, scorer_dir=scorer)


def make_tokenizer(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """The BPE tokenizer as a transformers fast tokenizer that prepends <s> and knows pad/eos."""
    raw = train_lm_tokenizer(texts, vocab_size)
    raw.post_processor = TemplateProcessing(single="<s> $A", special_tokens=[("<s>", raw.token_to_id("<s>"))])
    return PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>", model_max_length=256)


def batches(sequences: list[tuple[list[int], int]], batch_size: int, pad_id: int, rng: random.Random):
    """Shuffled (input_ids, attention_mask, labels) batches; labels mask everything before `start`."""
    order = list(range(len(sequences)))
    rng.shuffle(order)
    for begin in range(0, len(order), batch_size):
        chunk = [sequences[i] for i in order[begin:begin + batch_size]]
        width = max(len(ids) for ids, _ in chunk)
        ids = torch.full((len(chunk), width), pad_id)
        labels = torch.full((len(chunk), width), -100)
        for row, (seq, start) in enumerate(chunk):
            ids[row, :len(seq)] = torch.tensor(seq)
            labels[row, start:len(seq)] = torch.tensor(seq[start:])
        yield ids, ids != pad_id, labels


def train_loop(model, sequences, config: LMTrainConfig, epochs: int, lr: float, pad_id: int, desc: str,
               valid: list[tuple[list[int], int]] | None = None) -> list[dict]:
    """AdamW with linear warm-up and cosine decay; returns one log row per epoch."""
    rng = random.Random(config.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    total = epochs * math.ceil(len(sequences(0)) / config.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / 50) * 0.5 * (1 + math.cos(math.pi * min(s / total, 1.0))))
    log = []
    for epoch in range(epochs):
        model.train()
        losses = []
        data = sequences(epoch)
        bar = tqdm(batches(data, config.batch_size, pad_id, rng), total=math.ceil(len(data) / config.batch_size),
                   desc=f"{desc} epoch {epoch + 1}/{epochs}")
        for ids, mask, labels in bar:
            loss = model(input_ids=ids, attention_mask=mask.long(), labels=labels).loss
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
        row = {"epoch": epoch + 1, "train_loss": float(np.mean(losses))}
        if valid:
            row["valid_loss"] = evaluate_loss(model, valid, config.batch_size, pad_id)
        print(json.dumps(row), flush=True)
        log.append(row)
    return log


@torch.no_grad()
def evaluate_loss(model, sequences, batch_size: int, pad_id: int) -> float:
    model.eval()
    total, count = 0.0, 0
    for ids, mask, labels in batches(sequences, batch_size, pad_id, random.Random(0)):
        n = int((labels[:, 1:] != -100).sum())
        total += model(input_ids=ids, attention_mask=mask.long(), labels=labels).loss.item() * n
        count += n
    return total / max(count, 1)


def new_llama(tokenizer: PreTrainedTokenizerFast, config: LMTrainConfig) -> LlamaForCausalLM:
    """A randomly initialised Llama of the configured size for this tokenizer."""
    return LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=config.hidden, intermediate_size=config.intermediate,
        num_hidden_layers=config.layers, num_attention_heads=config.heads, num_key_value_heads=config.heads,
        max_position_embeddings=256, tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))


def pretrain_base(config: LMTrainConfig) -> None:
    """Step 1, caption format: the 'general-purpose' LM, which has read garment texts one at a time, never outfits."""
    texts = garment_texts()
    tokenizer = make_tokenizer(texts, config.vocab_size)
    model = new_llama(tokenizer, config)
    sequences = [(tokenizer(t)["input_ids"] + [tokenizer.eos_token_id], 1) for t in texts]
    print(f"base LM: {model.num_parameters() / 1e6:.2f}M parameters, {len(sequences)} texts")
    log = train_loop(model, lambda epoch: sequences, config, config.base_epochs, config.base_lr,
                     tokenizer.pad_token_id, "base")
    out = Path(config.base_dir)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "train_log.json").write_text(json.dumps({"config": asdict(config), "log": log}, indent=1))


def outfit_text(outfit: TrainingOutfit, rng: random.Random, subset_share: float, format: str) -> str:
    """One pre-training sequence: the outfit in a random order with a random item missing, as prompt and answer
    in `format`, the slot named half the time (the slot format's answer starts with it otherwise), some of the
    other items only a `subset_share` of the time; the outfit's tags as `sft_examples` shows them."""
    captions = [(c, item.slot) for c, item in zip(outfit.captions, outfit.items) if c]
    rng.shuffle(captions)
    (missing, slot), others = captions[-1], [c for c, _ in captions[:-1]]
    if rng.random() < subset_share:
        others = others[:rng.randint(1, len(others))]
    tag_share = 1.0 if format == "slot" else 0.5
    tags = {key: outfit.tags.get(key) if rng.random() < tag_share else None for key in ("occasion", "season")}
    return "".join(training_pair(others, slot, missing, rng.random() < 0.5, format=format, **tags))


def outfit_corpus(config: LMTrainConfig) -> tuple[list[TrainingOutfit], list[TrainingOutfit], list[str]]:
    """(training outfits, validation outfits, single texts) of the slot format's base: Maryland's training
    part `maryland_repeats` times, the demo's outfits and `more_demo` more rule-made ones; Maryland's valid part
    for the per-epoch loss; every training garment text and the garment-type nouns. The test part is never read."""
    keep = lambda outfits: [o for o in outfits if sum(bool(c) for c in o.captions) >= 2]
    train = keep(training_outfits("train"))
    demo, maryland = [o for o in train if o.tags], [o for o in train if not o.tags]
    more = more_demo_outfits(config.more_demo, seed=config.seed + 1)
    titles = sorted({*(t for t in garment_texts() if t), *GARMENT_TYPES.values()})
    return maryland * config.maryland_repeats + demo + more, keep(training_outfits("valid", with_demo=False)), titles


def encode(tokenizer: PreTrainedTokenizerFast, text: str) -> tuple[list[int], int]:
    """Token ids + eos, with the loss on every token after <s>."""
    return tokenizer(text)["input_ids"][:255] + [tokenizer.eos_token_id], 1


def save_half(model, tokenizer: PreTrainedTokenizerFast, out: Path, report: dict) -> None:
    """The model in float16 (half the bytes; `load_lm` reads it back as float32), its tokenizer, the log."""
    copy.deepcopy(model).to(torch.float16).save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "train_log.json").write_text(json.dumps(report, indent=1))


def pretrain_outfits(config: LMTrainConfig,
                     data: tuple[list[TrainingOutfit], list[TrainingOutfit], list[str]] | None = None) -> Path:
    """Step 1, slot format: the base reads outfits in the format itself (loss on every token) mixed with single
    titles, so it knows which slots an outfit lacks and which pieces go together before SFT narrows it. Saved
    after every epoch, so a usable base exists if training stops early. `data`: `outfit_corpus` unless given."""
    train, valid, titles = data or outfit_corpus(config)
    tokenizer = make_tokenizer(titles + [c for o in train for c in o.captions], config.vocab_size)
    model = new_llama(tokenizer, config)
    rng = random.Random(config.seed)
    write = lambda outfit, stream: encode(tokenizer, outfit_text(outfit, stream, config.subset_share, config.format))
    valid_seqs = [write(o, random.Random(i)) for i, o in enumerate(valid)]
    title_seqs = [encode(tokenizer, t) for t in titles]
    out = Path(config.base_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = {"config": asdict(config), "parameters": model.num_parameters(), "train_outfits": len(train),
              "valid_outfits": len(valid), "titles": len(titles), "epochs_done": 0, "seconds": 0.0}
    print(json.dumps({k: v for k, v in report.items() if k != "config"}), flush=True)
    start = time.time()

    def sequences(epoch: int) -> list[tuple[list[int], int]]:
        """This epoch's data; called as each epoch begins, so it also saves the epoch just finished."""
        if epoch > report["epochs_done"]:
            report.update(epochs_done=epoch, seconds=round(time.time() - start))
            save_half(model, tokenizer, out, report)
        outfits = [write(o, rng) for o in train]
        return outfits + rng.sample(title_seqs, min(len(title_seqs), int(len(train) * config.titles_per_outfit)))

    report["log"] = train_loop(model, sequences, config, config.base_epochs, config.base_lr, tokenizer.pad_token_id,
                               "base", valid=valid_seqs)
    report.update(epochs_done=config.base_epochs, seconds=round(time.time() - start))
    save_half(model, tokenizer, out, report)
    return out


def sft_examples(outfits: list[TrainingOutfit], rng: random.Random, format: str = "slot") -> list[tuple[str, str]]:
    """(prompt, completion) pairs in `format`: every item of every outfit is once the missing one. Half the
    prompts show all the other items, half a random subset (down to none), which the PMI scorer's conditional
    and unconditional terms need; the slot is named half of the time (the slot format's answer starts with it
    otherwise); the outfit's tags always in the slot format, each half of the time in the caption format."""
    tag_share = 1.0 if format == "slot" else 0.5
    examples = []
    for outfit in outfits:
        captions = outfit.captions
        for k, item in enumerate(outfit.items):
            others = captions[:k] + captions[k + 1:]
            rng.shuffle(others)
            if rng.random() < 0.5:
                others = others[:rng.randint(0, len(others))]
            tags = {key: outfit.tags.get(key) if rng.random() < tag_share else None for key in ("occasion", "season")}
            examples.append(training_pair(others, item.slot, captions[k], rng.random() < 0.5, format=format, **tags))
    return examples


def sft_trainer(model, tokenizer, train: list[tuple[str, str]], valid: list[tuple[str, str]],
                config: LMTrainConfig, output_dir: Path, callbacks=()):
    """trl's SFTTrainer putting a fresh LoRA on every linear layer of `model` ("all-linear", so each family's
    projections get one: Llama's q/k/v/o, GPT-2's c_attn, Phi-3's fused qkv_proj), on (prompt, completion)
    pairs as prompt-completion rows (`prompts.trl_row`), so the loss covers the missing item's caption only;
    evaluated on `valid` once per pass over `train` (whose len / sft_epochs is one epoch)."""
    import datasets
    from trl import SFTConfig, SFTTrainer

    datasets.disable_progress_bars()
    rows = lambda pairs: datasets.Dataset.from_list([trl_row(tokenizer, p, completion=c) for p, c in pairs])
    epoch_steps = math.ceil(len(train) / config.sft_epochs / config.batch_size)
    args = SFTConfig(
        output_dir=str(output_dir), report_to="none", save_strategy="no", logging_steps=1, disable_tqdm=True,
        **device_args(model), learning_rate=config.sft_lr, lr_scheduler_type="cosine", warmup_steps=0.03,
        weight_decay=0.01, max_grad_norm=1.0, per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size, num_train_epochs=1, max_steps=config.sft_steps or -1,
        eval_strategy="steps" if valid else "no", eval_steps=epoch_steps, max_length=256, seed=config.seed,
        dataloader_num_workers=0)
    lora = lora_config(config.lora_r, config.lora_alpha)
    trainer = SFTTrainer(model=model, args=args, processing_class=tokenizer, train_dataset=rows(train),
                         eval_dataset=rows(valid) if valid else None, peft_config=lora,
                         callbacks=[BarCallback("sft"), *callbacks])
    return quiet(trainer)


def train_sft(config: LMTrainConfig) -> None:
    """Step 2: a LoRA adapter teaches the base LM which items go together; every epoch draws new prompts
    (`sft_examples` in the config's format), so the epochs are laid end to end as one pass."""
    model, tokenizer = load_trainable(base_spec(config))
    train, valid = training_outfits("train"), training_outfits("valid", with_demo=False)
    rng = random.Random(config.seed)
    examples_of = lambda outfits, stream: sft_examples(outfits, stream, config.format)
    examples = [pair for _ in range(config.sft_epochs) for pair in examples_of(train, rng)]
    out = Path(config.adapter_dir)
    trainer = sft_trainer(model, tokenizer, examples, examples_of(valid, random.Random(1)), config, out)
    trainer.model.print_trainable_parameters()
    before = trainer.evaluate()["eval_loss"]
    trainer.train()
    evaluated = {row["step"]: row["eval_loss"] for row in trainer.state.log_history if "eval_loss" in row}
    after = evaluated.get(trainer.state.global_step) or trainer.evaluate()["eval_loss"]  # once at the last step
    print(f"valid loss {before:.4f} -> {after:.4f}")
    base = Path(config.base_dir)
    if base.exists() and base.resolve().is_relative_to(REPO):  # portable: the committed adapter names its base
        trainer.model.peft_config["default"].base_model_name_or_path = os.path.relpath(config.base_dir, REPO)
    trainer.model.save_pretrained(out)
    tokenizer.save_pretrained(out)  # so trl/peft users find pad and eos beside the adapter
    (out / "train_log.json").write_text(json.dumps({"config": asdict(config), "valid_loss": [before, after],
                                                    "log": trainer.state.log_history, "train_outfits": len(train)},
                                                   indent=1))
    print(f"adapter written to {out}")


def base_spec(config: LMTrainConfig, adapter: str = "none") -> LMSpec:
    """The base LM to load, where and how: the embedded one is loaded as the app loads it (the CPU in float32)."""
    embedded = Path(config.base_dir).resolve() == BASE_LM
    return LMSpec(None if embedded else config.base_dir, adapter, config.device, config.dtype, config.load_in_4bit)


def validation_tasks(seeds: tuple[int, ...] = (0, 1, 2)) -> tuple:
    """The Polyvore validation part as (catalog, {seed: (fitb, hard, compat)}): what counts and weights are
    chosen on. Its ~100 outfits are few, so three draws of blanks and negatives are averaged."""
    from stylist.data.splits import polyvore_catalog, split_outfits
    from stylist.evaluation.outfits import build_compat_pairs, build_fitb_questions

    catalog = polyvore_catalog()
    outfits = split_outfits(catalog.outfits)["valid"]
    return catalog, {seed: (build_fitb_questions(catalog, outfits, seed=seed),
                            build_fitb_questions(catalog, outfits, hard=True, seed=seed),
                            build_compat_pairs(catalog, outfits, seed=seed)) for seed in seeds}


def validation_metrics(scorer, catalog, tasks: dict) -> dict:
    """Mean FITB, hard FITB and compatibility AUC over the seeds of `validation_tasks`."""
    from stylist.evaluation.outfits import compat_auc, fitb_accuracy

    runs = [(fitb_accuracy(scorer, catalog, fitb, seed=seed, progress=False),
             fitb_accuracy(scorer, catalog, hard, seed=seed, progress=False),
             compat_auc(scorer, catalog, compat, progress=False)) for seed, (fitb, hard, compat) in tasks.items()]
    return dict(zip(("fitb", "hard", "compat"), np.mean(runs, 0).round(4).tolist()))


def fit_counts(config: LMTrainConfig) -> CountModel:
    """The counting model of the training part, its smoothing, word and price weights chosen by mean(FITB, hard
    FITB, AUC) on the validation part (rare words and the price band carry much of what tells same-category
    items apart); written to the scorer folder."""
    catalog, tasks = validation_tasks()
    outfits = [o.items for o in training_outfits("train")]
    grid = [CountConfig(min_count=m, alpha=a, word_weight=w, price_weight=p)
            for m, a, w, p in itertools.product((1, 2), (1.0, 3.0, 10.0), (1.0, 2.0), (0.0, 0.5, 1.0))]
    results = []
    for candidate in tqdm(grid, desc="counts"):
        counts = CountModel.fit(outfits, candidate)
        results.append((counts, validation_metrics(load_outfit_model(use_lm=False, counts=counts), catalog, tasks)))
    counts, metrics = max(results, key=lambda r: np.mean(list(r[1].values())))
    path = Path(config.scorer_dir) / DEFAULT_COUNTS.name
    path.parent.mkdir(parents=True, exist_ok=True)
    counts.save(path)
    report = {"best": asdict(counts.config), "valid": metrics, "grid": [{**asdict(c.config), **m} for c, m in results]}
    path.with_name("counts_tuning.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: report[k] for k in ("best", "valid")}))
    return counts


def trained_format(config: LMTrainConfig) -> str:
    """The prompt format the adapter to tune was trained in, as its folder states it: its `scoring.json`, else its
    `train_log.json` (one without a format there predates the slot format); `--format` for a bare LLM or an adapter
    that states nothing."""
    folder = Path(config.adapter_dir)
    if config.adapter_dir == "none" or not folder.is_dir():
        return config.format
    if (folder / "scoring.json").exists():
        return load_scoring_config(path=folder / "scoring.json").format
    log = folder / "train_log.json"
    return json.loads(log.read_text()).get("config", {}).get("format", "caption") if log.exists() else config.format


def tune_scoring(config: LMTrainConfig) -> ScoringConfig:
    """Pick the scoring weights of this base LM and adapter that maximise mean(FITB, hard FITB, AUC) on the
    validation part, with the scorer folder's counts (the committed ones when it has none). With
    `--adapter-dir none` the bare base LM's own weights go to scoring_base.json, for a fair results table."""
    config = replace(config, format=trained_format(config))
    catalog, tasks = validation_tasks()
    scorer_dir = Path(config.scorer_dir)
    counts_path = scorer_dir / DEFAULT_COUNTS.name
    scorer = load_outfit_model(base_spec(config, config.adapter_dir), use_counts=True,
                               scoring=ScoringConfig(format=config.format),
                               counts=CountModel.load(counts_path) if counts_path.exists() else None)

    def measure(scoring: ScoringConfig) -> dict:
        scorer.config = scoring
        return validation_metrics(scorer, catalog, tasks)

    # forward PMI always counts: it is the direction DPO refines (log p(item | outfit)), so without it a
    # refined adapter would hardly change what the recommender ranks first. The slot format adds the slot's
    # weight and reads the caption per token or summed.
    if config.format == "slot":
        grid = [ScoringConfig(1.0, b, c, p, s, "slot") for b, c, p, s in itertools.product(
            (0.0, 0.5, 1.0), (0.0, 0.5, 1.0, 2.0, 4.0, 8.0), (0.0, 1.0), (0.0, 0.5, 1.0, 2.0))]
    else:
        grid = [ScoringConfig(1.0, b, c, p) for b, c, p in itertools.product((0.0, 0.5, 1.0), (0.0, 0.5, 1.0, 2.0),
                                                                             (0.0, 0.5, 1.0))]
    # one pass with every term fills the likelihood cache; the grid then only re-weights
    measure(replace(grid[0], backward=1.0, slot=float(config.format == "slot")))
    results = [(scoring, measure(scoring)) for scoring in tqdm(grid, desc="tune scoring")]
    best, metrics = max(results, key=lambda r: np.mean(list(r[1].values())))
    lm_only = max((r for r in results if r[0].counts == 0), key=lambda r: np.mean(list(r[1].values())))
    name = "_base" if config.adapter_dir == "none" else ""
    save_scoring_config(best, lm_only[0], scorer_dir / f"scoring{name}.json")
    report = {"best": asdict(best), "valid": metrics, "lm_only": asdict(lm_only[0]), "lm_only_valid": lm_only[1],
              "grid": [{**asdict(s), **m} for s, m in results]}
    (scorer_dir / f"tuning{name}.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: report[k] for k in ("best", "valid", "lm_only", "lm_only_valid")}))
    return best


def main(argv: list[str] | None = None) -> int:
    config = resolve_paths(parse_config(LMTrainConfig, argv, "python -m stylist train-lm", summary(__doc__)))
    torch.set_num_threads(1)
    torch.manual_seed(config.seed)
    print(f"base LM {config.base_dir}, adapter {config.adapter_dir}, scorer {config.scorer_dir}", flush=True)
    for step in STEPS if config.step == "all" else [config.step]:
        start = time.time()
        base = pretrain_outfits if config.format == "slot" else pretrain_base
        {"base": base, "sft": train_sft, "counts": fit_counts, "tune": tune_scoring}[step](config)
        print(f"step {step} done in {time.time() - start:.0f} s", flush=True)
    return 0
