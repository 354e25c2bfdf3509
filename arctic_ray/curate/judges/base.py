"""The `judge` recipe family: a step that splits a Dataset of synthesis rows into the rows it
keeps and the rows it removes, each removed row with its reason (`rejects.py`). Members pick
their class by `type` (`rules`, `exact_dedup`, `reward_model`, `llm`, `pairwise`), so a recipe
field typed `JudgeConfig.union(default=...)` holds any of them."""

from __future__ import annotations

from typing import ClassVar

import ray.data

from arctic_ray.core.config import Block
from arctic_ray.curate.rejects import StepResult


class JudgeConfig(Block):
    block_kind: ClassVar[str] = "judge"
    discriminator: ClassVar[str] = "type"
    home_package: ClassVar[str] = "arctic_ray.curate.judges"

    name: str | None = None
    """The step's name in the removal counts and in the rejects' `stage` (default: its type)."""

    @property
    def stage(self) -> str:
        return self.name or self.discriminator_value()

    def apply(self, ds: ray.data.Dataset) -> StepResult:
        raise NotImplementedError

    def backend_counts(self) -> dict[str, int]:
        """What the backend the step asked through counts once its rows are out (a vLLM pool's
        engine restarts, retried batches and rows that killed the engine); none by default."""
        return {}
