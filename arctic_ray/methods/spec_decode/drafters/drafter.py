"""What the speculator trainer, the simulated evaluation and the exports need from a drafter.

`batch` holds `input_ids` [B, T], `in_completion` [B, T] bool and `attention` [B, T];
`features` are the target's hidden states over `base_layers()` then its final normed state
(from the engine, or `FrozenBase.features`); `base` is a `TargetView`."""

from __future__ import annotations

import torch
from torch import nn

from arctic_ray.methods.spec_decode.target_pieces import TargetView


class Drafter(nn.Module):
    def base_layers(self) -> tuple[int, ...]:
        """Base layers whose hidden states the drafter reads besides the final one."""
        return ()

    def target_head_ids(self) -> torch.Tensor | None:
        """Target ids whose LM-head rows the drafter's loss reads (None: the whole head)."""
        return None

    def loss(
        self, base: TargetView, features: torch.Tensor, batch: dict
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Loss of one micro-batch, and per-position values to log (e.g. `loss_pos0`, `acc_pos0`)."""
        raise NotImplementedError

    def step_hits(self, base: TargetView, features: torch.Tensor, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Greedy verification at every decode position: (hits [B, T, k], decode [B, T])."""
        raise NotImplementedError


def per_position(prefix: str, values: torch.Tensor) -> dict[str, torch.Tensor]:
    return {f"{prefix}_pos{i}": v for i, v in enumerate(values)}
