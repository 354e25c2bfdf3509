from pathlib import Path

from pydantic import Field

from arctic_ray.data.sources import SourceConfig
from arctic_ray.train.config import TrainDataConfig


class PromptDataConfig(TrainDataConfig):
    sources: list[SourceConfig] = [SourceConfig(path=Path("examples/data/prompts.jsonl"))]
    """Prompt rows (`id` + `messages`), read in order; ids are unique across sources. A
    conversation ending with an assistant turn also carries that turn as a reference response."""

    limit: int | None = Field(default=None, gt=0)
    """Use only the first N prompts (None: all)."""

    max_length: int = Field(default=256, ge=8)
    """Tokens per training sequence (prompt and continuation); at least `teacher.gen_seq_length`."""
