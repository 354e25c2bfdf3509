"""The recipe of the synthesis job (`type: synth`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from arctic_ray.core.config import StrictConfig
from arctic_ray.core.recipe import Recipe
from arctic_ray.curate.judges.base import JudgeConfig
from arctic_ray.data.snowflake_table import SnowflakePromptTable
from arctic_ray.synth.backend import SynthConfig, check_samples
from arctic_ray.synth.backends.vllm.config import VLLMSynthConfig


class SynthInputConfig(StrictConfig):
    snowflake: SnowflakePromptTable | None = None
    """Read the request rows from a Snowflake table instead of `prompts`."""

    prompts: Path = Path("examples/data/prompts.jsonl")
    """Request rows (`id`, `messages`, optional `sampling`): JSONL, parquet (file or directory) or
    an HF dataset saved with `save_to_disk`. A conversation ending with an assistant turn is sent
    without that turn, which is kept as `response`."""

    limit: int | None = Field(default=None, gt=0)
    """Only the first N usable rows."""


class SynthRecipe(Recipe):
    type: Literal["synth"] = "synth"

    model: str = "smollm2-135m-instruct"
    """vllm: a built-in name, HF name or local path; APIs: the model (Azure: the deployment) name."""

    input: SynthInputConfig = SynthInputConfig()
    samples: int = Field(default=1, gt=0)
    """Answers per prompt (each its own request when sampling; greedy has one answer)."""

    output_dir: str = "runs/synth"

    store: str = "runs/generation_store"
    """The generation store: a local directory or a pyarrow filesystem URI (s3://, gs://, ...)."""

    dry_run: bool = False
    """Estimate tokens and cost of what would be sent, send nothing."""

    synth: SynthConfig.union(default="vllm") = VLLMSynthConfig()  # pyright: ignore[reportInvalidTypeForm]  # every registered backend, a union built at import
    curate: list[JudgeConfig.union(default="rules")] = []  # pyright: ignore[reportInvalidTypeForm]  # every registered judge, a union built at import
    """Judge steps run over the completions in this order (`rules`, `exact_dedup`,
    `near_dedup`, `reward_model`, `llm`, `pairwise`): what they keep is written to `curated/`,
    what they remove to `curation_rejects/` with its stage and reason."""

    @model_validator(mode="after")
    def _samples_need_sampling(self) -> SynthRecipe:
        check_samples(self.samples, self.synth.sampling)
        return self
