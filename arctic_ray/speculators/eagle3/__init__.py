from arctic_ray.speculators.eagle3.config import Eagle3Config

__all__ = ["Eagle3Config"]
