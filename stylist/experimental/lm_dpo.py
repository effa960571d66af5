"""DPO of the SFT outfit adapter on Polyvore negatives, tried as a training step and not adopted: on the
validation part it did not beat the SFT adapter (docs/results.md).

    python -m stylist.experimental.lm_dpo --dpo-dir runs/sft-dpo
    python -m stylist eval fitb --split valid --adapter runs/sft-dpo      # compare with the SFT adapter

The pairs are the method's negative examples: an outfit's real missing item over another outfit's item, of
the same category for `dpo_same_category` of the pairs. Training starts from, and is referenced to, the SFT
adapter (trl's DPOTrainer without a ref_model, as the app's refinement does).
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from stylist.core.options import parse_config, summary
from stylist.data.corpus import negative_pairs
from stylist.models.lm import BASE_LM, SFT_ADAPTER, load_lm
from stylist.train.callbacks import BarCallback, HookCallback
from stylist.train.refine import dpo_trainer


@dataclass
class DpoConfig:
    base_dir: str = str(BASE_LM)
    adapter_dir: str = str(SFT_ADAPTER)
    dpo_dir: str = str(SFT_ADAPTER.with_name("sft-dpo"))
    dpo_pairs: int = 4000
    dpo_epochs: float = 1.0
    dpo_lr: float = 5e-4
    dpo_beta: float = 0.5
    dpo_same_category: float = 0.5
    batch_size: int = 32
    seed: int = 0


def train_dpo(config: DpoConfig) -> None:
    """The SFT adapter DPO-trained on negative pairs, saved with its tokenizer and loss log to `dpo_dir`."""
    from peft import PeftModel

    base, tokenizer = load_lm(config.base_dir, "none")
    model = PeftModel.from_pretrained(base, config.adapter_dir, is_trainable=True)
    rows = negative_pairs(config.dpo_pairs, config.seed, config.dpo_same_category)
    out = Path(config.dpo_dir)
    losses: list[float] = []
    trainer = dpo_trainer(model, tokenizer, rows, out / "scratch", beta=config.dpo_beta, learning_rate=config.dpo_lr,
                          batch_size=config.batch_size, epochs=config.dpo_epochs, steps=None, max_length=256,
                          seed=config.seed, callbacks=[HookCallback(losses=losses), BarCallback("dpo")])
    trainer.train()
    shutil.rmtree(out / "scratch", ignore_errors=True)
    model.set_adapter("default")
    model.save_pretrained(out, selected_adapters=["default"])
    tokenizer.save_pretrained(out)
    (out / "train_log.json").write_text(json.dumps({"config": asdict(config), "pairs": len(rows), "losses": losses}))


def main(argv: list[str] | None = None) -> int:
    config = parse_config(DpoConfig, argv, "python -m stylist.experimental.lm_dpo", summary(__doc__))
    torch.set_num_threads(1)
    torch.manual_seed(config.seed)
    train_dpo(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
