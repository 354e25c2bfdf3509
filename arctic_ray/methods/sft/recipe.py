"""The recipe of the SFT job (`type: sft`): the shared trainer dialect (`train/config.py`) with
SFT's own model and data blocks."""

from __future__ import annotations

from typing import Literal

from arctic_ray.methods.sft.config import SFTDataConfig, SFTModelConfig
from arctic_ray.train.config import TrainConfig


class SFTRecipe(TrainConfig):
    # pydantic narrows the base's fields; pyright wants a mutable field's type unchanged
    type: Literal["sft"] = "sft"  # pyright: ignore[reportIncompatibleVariableOverride]
    model: SFTModelConfig = SFTModelConfig()  # pyright: ignore[reportIncompatibleVariableOverride]
    data: SFTDataConfig = SFTDataConfig()  # pyright: ignore[reportIncompatibleVariableOverride]
    output_dir: str = "runs/sft"
