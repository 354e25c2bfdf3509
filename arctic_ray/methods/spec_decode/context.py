"""What the main job's stages share: the recipe, the run, the base (model, tokenizer, config) and
the store (`Context`), and the training data a stage hands the trainer (`TrainingData`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import ray.data

from arctic_ray.core.run_dir import JobRun
from arctic_ray.data.driver_rows import dataset_of
from arctic_ray.methods.spec_decode.engine_features import features_key, with_engine_features
from arctic_ray.methods.spec_decode.recipe import SpecDecodeRecipe
from arctic_ray.methods.spec_decode.teacher.feeder import TeacherFeeder
from arctic_ray.models.causal_lm import pad_token_id
from arctic_ray.models.ref import ModelRef
from arctic_ray.synth.backend import Target
from arctic_ray.synth.keyed import generate_stored

if TYPE_CHECKING:
    import torch
    from transformers import PretrainedConfig, PreTrainedTokenizerBase


@dataclass
class Context:
    recipe: SpecDecodeRecipe
    run: JobRun
    model: ModelRef
    """The base: resolved by name where it loads, with the identity that keys the store."""
    tokenizer: PreTrainedTokenizerBase
    target_config: PretrainedConfig
    store: str

    @property
    def vocab_size(self) -> int:
        return self.target_config.vocab_size

    @property
    def engine_features(self) -> bool:
        return self.recipe.speculator.target_features == "engine"

    def with_features(self, rows: ray.data.Dataset) -> ray.data.Dataset:
        """Training rows with the target's hidden states from vLLM engines (engine features)."""
        spec = self.recipe.speculator
        return with_engine_features(
            rows, self.model, self.recipe.synth, list(spec.target_layers(self.target_config)), spec.features_dtype
        )

    def features_key(self, rows: ray.data.Dataset) -> str:
        """The key of `rows`' features: equal keys, equal features (`engine_features.features_key`)."""
        spec = self.recipe.speculator
        return features_key(self.model, list(spec.target_layers(self.target_config)), spec.features_dtype, rows)

    @property
    def pad_id(self) -> int:
        return pad_token_id(self.tokenizer)

    @property
    def target(self) -> Target:
        return Target(
            model=self.model.name,
            model_name=self.model.name,
            model_key=self.model.key,
            store=self.store,
            run_dir=self.run.dir,
        )

    def generate(self, rows: list[dict]):
        return generate_stored(dataset_of(rows), self.recipe.synth, self.target)

    def rows_of(self, columns: dict) -> ray.data.Dataset:
        return ray.data.from_items(
            [{k: columns[k][i] for k in columns if k != "id"} for i in range(len(columns["id"]))]
        )


@dataclass
class TrainingData:
    datasets: dict
    num_rows: int | None = None
    token_counts: torch.Tensor | None = None
    teacher: TeacherFeeder | None = None
