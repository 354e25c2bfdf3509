"""arctic_ray: Ray-native LLM post-training data and training."""

__version__ = "0.1.0"
