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


def speculator_loss(logits: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor):
    """Mean cross-entropy over valid positions, averaged over heads; also per-head losses."""
    per_head = []
    for i in range(logits.shape[0]):
        ce = F.cross_entropy(logits[i].flatten(0, 1).float(), targets[i].flatten(), reduction="none")
        mask = valid[i].flatten().float()
        per_head.append((ce * mask).sum() / mask.sum().clamp(min=1))
    per_head = torch.stack(per_head)
    return per_head.mean(), per_head


def accepted_lengths(proposals: torch.Tensor, truth: torch.Tensor, truth_valid: torch.Tensor) -> torch.Tensor:
    """Greedy verification: how many leading proposals match the base model's own tokens.

    proposals, truth, truth_valid: [N, n_predict]. A proposal past the end of the completion
    is never accepted."""
    hits = (proposals == truth) & truth_valid
    return hits.long().cumprod(dim=-1).sum(dim=-1)
