"""The DPO losses on given log-probs equal TRL 1.16's (its own `_compute_loss`, fed the same
per-token log-probs through a stand-in model) for sigmoid, conservative label smoothing, ipo and
hinge, and hand-computed values for the reference-free simpo; with the policy equal to its
reference, the sigmoid loss is log 2 and every reward 0."""

from __future__ import annotations

import math
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch
from torch.nn import functional as F

from arctic_ray.methods.dpo.loss import PairLogps, dpo_losses

P, T = 5, 9


def _logps(seed: int) -> tuple[PairLogps, torch.Tensor]:
    """Random pairs: per-token log-probs of each response [2P, T-1] (chosen rows, then rejected)
    and the pairs' summed log-probs under policy and reference."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, T - 1, (2 * P,), generator=g)
    tokens = -torch.rand(2 * P, T - 1, generator=g, dtype=torch.float64) * 3
    mask = torch.arange(T - 1)[None, :] < lengths[:, None]
    tokens = tokens * mask
    sums = tokens.sum(1)
    ref = sums + torch.randn(2 * P, generator=g, dtype=torch.float64)
    pair = PairLogps(sums[:P], sums[P:], ref[:P], ref[P:], lengths[:P].double(), lengths[P:].double())
    return pair, tokens


def trl_loss(tokens: torch.Tensor, pair: PairLogps, loss_type: str, beta: float) -> tuple[float, dict]:
    """TRL's DPOTrainer._compute_loss on these log-probs (precomputed reference log-probs)."""
    from trl.trainer.dpo_trainer import DPOTrainer

    lengths = torch.cat([pair.chosen_tokens, pair.rejected_tokens]).long()
    completion = torch.zeros(2 * P, T, dtype=torch.long)
    for i, n in enumerate(lengths):
        completion[i, 1 : 1 + n] = 1
    outputs = SimpleNamespace(
        log_probs=tokens,
        entropy=torch.zeros(2 * P, T - 1),
        mean_logits=torch.zeros(2 * P, T - 1),
        is_top1=torch.zeros(2 * P, T - 1, dtype=torch.bool),
    )
    model = SimpleNamespace(training=True)
    accelerator = SimpleNamespace(device="cpu", gather_for_metrics=lambda x: x, gather=lambda x: x)
    trainer = SimpleNamespace(
        model=model,
        accelerator=accelerator,
        aux_loss_enabled=False,
        ld_alpha=None,
        precompute_ref_logps=True,
        f_divergence_type="reverse_kl",
        loss_types=[loss_type],
        loss_weights=[1.0],
        beta=beta,
        label_smoothing=0.0,
        use_weighting=False,
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
        _total_train_tokens=0,
        _tp_size=1,
    )
    inputs = {
        "input_ids": torch.ones(2 * P, T, dtype=torch.long),
        "attention_mask": torch.ones(2 * P, T, dtype=torch.long),
        "completion_mask": completion,
        "ref_chosen_logps": pair.ref_chosen,
        "ref_rejected_logps": pair.ref_rejected,
    }
    loss = DPOTrainer._compute_loss(trainer, lambda **kwargs: outputs, inputs, return_outputs=False)
    return float(loss), {k: v[-1] for k, v in trainer._metrics["train"].items()}


def swapped(pair: PairLogps, tokens: torch.Tensor) -> tuple[PairLogps, torch.Tensor]:
    flipped = PairLogps(
        pair.rejected, pair.chosen, pair.ref_rejected, pair.ref_chosen, pair.rejected_tokens, pair.chosen_tokens
    )
    return flipped, torch.cat([tokens[P:], tokens[:P]])


@pytest.mark.parametrize("loss_type", ["sigmoid", "ipo", "hinge"])
def test_losses_and_rewards_equal_trl(loss_type):
    pair, tokens = _logps(1)
    ours = dpo_losses(pair, loss_type, beta=0.2)
    theirs, logged = trl_loss(tokens, pair, loss_type, beta=0.2)
    assert float(ours.loss.mean()) == pytest.approx(theirs, rel=1e-9, abs=1e-12)
    assert float(ours.chosen_rewards.mean()) == pytest.approx(logged["rewards/chosen"], rel=1e-6)
    assert float(ours.rejected_rewards.mean()) == pytest.approx(logged["rewards/rejected"], rel=1e-6)
    accuracy = float((ours.chosen_rewards > ours.rejected_rewards).double().mean())
    assert accuracy == pytest.approx(logged["rewards/accuracies"])


def test_label_smoothing_is_trls_sigmoid_on_both_orders():
    """Conservative DPO: (1 - e) x the sigmoid loss of the pair + e x that of the pair flipped."""
    pair, tokens = _logps(2)
    eps = 0.15
    ours = float(dpo_losses(pair, "sigmoid", beta=0.3, label_smoothing=eps).loss.mean())
    straight, _ = trl_loss(tokens, pair, "sigmoid", beta=0.3)
    flipped, _ = trl_loss(swapped(pair, tokens)[1], swapped(pair, tokens)[0], "sigmoid", beta=0.3)
    assert ours == pytest.approx((1 - eps) * straight + eps * flipped, rel=1e-9)


def test_simpo_hand_values():
    pair = PairLogps(
        chosen=torch.tensor([-4.0, -10.0]),
        rejected=torch.tensor([-9.0, -6.0]),
        ref_chosen=torch.tensor([123.0, 456.0]),  # reference-free: these must not matter
        ref_rejected=torch.tensor([-7.0, 8.0]),
        chosen_tokens=torch.tensor([2.0, 5.0]),
        rejected_tokens=torch.tensor([3.0, 2.0]),
    )
    out = dpo_losses(pair, "simpo", beta=2.0, simpo_gamma=0.5)
    # pair 0: mean log-probs -2 and -3: 2 * (-2 + 3) - 0.5 = 1.5; pair 1: -2 and -3 again
    expected = -math.log(1 / (1 + math.exp(-1.5)))
    assert out.loss.tolist() == pytest.approx([expected, expected])
    assert out.chosen_rewards.tolist() == pytest.approx(
        [-4.0, -4.0]
    ) and out.rejected_rewards.tolist() == pytest.approx([-6.0, -6.0])


def test_a_policy_equal_to_its_reference_costs_log_2_and_earns_nothing():
    pair, _ = _logps(3)
    same = pair._replace(ref_chosen=pair.chosen, ref_rejected=pair.rejected)
    out = dpo_losses(same, "sigmoid", beta=0.1)
    assert out.loss.tolist() == pytest.approx([math.log(2)] * P)
    assert out.chosen_rewards.abs().max() == 0 and out.rejected_rewards.abs().max() == 0
    assert float(F.logsigmoid(torch.tensor(0.0))) == pytest.approx(-math.log(2))
