"""What a speculator is trained and judged on, shared by training and evaluation.

Position t is a decode step: the base model has read tokens 0..t and emits token t+1; head i
then guesses token t+2+i. A guess counts only where its target is a completion token, i.e.
text the base model itself produced."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def base_hidden(base: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Last (normed) hidden state of the frozen base model, without computing its logits."""
    with torch.no_grad():
        return base.get_decoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


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
        [F.cross_entropy(lg.float(), targets[i][valid[i]]) if lg.shape[0] else lg.sum() * 0.0 for i, lg in enumerate(logits)]
    )
    return per_head.mean(), per_head


def head_hits(logits: list[torch.Tensor], targets: torch.Tensor, valid: torch.Tensor) -> tuple[list[int], list[int]]:
    """Top-1 hits and counts per head, same inputs as `speculator_loss`."""
    hits = [int((lg.argmax(-1) == targets[i][valid[i]]).sum()) for i, lg in enumerate(logits)]
    return hits, [int(v.sum()) for v in valid]


def accepted_lengths(proposals: torch.Tensor, truth: torch.Tensor, truth_valid: torch.Tensor) -> torch.Tensor:
    """Greedy verification: how many leading proposals match the base model's own tokens.

    proposals, truth, truth_valid: [N, n_predict]. A proposal past the end of the completion
    is never accepted."""
    hits = (proposals == truth) & truth_valid
    return hits.long().cumprod(dim=-1).sum(dim=-1)
