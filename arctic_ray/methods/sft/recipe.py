"""The recipe of the SFT job (`type: sft`): the shared trainer dialect (`train/config.py`) with
SFT's own model and data blocks."""

from __future__ import annotations

from typing import Literal

from arctic_ray.methods.sft.config import SFTDataConfig, SFTModelConfig
from arctic_ray.train.config import TrainConfig


class SFTRecipe(TrainConfig):
    type: Literal["sft"] = "sft"
    model: SFTModelConfig = SFTModelConfig()
    data: SFTDataConfig = SFTDataConfig()
    output_dir: str = "runs/sft"
