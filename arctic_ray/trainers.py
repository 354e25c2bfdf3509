"""Importing this module registers every trainer (each lives in its method's package)."""

from arctic_ray.sft.trainer import SFTTrainer
from arctic_ray.speculators.trainer import SpeculatorTrainer

__all__ = ["SFTTrainer", "SpeculatorTrainer"]
