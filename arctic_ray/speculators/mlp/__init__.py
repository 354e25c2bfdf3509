from arctic_ray.speculators.mlp.config import MLPSpeculatorConfig

__all__ = ["MLPSpeculatorConfig"]
