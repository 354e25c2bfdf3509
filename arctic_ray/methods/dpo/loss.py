"""The DPO losses on per-sequence log-probabilities, one value per pair (the trainer averages over
the global batch's pairs):

- `sigmoid` (DPO, Rafailov et al.): -log σ(β·Δ) with Δ = (π_c − π_r) − (ref_c − ref_r), the
  difference of the chosen and rejected log-ratios; with `label_smoothing` ε it is conservative
  DPO: −(1−ε)·log σ(β·Δ) − ε·log σ(−β·Δ) (ArcticTraining's `label_smoothing`).
- `ipo` (Azar et al.): (Δ̄ − 1/(2β))², Δ̄ the log-ratios averaged per response token (as TRL does).
- `hinge` (SLiC): relu(1 − β·Δ).
- `simpo` (Meng et al.), reference-free: −log σ(β·(π̄_c − π̄_r) − γ), π̄ the mean log-prob per
  response token, γ = `simpo_gamma`.

The implicit rewards TRL logs: β·(π − ref) per response (for simpo, β·π̄)."""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch.nn import functional as F

LossType = Literal["sigmoid", "ipo", "hinge", "simpo"]
REFERENCE_FREE = ("simpo",)


class PairLogps(NamedTuple):
    """Per pair: summed response log-probs under the policy and the reference, and the number of
    response tokens (for the per-token averages of ipo and simpo)."""

    chosen: torch.Tensor
    rejected: torch.Tensor
    ref_chosen: torch.Tensor
    ref_rejected: torch.Tensor
    chosen_tokens: torch.Tensor
    rejected_tokens: torch.Tensor


class PairLosses(NamedTuple):
    loss: torch.Tensor
    """[P]: each pair's loss."""
    chosen_rewards: torch.Tensor
    rejected_rewards: torch.Tensor


def dpo_losses(
    p: PairLogps, loss_type: LossType, beta: float, label_smoothing: float = 0.0, simpo_gamma: float = 0.5
) -> PairLosses:
    if loss_type == "simpo":
        chosen = p.chosen / p.chosen_tokens.clamp(min=1)
        rejected = p.rejected / p.rejected_tokens.clamp(min=1)
        logits = beta * (chosen - rejected) - simpo_gamma
        loss = -(1 - label_smoothing) * F.logsigmoid(logits) - label_smoothing * F.logsigmoid(-logits)
        return PairLosses(loss, beta * chosen.detach(), beta * rejected.detach())
    chosen_ratio, rejected_ratio = p.chosen - p.ref_chosen, p.rejected - p.ref_rejected
    delta = chosen_ratio - rejected_ratio
    if loss_type == "sigmoid":
        loss = -(1 - label_smoothing) * F.logsigmoid(beta * delta) - label_smoothing * F.logsigmoid(-beta * delta)
    elif loss_type == "hinge":
        loss = torch.relu(1 - beta * delta)
    elif loss_type == "ipo":
        per_token = chosen_ratio / p.chosen_tokens.clamp(min=1) - rejected_ratio / p.rejected_tokens.clamp(min=1)
        loss = (per_token - 1 / (2 * beta)) ** 2
    else:
        raise ValueError(f"unknown DPO loss {loss_type!r}")
    return PairLosses(loss, beta * chosen_ratio.detach(), beta * rejected_ratio.detach())
