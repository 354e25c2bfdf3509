"""What the EAGLE-3 drafter is trained and judged on, shared by training, evaluation and the
benchmark (positions as in `methods/spec_decode/positions.py`).

Three losses per draft step, over the draft vocabulary (`speculator.loss`):
- `kl`: forward KL from the target's next-token distribution (renormalised over the draft
  vocabulary) to the drafter's, as EAGLE-3 trains: the whole distribution, not one token.
- `tv`: total variation between the two, 1 - the acceptance probability of speculative sampling
  (Leviathan et al.), so it aims at acceptance itself.
- `ce`: cross-entropy on the token the target emitted (positions whose token is outside the
  draft vocabulary cannot be proposed and are left out)."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from arctic_ray.methods.spec_decode.positions import decode_positions, step_masks, step_shift

LOSSES = ("kl", "tv", "ce")


def step_loss(kind: str, logits: torch.Tensor, target_logits: torch.Tensor, truth_index: torch.Tensor) -> torch.Tensor:
    """Mean loss over N positions: logits, target_logits [N, V_draft]; truth_index [N] (-1: the
    emitted token is outside the draft vocabulary)."""
    log_q = F.log_softmax(logits.float(), dim=-1)
    if kind == "ce":
        inside = truth_index >= 0
        if not inside.any():
            return logits.sum() * 0.0
        return F.nll_loss(log_q[inside], truth_index[inside])
    log_p = F.log_softmax(target_logits.float(), dim=-1)
    if kind == "kl":
        return (log_p.exp() * (log_p - log_q)).sum(-1).mean()
    if kind == "tv":
        return 0.5 * (log_p.exp() - log_q.exp()).abs().sum(-1).mean()
    raise ValueError(f"unknown loss {kind!r}; one of {LOSSES}")


def eagle3_loss(
    drafter,
    outputs: list[torch.Tensor],
    base_draft_logits: torch.Tensor,
    input_ids: torch.Tensor,
    in_completion: torch.Tensor,
    step_weight: float,
    kind: str,
):
    """`kind` per step, weighted `step_weight ** j`. base_draft_logits: [B, T, V_draft], the
    target's logits at each position. Returns (loss, per-step losses [steps], per-step top-1
    accuracy against the real token)."""
    losses, accs, weights = [], [], []
    for j, (out, valid) in enumerate(zip(outputs, step_masks(in_completion, len(outputs)), strict=False)):
        logits = drafter.lm_head(out[valid])
        truth = step_shift(input_ids, 2 + j)[valid]
        if logits.shape[0]:
            target = step_shift(base_draft_logits, 1 + j)[valid]
            losses.append(step_loss(kind, logits, target, drafter.draft_index(truth)))
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
    for j, (out, valid) in enumerate(zip(outputs, step_masks(in_completion, steps), strict=False)):
        proposal = drafter.to_target_ids(drafter.lm_head(out).argmax(-1))
        hits.append((proposal == step_shift(input_ids, 2 + j)) & valid)
    return torch.stack(hits, dim=-1), decode_positions(in_completion)
