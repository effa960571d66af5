"""Refine the active outfit adapter on recorded likes and dislikes (DPO or KTO), as a new adapter version.

    python -m stylist refine --all                 # everyone's pairs, DPO
    python -m stylist refine --all --method kto    # every like and dislike alone, KTO
    python -m stylist refine --user alice --json   # one user's pairs, result as JSON

DPO learns from pairs (a like over a dislike or a passed-over suggestion for the same outfit); KTO from every vote
alone (prompt, completion, desirable or not), so a dislike teaches even when nothing beside it was liked.
The reference model is the adapter training starts from: the model is loaded as a trainable
`PeftModel` and no `ref_model` is given, so trl's `DPOTrainer` (and `KTOTrainer`) copies the starting adapter
into a frozen "ref" adapter (trl/trainer/dpo_trainer.py, "Re-training an existing adapter"); the bare base
model is never the reference. Anchor pairs keep the adapter's general outfit sense while it learns one
person's taste: for every user pair, `anchors` pairs from the Polyvore training outfits (the real missing
item chosen over an item of another outfit, of the same category half of the time), the method's own
"negative examples". Whole contexts (outfit prompts) are held out to measure preference
accuracy before and after. The new version is written to a temporary folder and renamed when
complete, then activated; a crash, kill or stop leaves the feedback and the active adapter as they were.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

from stylist.core.adapters import AdapterRegistry
from stylist.core.errors import StylistError
from stylist.core.feedback import Pair, Vote, open_store, readiness, split_pairs
from stylist.core.options import config_from, config_parser, summary
from stylist.core.paths import data_dir, shared_data
from stylist.core.prompts import trl_row
from stylist.core.refine_options import RefineConfig, training_examples
from stylist.core.refine_protocol import LOCK_BUSY, SERVER_LOCK, RefineResult, RefineStatus, refine_lock
from stylist.data.corpus import negative_pairs
from stylist.models.likelihood import completion_logprobs
from stylist.models.lm import BASE_LM, with_initial_adapter
from stylist.models.outfit import load_outfit_model, scoring_path
from stylist.models.spec import LMSpec
from stylist.train.callbacks import BarCallback, HookCallback, Progress, StatusCallback
from stylist.train.hardware import device_args, main_process
from stylist.train.lora import load_trainable


def preference_logps(model, tokenizer, pairs: Sequence[Pair]) -> tuple[list[float], list[float]]:
    """Summed log p(completion + eos | prompt) of each pair's chosen and rejected side, as trl tokenises them."""
    prompts = [p.prompt for p in pairs]
    model.eval()
    return (completion_logprobs(model, tokenizer, prompts, [p.chosen for p in pairs])[0].tolist(),
            completion_logprobs(model, tokenizer, prompts, [p.rejected for p in pairs])[0].tolist())


def _accuracy(chosen: Sequence[float], rejected: Sequence[float]) -> float | None:
    return sum(c > r for c, r in zip(chosen, rejected)) / len(chosen) if chosen else None


def heldout_fitb(model, tokenizer, questions: int, spec: LMSpec | None = None) -> float | None:
    """FITB of the recommender's scorer with the model's active adapter (every term, the unconditional ones
    included), on the first questions of the held-out Polyvore test part (None when the shared data is absent
    or `questions` is 0); scored with the weights and prompt format of `spec`'s checkpoint (the embedded one's
    when None)."""
    if questions <= 0 or not (shared_data() / "polyvore" / "outfits.json").exists():
        return None
    from stylist.evaluation import outfits

    scoring = scoring_path(spec) if spec is not None else None
    return outfits.heldout_fitb(load_outfit_model(model=model, tokenizer=tokenizer, scoring=scoring), n=questions)


