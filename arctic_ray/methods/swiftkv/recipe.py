"""The recipe of the SwiftKV job (`type: swiftkv`): the shared trainer dialect with SwiftKV's
model block, its chat data and its distillation weights."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from arctic_ray.methods.swiftkv.config import DistillConfig, SwiftKVDataConfig, SwiftKVModelConfig
from arctic_ray.train.config import TrainConfig


class SwiftKVRecipe(TrainConfig):
    type: Literal["swiftkv"] = "swiftkv"
    model: SwiftKVModelConfig = SwiftKVModelConfig()
    data: SwiftKVDataConfig = SwiftKVDataConfig()
    distill: DistillConfig = DistillConfig()
    output_dir: Path = Path("runs/swiftkv")
