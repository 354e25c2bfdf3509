"""The `speculator:` recipe block: a family chosen by `type` (`mlp`, `eagle3`, ...), each member
one config class that builds its drafter for a given frozen base."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import torch
from pydantic import Field

from arctic_ray.core.block import Block
from arctic_ray.methods.spec_decode.drafters.drafter import Drafter
from arctic_ray.methods.spec_decode.frozen_base import FrozenBase


class SpeculatorConfig(Block):
    block_kind: ClassVar[str] = "speculator"
    home_package: ClassVar[str] = "arctic_ray.methods.spec_decode.drafters"

    n_predict: int = Field(default=3, ge=1)
    """Tokens proposed per base forward (vLLM's `num_speculative_tokens`)."""

    base_cache_mb: int = Field(default=1024, ge=0)
    """Per training worker, keep the frozen base's hidden states for up to this many MiB on the
    CPU, so epochs after the first skip its forward pass (0 turns it off; a stream has no epochs)."""

    vllm_method: ClassVar[str | None] = None
    """vLLM's `speculative_config.method` for this drafter's export; None when vLLM cannot serve it."""

    uses_token_counts: ClassVar[bool] = False
    """Whether `build` wants the training data's token counts (to choose a draft vocabulary)."""

    def build(self, base: FrozenBase, seed: int, token_counts: torch.Tensor | None = None) -> Drafter:
        """The untrained drafter for `base`; the same seed gives the same weights on every rank."""
        raise NotImplementedError

    def export(self, drafter: Drafter, path: str | Path, identity: dict) -> Path:
        """Write `drafter` in the format its inference engine loads, with the base's identity."""
        raise NotImplementedError
