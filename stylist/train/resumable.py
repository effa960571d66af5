"""Training that survives a stopped process or a new machine: the state at each epoch boundary, kept twice.

The exact state (weights, their moving average, optimizer, scheduler, the batch generator) is written under
runs/ after every epoch, so a run stopped on this machine goes on bit for bit. A compact copy (weights and moving
average in fp16, Adam's moments in bf16, one file of ~3 MB each) is written beside the run's checkpoint, small
enough to commit, so a run can go on on another machine: that resume rounds the weights once. A stop is asked
with SIGTERM, Ctrl-C or a STOP file in the state folder, and is honoured at the next epoch boundary.
"""

from __future__ import annotations

import json
import shutil
import signal
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

STATE_FILE = "state.pt"
STOP_FILE = "STOP"


@dataclass
class Progress:
    """What a resumed run needs besides tensors: epochs done, the kept metrics, and each stretch of training."""

    epoch: int = 0
    best: dict = field(default_factory=lambda: {"holdout_accuracy": -1.0})
    stretches: list[dict] = field(default_factory=list)


class StopRequest:
    """Set by SIGTERM / SIGINT or a STOP file in `folder`; the loop reads it at an epoch boundary, so no state is
    ever half written."""

    def __init__(self, folder: Path):
        self.file = folder / STOP_FILE
        self.signalled = False
        self.previous = {sig: signal.signal(sig, self._signal) for sig in (signal.SIGTERM, signal.SIGINT)}

    def release(self) -> None:
        """Give the signals back to whoever handled them before."""
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def _signal(self, signum: int, frame) -> None:
        self.signalled = True

    @property
    def requested(self) -> bool:
        if self.file.exists():
            self.file.unlink()
            return True
        return self.signalled


def _atomic_dir(folder: Path, write) -> None:
    """Write a folder's files through a temporary sibling and swap it in, so a reader never sees a mix."""
    tmp, old = folder.with_name(folder.name + ".tmp"), folder.with_name(folder.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def keep(exact: Path, compact: Path, model, ema, optimizer, scheduler, generator: torch.Generator,
         progress: Progress) -> None:
    """Both copies of the state after an epoch (see the module docstring)."""
    exact.parent.mkdir(parents=True, exist_ok=True)
    tmp = exact.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "generator": generator.get_state(), "progress": asdict(progress)},
               tmp)
    tmp.replace(exact)
    state = optimizer.state_dict()

    def write(folder: Path) -> None:
        half = lambda sd: {k: (v.half() if v.is_floating_point() else v).contiguous().cpu() for k, v in sd.items()}
        save_file({**half(model.state_dict()), "__generator__": generator.get_state()}, folder / "model.safetensors")
        save_file(half(ema.state_dict()), folder / "ema.safetensors")
        for moment in ("exp_avg", "exp_avg_sq"):
            save_file({str(i): s[moment].to(torch.bfloat16).contiguous().cpu() for i, s in state["state"].items()},
                      folder / f"{moment}.safetensors")
        steps = {int(s["step"]) for s in state["state"].values()}
        (folder / "state.json").write_text(json.dumps(
            {"progress": asdict(progress), "step": max(steps, default=0), "param_groups": state["param_groups"],
             "scheduler": scheduler.state_dict()}, indent=1) + "\n")

    _atomic_dir(compact, write)


def saved_epoch(exact: Path, compact: Path) -> int:
    """Epochs done by the newest state kept in either place (0: none)."""
    epochs = [0]
    if exact.exists():
        epochs.append(torch.load(exact, weights_only=False)["progress"]["epoch"])
    if (compact / "state.json").exists():
        epochs.append(json.loads((compact / "state.json").read_text())["progress"]["epoch"])
    return max(epochs)


def restore(exact: Path, compact: Path, model, ema, optimizer, scheduler, generator: torch.Generator) -> Progress:
    """Load the newest state into the given objects: the exact one when it is at least as far as the compact one."""
    compact_epoch = json.loads((compact / "state.json").read_text())["progress"]["epoch"] \
        if (compact / "state.json").exists() else -1
    if exact.exists():
        state = torch.load(exact, weights_only=False)
        if state["progress"]["epoch"] >= compact_epoch:
            model.load_state_dict(state["model"])
            ema.load_state_dict(state["ema"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            generator.set_state(state["generator"])
            return Progress(**state["progress"])
    info = json.loads((compact / "state.json").read_text())
    weights = load_file(compact / "model.safetensors")
    generator.set_state(weights.pop("__generator__"))
    full = lambda sd, like: {k: v.to(like[k].dtype) for k, v in sd.items()}
    model.load_state_dict(full(weights, model.state_dict()))
    ema.load_state_dict(full(load_file(compact / "ema.safetensors"), ema.state_dict()))
    avg, sq = load_file(compact / "exp_avg.safetensors"), load_file(compact / "exp_avg_sq.safetensors")
    params = optimizer.state_dict()["param_groups"][0]["params"]
    optimizer.load_state_dict({"param_groups": info["param_groups"], "state": {
        i: {"step": torch.tensor(float(info["step"])), "exp_avg": avg[str(i)].float(), "exp_avg_sq": sq[str(i)].float()}
        for i in params if str(i) in avg}})
    scheduler.load_state_dict(info["scheduler"])
    return Progress(**info["progress"])
