"""The residual probe trains the score the recommender ranks by, not a stand-in for it."""

from __future__ import annotations

import numpy as np
import pytest

from stylist.experimental.residual_lm import Question, ResidualConfig, batch_loss


def test_the_trained_score_is_the_scorers_forward_pmi_and_moves_only_the_adapter(tiny_lm):
    import torch
    from peft import PeftModel

    from stylist.models.lm import load_lm
    from stylist.models.outfit import ScoringConfig, load_outfit_model

    base, tokenizer = load_lm(tiny_lm.base, "none")
    model = PeftModel.from_pretrained(base, tiny_lm.adapter, is_trainable=True).eval()
    context, candidates = ["white cotton t-shirt", "blue denim jeans"], ["black leather ankle boots", "red lipstick"]
    counts = np.array([0.5, -0.25], dtype=np.float32)
    config = ResidualConfig(counts_weight=2.0, lm_only_weight=0.0, nll_weight=0.0)
    loss, _ = batch_loss(model, tokenizer, [Question(context, candidates, counts)], config)

    deployed = load_outfit_model(tiny_lm.base, tiny_lm.adapter, use_counts=False,
                                 scoring=ScoringConfig(forward=1.0, backward=0.0, length_power=1.0))
    forward, _ = deployed.pmi_terms(context, candidates, backward=False)
    score = torch.tensor(forward + 2.0 * counts)
    assert loss.item() == pytest.approx(float(torch.nn.functional.cross_entropy(score[None], torch.tensor([0]))),
                                        abs=1e-4)
    loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
    assert grads and all("lora_" in name for name in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads.values())
