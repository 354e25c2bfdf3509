"""What the MLP speculator is trained and judged on (positions as in `methods/spec_decode/positions.py`):
head i at index t is fed token t+1+i and guesses token t+2+i."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from arctic_ray.methods.spec_decode.positions import decode_positions, step_masks, step_shift


def head_targets(input_ids: torch.Tensor, in_completion: torch.Tensor, n_predict: int):
    """Targets [n, B, T'] and their validity mask [n, B, T'], T' = T - n_predict - 1."""
    t_out = input_ids.shape[1] - n_predict - 1
    targets = torch.stack([input_ids[:, 2 + i : 2 + i + t_out] for i in range(n_predict)])
    valid = torch.stack([in_completion[:, 2 + i : 2 + i + t_out] for i in range(n_predict)])
    return targets, valid


def speculator_loss(logits: list[torch.Tensor], targets: torch.Tensor, valid: torch.Tensor):
    """Cross-entropy averaged over heads. `logits` holds each head's [N_i, V] logits at its
    valid positions (`MLPSpeculator.forward(..., valid=valid)`). Returns (loss, per-head losses)."""
    per_head = torch.stack(
        [
            F.cross_entropy(lg.float(), targets[i][valid[i]]) if lg.shape[0] else lg.sum() * 0.0
            for i, lg in enumerate(logits)
        ]
    )
    return per_head.mean(), per_head


def head_accuracy(logits: list[torch.Tensor], targets: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Top-1 accuracy per head at its valid positions, same inputs as `speculator_loss`."""
    return torch.stack(
        [
            (lg.argmax(-1) == targets[i][valid[i]]).float().mean() if lg.shape[0] else lg.new_zeros(())
            for i, lg in enumerate(logits)
        ]
    )


@torch.no_grad()
def mlp_step_hits(spec, hidden: torch.Tensor, input_ids: torch.Tensor, in_completion: torch.Tensor):
    """Greedy verification at every decode position, as `eagle3_step_hits`: hits [B, T, n] and
    decode [B, T]. Each head is fed the previous head's own guess, as at inference."""
    b, t = input_ids.shape
    n = spec.spec.n_predict
    proposals = spec.propose(hidden.flatten(0, 1), step_shift(input_ids, 1).flatten()).view(b, t, n)
    truth = torch.stack([step_shift(input_ids, 2 + j) for j in range(n)], dim=-1)
    valid = torch.stack(step_masks(in_completion, n), dim=-1)
    return (proposals == truth) & valid, decode_positions(in_completion)
