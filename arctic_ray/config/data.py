from pathlib import Path

from pydantic import Field

from arctic_ray.config.base import StrictConfig


class PromptDataConfig(StrictConfig):
    prompts: Path = Path("examples/data/prompts.jsonl")
    """JSONL file, one object per line with `id` (string) and `messages` (OpenAI chat list)."""

    limit: int | None = Field(default=None, gt=0)
    """Use only the first N prompts (None: all)."""

    holdout_fraction: float = Field(default=0.15, gt=0.0, lt=1.0)
    """Share of deduplicated generations kept aside to evaluate the speculator."""
