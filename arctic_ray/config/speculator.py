from typing import Literal

from pydantic import Field

from arctic_ray.config.base import StrictConfig


class MLPSpeculatorConfig(StrictConfig):
    type: Literal["mlp"] = "mlp"
    """Speculator architecture (registered name)."""

    n_predict: int = Field(default=3, ge=1)
    """Tokens proposed per base forward: one head each."""

    inner_dim: int | None = Field(default=None, gt=0)
    """Width of the heads' running state; None: the base model's hidden size."""

    tie_weights: bool = True
    """Start the heads' token embeddings and output projections from the base model's and keep
    them frozen: far fewer trainable parameters and much faster learning. Needs inner_dim equal
    to the base hidden size."""
