"""A synthesis backend: a recipe block chosen by `synth.backend` that turns a Dataset of `id` +
`messages` rows into the shared row schema (`synth/schema.py`) as a Ray Data stage."""

from __future__ import annotations

from typing import ClassVar

import ray.data
from pydantic import Field

from arctic_ray.config.block import Block
from arctic_ray.config.base import StrictConfig


class SamplingConfig(StrictConfig):
    temperature: float = Field(default=0.0, ge=0.0)
    """0 means greedy: what a speculator for greedy decoding should learn from."""

    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(default=128, gt=0)
    """Most new tokens per completion (a row's own `sampling` may lower it)."""

    seed: int | None = 0


class SynthConfig(Block):
    block_kind: ClassVar[str] = "synth_backend"
    discriminator: ClassVar[str] = "backend"

    sampling: SamplingConfig = SamplingConfig()

    def generate(self, ds: ray.data.Dataset, model: str, model_name: str) -> ray.data.Dataset:
        """Add completions (the output columns of the row schema) to every row."""
        raise NotImplementedError