def measure(model, tokenizer, heldout: Sequence[Pair], config: RefineConfig,
            reference: tuple[list[float], list[float]] | None = None,
            spec: LMSpec | None = None) -> tuple[dict, tuple[list[float], list[float]]]:
    """Held-out FITB, preference accuracy (log p(chosen) > log p(rejected)) and, given the starting
    adapter's log-probs, DPO reward accuracy (chosen's log-ratio to the reference > rejected's)."""
    chosen, rejected = preference_logps(model, tokenizer, heldout)
    metrics = {"fitb": heldout_fitb(model, tokenizer, config.fitb_questions, spec),
               "preference_accuracy": _accuracy(chosen, rejected)}
    if reference is not None:
        metrics["reward_accuracy"] = _accuracy([c - rc for c, rc in zip(chosen, reference[0])],
                                               [r - rr for r, rr in zip(rejected, reference[1])])
    return metrics, (chosen, rejected)


def _trainer_args(model, output_dir: Path, rows: int, *, learning_rate: float, batch_size: int, epochs: float,
                  steps: int | None, max_length: int, seed: int) -> dict:
    """The settings DPO and KTO share: quiet, no checkpoints, a constant LoRA-sized rate, on the device the model
    was loaded on (`hardware.device_args`, which also undoes trl's bf16 and checkpointing defaults on a CPU)."""
    return dict(output_dir=str(output_dir), report_to="none", save_strategy="no", logging_steps=1, disable_tqdm=True,
                **device_args(model), learning_rate=learning_rate, per_device_train_batch_size=batch_size,
                max_steps=steps or max(1, round(epochs * -(-rows // batch_size))), lr_scheduler_type="constant",
                max_length=max_length, seed=seed, dataloader_num_workers=0,
                ddp_find_unused_parameters=False)  # every LoRA weight gets a gradient: no pass to look for unused ones


def _quiet(trainer):
    """The trainer without its own printing and bars: the caller reports progress."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    for noisy in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(noisy)
    return trainer


def dpo_trainer(model, tokenizer, rows: list[dict[str, str]], output_dir: Path, *, beta: float, learning_rate: float,
                batch_size: int, epochs: float, steps: int | None, max_length: int, seed: int, sft_weight: float = 0.0,
                callbacks=()):
    """trl's DPOTrainer set up for a PEFT model (the pitfalls of trl 1.x's defaults avoided), with no ref_model,
    so the starting adapter is the reference.
    `sft_weight` > 0 adds trl's NLL loss on the chosen side, which keeps the likelihoods it scores by in place.
    `rows` hold plain prompts; a chat LM gets them as chat messages (`prompts.trl_row`)."""
    import datasets
    from trl import DPOConfig, DPOTrainer

    datasets.disable_progress_bars()
    args = DPOConfig(**_trainer_args(model, output_dir, len(rows), learning_rate=learning_rate, batch_size=batch_size,
                                     epochs=epochs, steps=steps, max_length=max_length, seed=seed),
                     beta=beta, loss_type=["sigmoid", "sft"] if sft_weight > 0 else ["sigmoid"],
                     loss_weights=[1.0, sft_weight] if sft_weight > 0 else None)
    return _quiet(DPOTrainer(model=model, args=args, processing_class=tokenizer,
                             train_dataset=datasets.Dataset.from_list(
                                 [trl_row(tokenizer, r["prompt"], chosen=r["chosen"], rejected=r["rejected"])
                                  for r in rows]),
                             callbacks=list(callbacks)))


def kto_trainer(model, tokenizer, rows: list[dict], output_dir: Path, *, beta: float, learning_rate: float,
                batch_size: int, epochs: float, steps: int | None, max_length: int, seed: int, callbacks=()):
    """trl's KTOTrainer for unpaired votes (prompt, completion, label), set up like `dpo_trainer`. Its KL term
    comes from mismatched completions within a batch, so a batch holds at least 2 rows and the rows are shuffled
    here (trl reads them in order); the rarer label is weighted up so likes and dislikes weigh alike."""
    import datasets
    from trl import KTOConfig, KTOTrainer

    datasets.disable_progress_bars()
    rows = random.Random(seed).sample(rows, len(rows))
    liked = sum(bool(r["label"]) for r in rows)
    disliked = len(rows) - liked
    batch_size = max(2, batch_size)
    args = KTOConfig(**_trainer_args(model, output_dir, len(rows), learning_rate=learning_rate, batch_size=batch_size,
                                     epochs=epochs, steps=steps, max_length=max_length, seed=seed),
                     beta=beta, desirable_weight=max(1.0, disliked / max(liked, 1)),
                     undesirable_weight=max(1.0, liked / max(disliked, 1)))
    return _quiet(KTOTrainer(model=model, args=args, processing_class=tokenizer,
                             train_dataset=datasets.Dataset.from_list(
                                 [{**trl_row(tokenizer, r["prompt"], completion=r["completion"]), "label": r["label"]}
                                  for r in rows]),
                             callbacks=list(callbacks)))


def kto_rows(votes: Sequence[Vote], anchors: list[dict[str, str]]) -> list[dict]:
    """KTO rows: the user votes, and each anchor pair as a desirable and an undesirable completion."""
    return [v.trl() for v in votes] + [row for a in anchors for row in (
        {"prompt": a["prompt"], "completion": a["chosen"], "label": True},
        {"prompt": a["prompt"], "completion": a["rejected"], "label": False})]


def refine(data: str | Path | None = None, user: str | None = None, config: RefineConfig | None = None,
           llm: LMSpec | str | Path | None = None, sft_adapter: str | Path | None = None,
           progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
           callbacks: Sequence = ()) -> RefineResult:
    """Train a new adapter version on the pairs (DPO) or votes (KTO) of `user` (everyone when None) and activate it; one refine
    at a time. `llm`: the outfit LM's spec (or its id/folder) whose adapter is version 0; `sft_adapter` replaces
    that adapter (see `with_initial_adapter` for an LLM without one). `progress` and `should_stop` watch the run
    from Python; `callbacks`: more trainer callbacks."""
    with refine_lock(data):
        return _refine(data, user, config, llm, sft_adapter, HookCallback(progress, should_stop), callbacks)


def _refine(data: str | Path | None, user: str | None, config: RefineConfig | None, llm, sft_adapter,
            watch: HookCallback, callbacks: Sequence) -> RefineResult:
    """`refine()` for a caller that holds the refine lock."""
    config = config or RefineConfig()
    spec = LMSpec.of(llm, sft_adapter).check()
    data = data_dir(data)
    store = open_store(data=data)  # the app's, named by $STYLIST_DB when it is on a server
    examples = training_examples(store, config.method, user)  # a snapshot: clicks made meanwhile wait for the next run
    ready = readiness(examples, config.min_pairs, config.heldout_percent)
    if ready.needed:
        who = f"user {user!r}" if user else "the feedback"
        unit = ("a vote is a like or a dislike" if config.method == "kto" else
                "a pair is a liked and a disliked or passed-over suggestion for the same outfit")
        raise StylistError(f"not enough to refine on: {who} has {ready.describe()} ({unit})")
    spec = with_initial_adapter(spec, data / "adapters")
    registry = AdapterRegistry(data / "adapters", spec.adapter, store)
    if main_process():  # under accelerate launch, rank 0 alone cleans, writes and activates
        registry.clean()
    train, _ = split_pairs(examples, config.heldout_percent)
    # held-out outfits are measured by their pairs whatever the method (the same contexts are held out for both)
    _, heldout = split_pairs(store.pairs(user) if config.method == "kto" else examples, config.heldout_percent)
    return _train(registry, train, heldout, user, config, spec, watch, callbacks)


def _train(registry: AdapterRegistry, train: list[Pair] | list[Vote], heldout: list[Pair], user: str | None,
           config: RefineConfig, spec: LMSpec, watch: HookCallback, callbacks: Sequence) -> RefineResult:
    import torch

    started = time.time()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    parent = registry.active()
    model, tokenizer = load_trainable(spec, parent.path)
    before, reference = measure(model, tokenizer, heldout, config, spec=spec)

    scratch = registry.new_tmp()  # the trainer's output folder; it saves nothing there (save_strategy="no")
    losses = watch.losses
    anchors = negative_pairs(round(config.anchors * len(train)), config.seed)
    settings = dict(beta=config.beta, learning_rate=config.learning_rate, batch_size=config.batch_size,
                    epochs=config.epochs, steps=config.steps, max_length=config.max_length, seed=config.seed,
                    callbacks=[watch, *callbacks])
    if config.method == "kto":
        trainer = kto_trainer(model, tokenizer, kto_rows(train, anchors), scratch, **settings)
    else:
        trainer = dpo_trainer(model, tokenizer, [p.trl() for p in train] + anchors, scratch,
                              sft_weight=config.sft_weight, **settings)
    t0 = time.time()
    trainer.train()
    train_seconds = time.time() - t0
    shutil.rmtree(scratch, ignore_errors=True)
    stopped = trainer.state.global_step < trainer.state.max_steps
    result = RefineResult(None, parent.number, len(train), len(heldout), trainer.state.global_step, 0.0,
                          train_seconds, len(anchors), losses, before, stopped=stopped)
    if not stopped and main_process():
        model.set_adapter("default")
        result.after, _ = measure(model, tokenizer, heldout, config, reference, spec)
        tmp = registry.new_tmp()
        model.save_pretrained(str(tmp), selected_adapters=["default"])
        result.seconds = time.time() - started
        meta = {"parent": parent.number, "pairs": len(train), "anchor_pairs": len(anchors), "user": user,
                "llm": spec.llm or str(BASE_LM),
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


def _worker_options(parser: argparse.ArgumentParser) -> None:
    """The options of a run that are not training settings: whose pairs, which data and LLM, how to report."""
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--user", default=None, help="refine on this user's pairs only")
    who.add_argument("--all", action="store_true", help="refine on every user's pairs (the default)")
    parser.add_argument("--data-dir", default=None, help="data folder (default: $STYLIST_DATA_DIR or ./data)")
    LMSpec.add_arguments(parser, adapter_help="adapter version 0, trained for that LLM (default: the embedded SFT "
                                              "adapter for the embedded LLM, a fresh LoRA for another)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--status-file", default=None, help="keep the live state in this JSON file (for the app)")
    parser.add_argument("--stop-file", default=None, help="stop cleanly after the current step once this file exists")
    parser.add_argument("--lock-fd", type=int, default=None,
                        help="the refine lock, already taken and handed down by the app that starts this worker")


def parser() -> argparse.ArgumentParser:
    """`python -m stylist refine`'s options: the run's own, then every `RefineConfig` setting."""
    return config_parser(RefineConfig, "python -m stylist refine", summary(__doc__), more=_worker_options)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    config = config_from(RefineConfig, args)
    spec = LMSpec.from_args(args).check()  # a setting this machine cannot run is refused before the store is opened
    # the status file is shared: a worker that finds the lock taken raises here, before writing anything to it;
    # the lock is released right after the final state is written, so a reader never sees a live state unlocked;
    # on a shared store the database's lock makes it one run across replicas, whatever folder each one has
    writer = main_process()  # the other ranks of an `accelerate launch` train alongside it, and only train
    with (refine_lock(args.data_dir, args.lock_fd) if writer else nullcontext(),
          open_store(data=args.data_dir).exclusive(SERVER_LOCK, LOCK_BUSY) if writer else nullcontext()):
        status = StatusCallback(args.status_file if writer else None,
                                RefineStatus("running", args.user, time.time(), pid=os.getpid()), args.stop_file)
        status.update()
        try:
            result = _refine(args.data_dir, args.user, config, spec, None, HookCallback(),
                             [status, BarCallback(disable=args.json or not writer)])
        except BaseException as exc:  # the app shows why; the CLI dispatcher still prints the one-line error
            status.update(state="failed", error=str(exc) or type(exc).__name__)
            raise
        status.update(state="stopped" if result.stopped else "done", result=result)
    if writer:
        print(json.dumps(asdict(result)) if args.json else _report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
