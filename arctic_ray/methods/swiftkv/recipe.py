"""The recipe of the SwiftKV job (`type: swiftkv`): the shared trainer dialect with SwiftKV's own
blocks: the model (how many layers keep their own KV, how later layers share it), the
distillation data (chat sources, as SFT reads them) and the loss weights. Checks that need the
base model's config (its layer count, its family) are in `check_base`, run where the base is
first read, and name the recipe field they refuse."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from arctic_ray.core.config import StrictConfig
from arctic_ray.core.recipe import RecipeError
from arctic_ray.data.chat_examples import ChatSource
from arctic_ray.train.config import ModelConfig, TrainConfig, TrainDataConfig

LLAMA_FAMILY = ("llama",)
"""Base `model_type`s whose layers SwiftKV knows how to rewire (SmolLM2 is a Llama)."""


class SwiftKVModelConfig(ModelConfig):
    num_key_value_layers: int = Field(default=2, ge=1)
    """Layers, from the first, that run for prompt tokens and keep their own KV; every later
    layer takes its KV from a projection of this many layers' output (SingleInputKV)."""

    key_value_group_size: int = Field(default=1, ge=1)
    """AcrossKV: this many consecutive later layers share one KV (1: each has its own)."""


class SwiftKVDataConfig(TrainDataConfig):
    sources: list[ChatSource] = [
        ChatSource(path=Path("examples/data/sft/general.jsonl")),
        ChatSource(path=Path("examples/data/sft/math.jsonl")),
    ]
    """Chat rows (`messages`, or prompt `messages` + `completion`): the teacher is distilled on
    their assistant tokens."""

    overlong: Literal["truncate", "drop"] = "truncate"
    eval_fraction: float = Field(default=0.1, gt=0, lt=1)
    """Held-out chats (by a stable hash of the id) for KL, top-1 agreement and eval loss."""

    pack: bool = True
    """Several chats per sequence (multipack), kept apart by a block-diagonal mask."""


class DistillConfig(StrictConfig):
    temperature: float = Field(default=2.0, gt=0)
    """Teacher and student logits are divided by it before the KL, which is scaled by T^2 so
    its gradient keeps the size it has at T = 1."""

    kl_weight: float = Field(default=1.0, ge=0)
    hidden_mse_weight: float = Field(default=0.0, ge=0)
    """Weight of the mean squared error between the student's and the teacher's final hidden
    states (after the final norm) on the same tokens; 0: KL only."""


def check_base(model: SwiftKVModelConfig, base_config) -> None:
    """Refuse a base SwiftKV cannot rewire, naming the recipe field."""
    kind = getattr(base_config, "model_type", None)
    if kind not in LLAMA_FAMILY:
        raise RecipeError(
            f"model.name_or_path: SwiftKV needs a Llama-family base (model_type {', '.join(LLAMA_FAMILY)}), "
            f"{model.name_or_path} is {kind!r}"
        )
    layers, k, g = base_config.num_hidden_layers, model.num_key_value_layers, model.key_value_group_size
    if k > layers:
        raise RecipeError(f"model.num_key_value_layers: {k} is above the base model's {layers} layers")
    if (layers - k) % g:
        raise RecipeError(
            f"model.key_value_group_size: {g} does not divide the {layers - k} layers after the {k} KV layers"
        )


def check_trainable(model: SwiftKVModelConfig, base_config) -> None:
    """A training run needs at least one SwiftKV layer: with every layer a KV layer there is
    nothing to train."""
    check_base(model, base_config)
    if model.num_key_value_layers == base_config.num_hidden_layers:
        raise RecipeError(
            f"model.num_key_value_layers: {model.num_key_value_layers} is every layer of the base; "
            "nothing would train (use fewer)"
        )


class SwiftKVRecipe(TrainConfig):
    type: Literal["swiftkv"] = "swiftkv"
    model: SwiftKVModelConfig = SwiftKVModelConfig()
    data: SwiftKVDataConfig = SwiftKVDataConfig()
    distill: DistillConfig = DistillConfig()
    output_dir: str = "runs/swiftkv"  # a str, as the base's: a Path would turn s3://b into s3:/b

    @model_validator(mode="after")
    def _no_sequence_parallel(self) -> SwiftKVRecipe:
        if self.sequence_parallel_size > 1:
            raise ValueError(
                "sequence_parallel_size: SwiftKV's later layers compute their attention in its own kernels "
                "(swiftkv/ops.py), outside the transformers attention Ulysses wraps; use 1"
            )
        return self
