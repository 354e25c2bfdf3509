"""Importing this package registers every trainer."""

from arctic_ray.trainers.speculator import SpeculatorTrainer

__all__ = ["SpeculatorTrainer"]
