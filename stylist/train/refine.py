"""DPO-refine the active outfit adapter on recorded likes and dislikes, as a new adapter version.

    python -m stylist refine --all                 # everyone's pairs
    python -m stylist refine --user alice --json   # one user's pairs, result as JSON

The reference model is the adapter training starts from: the model is loaded as a trainable
`PeftModel` and no `ref_model` is given, so trl's `DPOTrainer` copies the starting adapter into a
frozen "ref" adapter (trl/trainer/dpo_trainer.py, "Re-training an existing adapter"); the bare base
model is never the reference. Anchor pairs keep the adapter's general outfit sense while it learns one
person's taste: for every user pair, `anchors` pairs from the Polyvore training outfits (the real missing
item chosen over an item of another outfit, of the same category half of the time), the method's own
"negative examples". Whole contexts (outfit prompts) are held out to measure preference
accuracy before and after. The new version is written to a temporary folder and renamed when
complete, then activated; a crash, kill or stop leaves the feedback and the active adapter as they were.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from stylist.app.runner import refine_lock, write_status
from stylist.core.adapters import AdapterRegistry
from stylist.core.errors import StylistError
from stylist.core.feedback import DB_NAME, FeedbackStore, Pair
from stylist.core.paths import data_dir, shared_data
from stylist.data.corpus import negative_pairs
from stylist.models.outfit import BASE_LM, PMIScorer, completion_logprobs, load_lm, load_scoring_config

Progress = Callable[[int, int, float | None], None]  # (step, total steps, latest loss)


@dataclass
class RefineConfig:
    # beta, learning_rate, epochs, anchors and sft_weight: chosen with bench/simulated_user.py --split valid
    # (docs/results.md)
    beta: float = 0.5
    learning_rate: float = 1e-3  # a LoRA-sized rate; trl's default 1e-6 is for full fine-tuning
    epochs: float = 2.0
    batch_size: int = 8
    steps: int | None = None  # overrides epochs (the app's tests use a handful)
    min_pairs: int = 8
    anchors: float = 1.0  # Polyvore anchor pairs per user pair; 0 trains on the user's pairs alone
    sft_weight: float = 0.5  # weight of trl's "sft" loss (NLL of the chosen side) added to the DPO loss
    heldout_percent: int = 20  # of contexts, for preference accuracy; 0 trains on everything
    max_length: int = 256
    fitb_questions: int = 100  # the first questions of held-out Polyvore FITB; 0 skips FITB
    seed: int = 0
    threads: int = 1


@dataclass
class RefineResult:
    version: int | None  # None when stopped
    parent: int
    train_pairs: int
    heldout_pairs: int
    steps: int
    seconds: float
    train_seconds: float
    anchor_pairs: int = 0
    losses: list[float] = field(default_factory=list)
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    stopped: bool = False


def split_pairs(pairs: Sequence[Pair], heldout_percent: int) -> tuple[list[Pair], list[Pair]]:
    """(train, held-out) by a hash of the context, so a held-out outfit prompt is never trained on."""
    heldout = {p.context_key for p in pairs
               if int(hashlib.sha1(p.context_key.encode()).hexdigest(), 16) % 100 < heldout_percent}
    return [p for p in pairs if p.context_key not in heldout], [p for p in pairs if p.context_key in heldout]


def preference_logps(model, tokenizer, pairs: Sequence[Pair]) -> tuple[list[float], list[float]]:
    """Summed log p(completion + eos | prompt) of each pair's chosen and rejected side, as trl tokenises them."""
    prompts = [p.prompt for p in pairs]
    model.eval()
    return (completion_logprobs(model, tokenizer, prompts, [p.chosen for p in pairs])[0].tolist(),
            completion_logprobs(model, tokenizer, prompts, [p.rejected for p in pairs])[0].tolist())


def _accuracy(chosen: Sequence[float], rejected: Sequence[float]) -> float | None:
    return sum(c > r for c, r in zip(chosen, rejected)) / len(chosen) if chosen else None


def heldout_fitb(model, tokenizer, questions: int) -> float | None:
    """FITB of the recommender's scorer with this adapter, on the first questions of the held-out
    Polyvore test part (None when the shared data is absent or `questions` is 0)."""
    if questions <= 0 or not (shared_data() / "polyvore" / "outfits.json").exists():
        return None
    from stylist.evaluation import outfits
    from stylist.models.counts import DEFAULT_COUNTS, CountModel

    config = load_scoring_config()
    counts = CountModel.load(DEFAULT_COUNTS) if DEFAULT_COUNTS.exists() else None
    if counts is None:
        config.counts = 0.0
    return outfits.heldout_fitb(PMIScorer(model, tokenizer, config, counts), n=questions)


