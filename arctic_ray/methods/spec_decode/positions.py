"""Index arithmetic every drafter shares: at index t the base has read tokens 0..t and emits
token t+1; draft step j then proposes token t+2+j, and counts only where that is a completion
token (text the base model produced itself)."""

from __future__ import annotations

import torch


def step_shift(x: torch.Tensor, shift: int, fill=0) -> torch.Tensor:
    """x[:, t + shift] at index t, padded at the end: [B, T, ...] -> [B, T, ...]."""
    pad = x.new_full((x.shape[0], shift, *x.shape[2:]), fill)
    return torch.cat([x[:, shift:], pad], dim=1)


def step_masks(in_completion: torch.Tensor, steps: int) -> list[torch.Tensor]:
    """Per step j, [B, T] bool: the token step j proposes at index t (t+2+j) is a completion token."""
    return [step_shift(in_completion, 2 + j, False) for j in range(steps)]


def decode_positions(in_completion: torch.Tensor) -> torch.Tensor:
    """[B, T] bool: the base emitted token t+1 itself at index t, so a draft starts there."""
    return step_shift(in_completion, 1, False)


def attention_mask(length: torch.Tensor, seq_len: int) -> torch.Tensor:
    """[B, T] long: 1 on the real tokens of each right-padded row."""
    return (torch.arange(seq_len, device=length.device)[None, :] < length[:, None]).long()


def completion_mask(completion_start: torch.Tensor, length: torch.Tensor, seq_len: int) -> torch.Tensor:
    """[B, T] bool: True where the token is part of the completion."""
    pos = torch.arange(seq_len, device=completion_start.device)[None, :]
    return (pos >= completion_start[:, None]) & (pos < length[:, None])
