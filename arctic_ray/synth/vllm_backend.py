"""Generation with vLLM engine actors, as a Ray Data stage (ray.data.llm does the actor pool,
batching, chat templating and tokenization; this file maps recipes and the row schema onto it)."""

from __future__ import annotations

from typing import Literal

import ray.data
from pydantic import Field

from arctic_ray.config.pool import PoolSize
from arctic_ray.synth.backend import SynthConfig, Target
from arctic_ray.synth.engine import VLLMEngineConfig

BACKEND = "vllm"


class VLLMSynthConfig(SynthConfig, VLLMEngineConfig):
    backend: Literal["vllm"] = "vllm"
    """Generation backend (registered name)."""

    batch_size: int = Field(default=32, gt=0)
    """Rows per batch handed to one vLLM engine actor."""

    concurrent_batches: int = Field(default=8, gt=0)
    """Batches each engine actor works on at once. A batch returns when its last row does, so
    the rows held must well exceed the engine's running slots (`max_num_seqs`, 128 on CPU, 256+
    on GPU) or the engine idles on stragglers."""

    concurrency: PoolSize = 1
    """vLLM engine actors (replicas): a number, or [min, max] for a pool that autoscales."""

    @property
    def rows_per_task(self) -> int:
        return self.batch_size

    def generate(self, ds: ray.data.Dataset, target: Target) -> ray.data.Dataset:
        from ray.data.llm import build_processor, vLLMEngineProcessorConfig

        model = target.model
        self.check_supports(model)
        bundle: dict[str, float] = {"CPU": self.cpus_per_engine}
        if self.gpus_per_engine:
            bundle["GPU"] = self.gpus_per_engine
        processor_cfg = vLLMEngineProcessorConfig(
            model_source=model,
            engine_kwargs=self.engine_kwargs(),
            runtime_env={"env_vars": self.engine_env()},
            batch_size=self.batch_size,
            max_concurrent_batches=self.concurrent_batches,
            concurrency=self.concurrency,
            placement_group_config={"bundles": [bundle]},
            should_continue_on_error=True,
            log_engine_metrics=False,
            # The engine tokenizes its prompts and detokenizes its outputs itself: two more actor
            # pools would only do the same work again, competing with the engine for cores.
            tokenize_stage=False,
            detokenize_stage=False,
        )
        # Rows the engine refused skip a processor's postprocess and come out in their raw form, so
        # both kinds are mapped onto the schema after the processor, not inside it.
        processor = build_processor(processor_cfg, preprocess=_request(self), postprocess=lambda row: row)
        return processor(ds).map(_to_schema(target.model_name, self.sampling.max_tokens))


def _request(cfg: VLLMSynthConfig):
    default = cfg.sampling.model_dump()

    def preprocess(row: dict) -> dict:
        sampling = {**default, **(row.get("sampling") or {})}
        return {**row, "sampling_params": cfg.sampling_params(sampling)}

    return preprocess


def _to_schema(model: str, max_tokens: int):
    passthrough = ("key", "sampling")

    def to_schema(row: dict) -> dict:
        error = row.get("__inference_error__") or ""
        generated = list(row.get("generated_tokens") or [])
        n_out = int(row.get("num_generated_tokens") or 0)
        budget = (row.get("sampling_params") or {}).get("max_tokens") or max_tokens
        return {
            "id": row["id"],
            "messages": row["messages"],
            **{k: row[k] for k in passthrough if k in row},
            "completion": row.get("generated_text") or "",
            # ray.data.llm does not pass vLLM's finish_reason through; with no stop strings the
            # only ways to end are the token budget or an end-of-sequence token.
            "finish_reason": "error" if error else ("length" if n_out >= budget else "stop"),
            "usage": {"prompt_tokens": int(row.get("num_input_tokens") or 0), "completion_tokens": n_out},
            "backend": BACKEND,
            "model": model,
            "error": str(error),
            "prompt_token_ids": list(row.get("prompt_token_ids") or []),
            "completion_token_ids": generated,
        }

    return to_schema