def measure(model, tokenizer, heldout: Sequence[Pair], config: RefineConfig,
            reference: tuple[list[float], list[float]] | None = None) -> tuple[dict, tuple[list[float], list[float]]]:
    """Held-out FITB, preference accuracy (log p(chosen) > log p(rejected)) and, given the starting
    adapter's log-probs, DPO reward accuracy (chosen's log-ratio to the reference > rejected's)."""
    chosen, rejected = preference_logps(model, tokenizer, heldout)
    metrics = {"fitb": heldout_fitb(model, tokenizer, config.fitb_questions),
               "preference_accuracy": _accuracy(chosen, rejected)}
    if reference is not None:
        metrics["reward_accuracy"] = _accuracy([c - rc for c, rc in zip(chosen, reference[0])],
                                               [r - rr for r, rr in zip(rejected, reference[1])])
    return metrics, (chosen, rejected)


def progress_callback(progress: Progress | None, should_stop: Callable[[], bool] | None, losses: list[float]):
    from transformers import TrainerCallback

    class Watch(TrainerCallback):
        """Reports each step and asks the trainer to stop between steps when told to."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:  # logged after every step (logging_steps=1)
                losses.append(float(logs["loss"]))
                if progress is not None:
                    progress(state.global_step, state.max_steps, losses[-1])

        def on_step_end(self, args, state, control, **kwargs):
            if should_stop is not None and should_stop():
                control.should_training_stop = True

    return Watch()


def dpo_trainer(model, tokenizer, rows: list[dict[str, str]], output_dir: Path, *, beta: float, learning_rate: float,
                batch_size: int, epochs: float, steps: int | None, max_length: int, seed: int, sft_weight: float = 0.0,
                callbacks=()):
    """trl's DPOTrainer set up for a PEFT model on the CPU (the pitfalls of trl 1.x's defaults avoided),
    with no ref_model, so the starting adapter is the reference; quiet, the caller reports progress.
    `sft_weight` > 0 adds trl's NLL loss on the chosen side, which keeps the likelihoods it scores by in place."""
    import datasets
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from trl import DPOConfig, DPOTrainer

    datasets.disable_progress_bars()
    args = DPOConfig(
        output_dir=str(output_dir), report_to="none", save_strategy="no", logging_steps=1,
        use_cpu=True, bf16=False, fp16=False, activation_checkpointing=False, disable_tqdm=True,
        learning_rate=learning_rate, beta=beta, per_device_train_batch_size=batch_size,
        max_steps=steps or max(1, round(epochs * -(-len(rows) // batch_size))),
        lr_scheduler_type="constant", max_length=max_length, seed=seed, dataloader_num_workers=0,
        loss_type=["sigmoid", "sft"] if sft_weight > 0 else ["sigmoid"],
        loss_weights=[1.0, sft_weight] if sft_weight > 0 else None)
    trainer = DPOTrainer(model=model, args=args, processing_class=tokenizer,
                         train_dataset=datasets.Dataset.from_list(rows), callbacks=list(callbacks))
    for quiet in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(quiet)
    return trainer


def refine(data: str | Path | None = None, user: str | None = None, config: RefineConfig | None = None,
           llm: str | Path | None = None, sft_adapter: str | Path | None = None, progress: Progress | None = None,
           should_stop: Callable[[], bool] | None = None) -> RefineResult:
    """Train a new adapter version on the pairs of `user` (everyone when None) and activate it."""
    config = config or RefineConfig()
    data = data_dir(data)
    with refine_lock(data):
        registry = AdapterRegistry(data / "adapters", sft_adapter)
        registry.clean()
        pairs = FeedbackStore(data / DB_NAME).pairs(user)  # a snapshot: clicks made meanwhile wait for the next run
        train, heldout = split_pairs(pairs, config.heldout_percent)
        if len(train) < config.min_pairs:
            who = f"user {user!r}" if user else "all users"
            raise StylistError(f"need {config.min_pairs - len(train)} more preference pairs to refine ({who} has "
                               f"{len(train)} for training; a pair is a liked and a disliked or passed-over "
                               "suggestion for the same outfit)")
        return _train(registry, train, heldout, user, config, llm, progress, should_stop)


def _train(registry: AdapterRegistry, train: list[Pair], heldout: list[Pair], user: str | None,
           config: RefineConfig, llm, progress, should_stop) -> RefineResult:
    import torch
    from peft import PeftModel

    started = time.time()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    parent = registry.active()
    llm = str(llm or BASE_LM)
    base, tokenizer = load_lm(llm, adapter="none")
    model = PeftModel.from_pretrained(base, str(parent.path), is_trainable=True)
    before, reference = measure(model, tokenizer, heldout, config)

    scratch = registry.new_tmp()  # the trainer's output folder; it saves nothing there (save_strategy="no")
    losses: list[float] = []
    anchors = negative_pairs(round(config.anchors * len(train)), config.seed)
    rows = [p.trl() for p in train] + anchors
    trainer = dpo_trainer(model, tokenizer, rows, scratch, beta=config.beta, learning_rate=config.learning_rate,
                          batch_size=config.batch_size, epochs=config.epochs, steps=config.steps,
                          max_length=config.max_length, seed=config.seed, sft_weight=config.sft_weight,
                          callbacks=[progress_callback(progress, should_stop, losses)])
    t0 = time.time()
    trainer.train()
    train_seconds = time.time() - t0
    shutil.rmtree(scratch, ignore_errors=True)
    stopped = trainer.state.global_step < trainer.state.max_steps
    result = RefineResult(None, parent.number, len(train), len(heldout), trainer.state.global_step, 0.0,
                          train_seconds, len(anchors), losses, before, stopped=stopped)
    if not stopped:
        model.set_adapter("default")
        result.after, _ = measure(model, tokenizer, heldout, config, reference)
        tmp = registry.new_tmp()
        model.save_pretrained(str(tmp), selected_adapters=["default"])
        result.seconds = time.time() - started
        meta = {"parent": parent.number, "pairs": len(train), "anchor_pairs": len(anchors), "user": user, "llm": llm,
                "metrics": {"before": before, "after": result.after}, "config": asdict(config),
                "losses": losses, "seconds": result.seconds}
        result.version = registry.commit(tmp, meta).number
        registry.activate(result.version)
    result.seconds = time.time() - started
    return result


def _report(result: RefineResult) -> str:
    if result.stopped:
        return f"stopped after {result.steps} steps; no new version (v{result.parent} stays active)"
    rows = [f"v{result.version} (from v{result.parent}) is now active: {result.train_pairs} pairs "
            f"(+{result.anchor_pairs} Polyvore anchor pairs), "
            f"{result.steps} steps, {result.train_seconds:.0f} s training, {result.seconds:.0f} s in all"]
    for key in ("fitb", "preference_accuracy", "reward_accuracy"):
        b, a = result.before.get(key), result.after.get(key)
        if a is not None or b is not None:
            rows.append(f"  {key:20s} {_fmt(b)} -> {_fmt(a)}  ({result.heldout_pairs} held-out pairs)"
                        if key != "fitb" else f"  {key:20s} {_fmt(b)} -> {_fmt(a)}")
    return "\n".join(rows)


def _fmt(x: float | None) -> str:
    return "  -  " if x is None else f"{x:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylist refine", description=__doc__.split("\n")[0])
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--user", default=None, help="refine on this user's pairs only")
    who.add_argument("--all", action="store_true", help="refine on every user's pairs (the default)")
    parser.add_argument("--data-dir", default=None, help="data folder (default: $STYLIST_DATA_DIR or ./data)")
    parser.add_argument("--llm", default=None, help=f"base LM folder or HF id (default: {BASE_LM})")
    parser.add_argument("--sft-adapter", default=None, help="adapter version 0 (default: checkpoints/adapters/sft)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--status-file", default=None, help="keep the live state in this JSON file (for the app)")
    parser.add_argument("--stop-file", default=None, help="stop cleanly after the current step once this file exists")
    defaults = RefineConfig()
    for name in ("beta", "learning_rate", "epochs", "batch_size", "steps", "min_pairs", "anchors", "sft_weight",
                 "heldout_percent", "fitb_questions", "seed", "threads"):
        kind = type(getattr(defaults, name)) if getattr(defaults, name) is not None else int
        parser.add_argument("--" + name.replace("_", "-"), type=kind, default=getattr(defaults, name))
    args = parser.parse_args(argv)
    config = RefineConfig(**{k: getattr(args, k) for k in asdict(defaults) if hasattr(args, k)})
    status = {"state": "running", "user": args.user, "started": time.time(), "step": 0, "total": None, "losses": []}

    def save_status(**changes) -> None:
        status.update(changes)
        if args.status_file:
            write_status(args.status_file, status)

    bars = []  # made at the first step, so a refusal prints only its one line

    def progress(step: int, total: int, loss: float | None) -> None:
        if not bars:
            bars.append(tqdm(total=total, desc="refine", unit="step", disable=args.json))
        bars[0].update(step - bars[0].n)
        if loss is not None:
            bars[0].set_postfix(loss=f"{loss:.4f}")
            status["losses"].append(loss)
        save_status(step=step, total=total, state="running" if step < total else "saving")

    save_status(pid=os.getpid())
    try:
        result = refine(args.data_dir, args.user, config, args.llm, args.sft_adapter, progress,
                        (lambda: Path(args.stop_file).exists()) if args.stop_file else None)
    except BaseException as exc:  # the app shows why; the CLI dispatcher still prints the one-line error
        save_status(state="failed", error=str(exc) or type(exc).__name__)
        raise
    finally:
        for bar in bars:
            bar.close()
    save_status(state="stopped" if result.stopped else "done", result=asdict(result), version=result.version)
    print(json.dumps(asdict(result)) if args.json else _report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
