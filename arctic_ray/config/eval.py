from pydantic import Field

from arctic_ray.config.base import StrictConfig


class EvalConfig(StrictConfig):
    max_sequences: int | None = Field(default=None, gt=0)
    """Evaluate on at most N held-out generations (None: all)."""

    batch_size: int = Field(default=8, gt=0)
