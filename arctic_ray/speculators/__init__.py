"""Speculative-decoding drafters: each `type` is a package (config, model, objective, export);
importing this package registers them all."""

from arctic_ray.speculators.config import SpeculatorConfig
from arctic_ray.speculators.eagle3 import Eagle3Config
from arctic_ray.speculators.mlp import MLPSpeculatorConfig

__all__ = ["Eagle3Config", "MLPSpeculatorConfig", "SpeculatorConfig"]
