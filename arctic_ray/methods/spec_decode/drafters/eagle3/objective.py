"""What the EAGLE-3 drafter is trained and judged on, shared by training, evaluation and the
benchmark (positions as in `methods/spec_decode/positions.py`).

The target is the base model's own next-token distribution restricted to the draft vocabulary
(as EAGLE-3 trains), which carries more than the one sampled token and is exact for greedy
decoding: the base's argmax is the token it emits."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from arctic_ray.methods.spec_decode.positions import decode_positions, step_masks, step_shift


def eagle3_loss(
    drafter,
    outputs: list[torch.Tensor],
    base_draft_logits: torch.Tensor,
    input_ids: torch.Tensor,
    in_completion: torch.Tensor,
    step_weight: float = 0.8,
):
    """Soft cross-entropy against the base's draft-vocabulary distribution, per step, weighted
    `step_weight ** j`. base_draft_logits: [B, T, V_draft], the base's logits at each position.
    Returns (loss, per-step losses [steps], per-step top-1 accuracy against the real token)."""
    losses, accs, weights = [], [], []
    for j, (out, valid) in enumerate(zip(outputs, step_masks(in_completion, len(outputs)))):
        logits = drafter.lm_head(out[valid]).float()
        target = F.softmax(step_shift(base_draft_logits, 1 + j)[valid].float(), dim=-1)
        if logits.shape[0]:
            losses.append(-(target * F.log_softmax(logits, dim=-1)).sum(-1).mean())
            truth = step_shift(input_ids, 2 + j)[valid]
            accs.append((drafter.to_target_ids(logits.argmax(-1)) == truth).float().mean())
        else:  # no valid position in this micro-batch: a zero that keeps the graph connected
            losses.append(logits.sum() * 0.0)
            accs.append(logits.new_zeros(()))
        weights.append(step_weight**j)
    per_step = torch.stack(losses)
    w = per_step.new_tensor(weights)
    return (per_step * w).sum() / w.sum(), per_step.detach(), torch.stack(accs).detach()


@torch.no_grad()
def eagle3_step_hits(drafter, outputs: list[torch.Tensor], input_ids: torch.Tensor, in_completion: torch.Tensor):
    """Greedy verification at every decode position: hits [B, T, steps] (step j's proposal equals
    the token the base emitted there) and decode [B, T] (the base emitted token t+1 at index t,
    so a draft starts there). Teacher-forced tokens give the same accepted lengths as free
    running: a later draft only counts while every earlier one matched."""
    steps = len(outputs)
    hits = []
    for j, (out, valid) in enumerate(zip(outputs, step_masks(in_completion, steps))):
        proposal = drafter.to_target_ids(drafter.lm_head(out).argmax(-1))
        hits.append((proposal == step_shift(input_ids, 2 + j)) & valid)
    return torch.stack(hits, dim=-1), decode_positions(in_completion)
