from typing import Literal

from pydantic import Field

from arctic_ray.config.base import StrictConfig


class SamplingConfig(StrictConfig):
    temperature: float = Field(default=0.0, ge=0.0)
    """0 means greedy: what a speculator for greedy decoding should learn from."""

    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(default=128, gt=0)
    """Most new tokens per completion."""

    seed: int | None = 0


class VLLMSynthConfig(StrictConfig):
    backend: Literal["vllm"] = "vllm"
    """Generation backend (registered name)."""

    sampling: SamplingConfig = SamplingConfig()

    batch_size: int = Field(default=32, gt=0)
    """Rows per batch handed to one vLLM engine actor."""

    concurrency: int = Field(default=1, gt=0)
    """Number of vLLM engine actors (replicas)."""

    cpus_per_engine: float = Field(default=1.0, gt=0)
    """CPUs in each engine's placement bundle (CPU runs)."""

    gpus_per_engine: float = Field(default=0.0, ge=0)
    """GPUs in each engine's placement bundle; 0 runs vLLM on CPU."""

    max_model_len: int = Field(default=1024, gt=0)

    kv_cache_bytes: int = Field(default=1 << 30, gt=0)
    """KV-cache size for each engine; on CPU vLLM cannot infer it."""

    dtype: str = "float32"
    """Engine dtype. float32 keeps the generations on the same greedy path as the float32
    training and evaluation forward passes; use bfloat16 on GPUs."""

    enforce_eager: bool = True
    """Skip graph capture/compilation: faster start-up, right for CPU and short jobs."""
