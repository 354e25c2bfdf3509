"""Importing this module registers every synthesis backend, so a recipe's `synth:` union (built
when a recipe class is defined) sees them all."""

from arctic_ray.synth import cortex_backend  # noqa: F401
from arctic_ray.synth import openai_backend  # noqa: F401
from arctic_ray.synth import openai_batch  # noqa: F401
from arctic_ray.synth import vllm_backend  # noqa: F401
