"""vLLM engine settings shared by every engine the project starts: the Ray Data generation stage,
the co-located teacher and the speculative-decoding evaluation."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import Field, model_validator

from arctic_ray.core.config import StrictConfig
from arctic_ray.core.errors import ArcticRayError

log = logging.getLogger(__name__)


class EngineConfigError(ArcticRayError):
    """A model the configured engine cannot run: raised before any engine starts."""


class VLLMEngineConfig(StrictConfig):
    cpus_per_engine: float = Field(default=1.0, gt=0)
    """CPUs reserved for each engine (CPU runs; fractions share cores with other stages)."""

    gpus_per_engine: float = Field(default=0.0, ge=0)
    """GPUs for each engine; 0 runs vLLM on CPU."""

    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    """Share of a GPU's memory an engine may take; lower it when the engine shares its GPU."""

    max_model_len: int = Field(default=1024, gt=0)

    kv_cache_bytes: int = Field(default=1 << 30, gt=0)
    """KV-cache size for each engine on CPU, where vLLM cannot infer it."""

    dtype: str = "float32"
    """Engine dtype. float32 keeps the generations on the same greedy path as the float32
    training and evaluation forward passes; use bfloat16 on GPUs."""

    enforce_eager: bool = True
    """Skip graph capture/compilation: faster start-up, right for CPU and short jobs."""

    threads_per_engine: int | None = Field(default=None, ge=1)
    """OpenMP threads of each engine on CPU. None: every core of the machine that starts the
    job. Ray gives an actor of one CPU one thread, which halves a 2-core engine; set this to
    cores / engines when several engines share a node."""

    @model_validator(mode="after")
    def _memory_within_its_share(self):
        share = self.gpus_per_engine
        if 0 < share < 1 and self.gpu_memory_utilization > share:
            raise ValueError(
                f"gpu_memory_utilization ({self.gpu_memory_utilization:g}) is above the engine's GPU share "
                f"(gpus_per_engine {share:g}): engines sharing that GPU would not fit; set it to at most {share:g}"
            )
        return self

    @property
    def on_gpu(self) -> bool:
        return self.gpus_per_engine > 0

    def engine_env(self) -> dict[str, str]:
        if self.on_gpu:
            return {}
        # In-process engine core: on CPU a second process only costs start-up time.
        threads = self.threads_per_engine or len(os.sched_getaffinity(0))
        return {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "OMP_NUM_THREADS": str(threads)}

    def engine_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_model_len": self.max_model_len,
            "enforce_eager": self.enforce_eager,
            "dtype": self.dtype,
            # Structured output (a judge's JSON verdict) as compact JSON: with free whitespace a
            # weak model can emit newlines until max_tokens and never close the object.
            "structured_outputs_config": {"backend": "xgrammar", "disable_any_whitespace": True},
        }
        if self.on_gpu:
            kwargs["gpu_memory_utilization"] = self.gpu_memory_utilization
        else:
            kwargs["kv_cache_memory_bytes"] = self.kv_cache_bytes
            kwargs["distributed_executor_backend"] = "uni"
        return kwargs

    def sampling_params(self, sampling: dict) -> dict:
        """What the engine is given: vLLM's CPU sampler cannot seed requests one by one (its
        generators take no offset and the engine dies), so on CPU a sampled request goes
        unseeded; greedy decoding needs no seed anyway."""
        if self.on_gpu:
            return sampling
        return {k: v for k, v in sampling.items() if k != "seed"}

    def check_supports(self, model: str) -> None:
        """vLLM's CPU attention supports only some head sizes, and an engine that dies on start-up
        is restarted by Ray Data without end: refuse such a model up front, with the reason."""
        if self.on_gpu:
            return
        from transformers import AutoConfig
        from vllm.v1.attention.backends.cpu_attn import CPUAttentionBackend

        config = AutoConfig.from_pretrained(model)
        text = getattr(config, "text_config", config)
        head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
        supported = CPUAttentionBackend.get_supported_head_sizes()
        if head_dim not in supported:
            raise EngineConfigError(
                f"vLLM on CPU cannot run {model}: attention head size {head_dim} is not one of {supported}"
            )


def start_llm(model: str, engine: VLLMEngineConfig, **extra: Any):
    """A `vllm.LLM` in this process with the engine settings (and e.g. `speculative_config`)."""
    os.environ.update(engine.engine_env())
    _say_if_restarted(model)
    from vllm import LLM

    return LLM(model=model, **{**engine.engine_kwargs(), **extra})  # `extra` wins


@contextmanager
def running_llm(model: str, engine: VLLMEngineConfig, **extra: Any) -> Iterator[Any]:
    """`start_llm`, stopped (its engine core and workers) on the way out, so that another engine
    can start in this process once the caller drops it (`host.py`)."""
    llm = start_llm(model, engine, **extra)
    try:
        yield llm
    finally:
        llm.llm_engine.engine_core.shutdown()


def _say_if_restarted(model: str) -> None:
    """An engine actor Ray restarted after its process died (killed, or vLLM crashing it) says
    so, whatever its stage (generation, judging, features, teacher): Ray Data restarts the actors
    of a pool and retries their batches without a word in the job's output."""
    import ray

    if not ray.is_initialized() or ray.get_runtime_context().get_actor_id() is None:
        return
    with warnings.catch_warnings():  # the property reads the actor's id through a deprecated name
        warnings.simplefilter("ignore")
        restarted = ray.get_runtime_context().was_current_actor_reconstructed
    if restarted:
        log.warning("vLLM engine for %s starting again: its actor's process died, its batches are retried", model)
