from pathlib import Path

from pydantic import Field

from arctic_ray.core.strict_config import StrictConfig


class PromptDataConfig(StrictConfig):
    prompts: Path = Path("examples/data/prompts.jsonl")
    """Prompt rows (`id` + `messages`): a JSONL or parquet file, a directory of parquet files, or
    an HF dataset saved with `save_to_disk`. A conversation ending with an assistant turn also
    carries that turn as a reference response."""

    limit: int | None = Field(default=None, gt=0)
    """Use only the first N prompts (None: all)."""
