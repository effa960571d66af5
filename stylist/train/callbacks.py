"""Trainer callbacks that report an SFT or DPO run while it trains, as LLaMA-Factory's `LogCallback` does
(llamafactory/train/callbacks.py): the trainer calls them at each step, so no training loop of ours
has to know who watches. `HookCallback` reports to Python code, `StatusCallback` to the app through
the status file, `BarCallback` to a terminal; `quiet` silences the trainer's own printing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm
from transformers import Trainer, TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from stylist.core.refine_protocol import RefineStatus

Progress = Callable[[int, int, float | None], None]  # (step, total steps, latest loss)


class HookCallback(TrainerCallback):
    """Collects each step's loss, passes it to `progress`, and stops between steps once `should_stop()` says so."""

    def __init__(self, progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
                 losses: list[float] | None = None):
        self.progress, self.should_stop = progress, should_stop
        self.losses = [] if losses is None else losses

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:  # logged after every step (logging_steps=1)
            self.losses.append(float(logs["loss"]))
            if self.progress is not None:
                self.progress(state.global_step, state.max_steps, self.losses[-1])

    def on_step_end(self, args, state, control, **kwargs):
        if self.should_stop is not None and self.should_stop():
            control.should_training_stop = True


class StatusCallback(HookCallback):
    """Keeps the worker's `RefineStatus` in the status file current: running with the step count at train
    begin, the step and its loss at every step, saving at train end (the after-metrics and the save follow);
    training stops after the current step once the stop file exists. The worker writes the final state."""

    def __init__(self, path: str | Path | None, status: RefineStatus, stop_file: str | Path | None = None):
        super().__init__(self._step, Path(stop_file).exists if stop_file else None, status.losses)
        self.path, self.status = path, status

    def update(self, **changes) -> None:
        """Change the status and write it (nowhere without a status file: a plain CLI run)."""
        for name, value in changes.items():
            setattr(self.status, name, value)
        if self.path:
            self.status.write(self.path)

    def _step(self, step: int, total: int, loss: float | None) -> None:
        self.update(step=step, total=total)

    def on_train_begin(self, args, state, control, **kwargs):
        self.update(state="running", step=state.global_step, total=state.max_steps)

    def on_train_end(self, args, state, control, **kwargs):
        self.update(state="saving", step=state.global_step)


def quiet(trainer: Trainer) -> Trainer:
    """The trainer without its own bar and log printing, so that only our callbacks report."""
    for callback in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(callback)
    return trainer


class BarCallback(TrainerCallback):
    """A tqdm bar with the latest loss, and a line per evaluation; made when training begins, so a refusal
    before it prints one line."""

    def __init__(self, desc: str = "refine", disable: bool = False):
        self.desc, self.disable, self.bar = desc, disable, None

    def on_train_begin(self, args, state, control, **kwargs):
        self.bar = tqdm(total=state.max_steps, desc=self.desc, unit="step", disable=self.disable)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.bar is not None and logs and "loss" in logs:
            self.bar.update(state.global_step - self.bar.n)
            self.bar.set_postfix(loss=f"{float(logs['loss']):.4f}")
        if self.bar is not None and logs and "eval_loss" in logs:
            self.bar.write(f"{self.desc} step {state.global_step}: eval loss {float(logs['eval_loss']):.4f}")

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
