"""The `speculator:` recipe block: a family chosen by `type` (`mlp`, `eagle3`, ...), each member
one config class that builds its drafter for a given frozen base."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import torch
from pydantic import Field

from arctic_ray.core.config import Block
from arctic_ray.methods.spec_decode.drafters.drafter import Drafter
from arctic_ray.methods.spec_decode.target_pieces import TargetView


class SpeculatorConfig(Block):
    block_kind: ClassVar[str] = "speculator"
    home_package: ClassVar[str] = "arctic_ray.methods.spec_decode.drafters"

    n_predict: int = Field(default=3, ge=1)
    """Tokens proposed per base forward (vLLM's `num_speculative_tokens`)."""

    target_features: Literal["engine", "hf"] = "engine"
    """Where the target's hidden states come from. engine: the vLLM engine that generated the
    data prefills each sequence and hands them over (offline into the run's `features/`, online
    through Ray's object store); training workers hold only the drafter, the embeddings and the
    draft vocabulary's LM-head rows. hf: every worker runs its own frozen copy of the base (for a
    base vLLM cannot serve)."""

    features_dtype: Literal["float16", "float32"] = "float16"
    """How engine features are stored and sent (float16 halves their size)."""

    base_cache_mb: int = Field(default=1024, ge=0)
    """target_features hf: per training worker, keep the frozen base's hidden states for up to this many MiB on the
    CPU, so epochs after the first skip its forward pass (0 turns it off; a stream has no epochs)."""

    vllm_method: ClassVar[str | None] = None
    """vLLM's `speculative_config.method` for this drafter's export; None when vLLM cannot serve it."""

    uses_token_counts: ClassVar[bool] = False
    """Whether `build` wants the training data's token counts (to choose a draft vocabulary)."""

    def target_layers(self, target_config) -> tuple[int, ...]:
        """Target layers whose input states the drafter reads besides the final normed state."""
        return ()

    def build(self, base: TargetView, seed: int, token_counts: torch.Tensor | None = None) -> Drafter:
        """The untrained drafter for `base`; the same seed gives the same weights on every rank."""
        raise NotImplementedError

    def export(self, drafter: Drafter, path: str | Path, identity: dict) -> Path:
        """Write `drafter` in the format its inference engine loads, with the base's identity."""
        raise NotImplementedError
