"""The recipe of the SwiftKV job (`type: swiftkv`): the shared trainer dialect with SwiftKV's
model block, its chat data and its distillation weights."""

from __future__ import annotations

from typing import Literal

from arctic_ray.methods.swiftkv.config import DistillConfig, SwiftKVDataConfig, SwiftKVModelConfig
from arctic_ray.train.config import TrainConfig


class SwiftKVRecipe(TrainConfig):
    # pydantic narrows the base's fields; pyright wants a mutable field's type unchanged
    type: Literal["swiftkv"] = "swiftkv"  # pyright: ignore[reportIncompatibleVariableOverride]
    model: SwiftKVModelConfig = SwiftKVModelConfig()  # pyright: ignore[reportIncompatibleVariableOverride]
    data: SwiftKVDataConfig = SwiftKVDataConfig()  # pyright: ignore[reportIncompatibleVariableOverride]
    distill: DistillConfig = DistillConfig()
    output_dir: str = "runs/swiftkv"  # a str, as the base's: a Path would turn s3://b into s3:/b
