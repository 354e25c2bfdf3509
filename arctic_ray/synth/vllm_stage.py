"""Generation with vLLM engine actors, as a Ray Data stage (ray.data.llm does the actor pool,
batching, chat templating and tokenization; this file maps recipes and the row schema onto it)."""

from __future__ import annotations

from typing import Any

import ray.data

from arctic_ray.config.synth import VLLMSynthConfig
from arctic_ray.registry import registered

BACKEND = "vllm"


class EngineConfigError(ValueError):
    """A model the configured engine cannot run: raised before any engine starts."""


def check_cpu_engine_supports(model: str, cfg: VLLMSynthConfig) -> None:
    """vLLM's CPU attention supports only some head sizes, and an engine that dies on start-up
    is restarted by Ray Data without end: refuse such a model up front, with the reason."""
    if cfg.gpus_per_engine:
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


def engine_env(cfg: VLLMSynthConfig) -> dict[str, str]:
    if cfg.gpus_per_engine == 0:
        # In-process engine core: on CPU a second process only costs start-up time.
        return {"VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
    return {}


def engine_kwargs(cfg: VLLMSynthConfig) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "max_model_len": cfg.max_model_len,
        "enforce_eager": cfg.enforce_eager,
        "kv_cache_memory_bytes": cfg.kv_cache_bytes,
        "dtype": cfg.dtype,
    }
    if cfg.gpus_per_engine == 0:
        kwargs["distributed_executor_backend"] = "uni"
    return kwargs


def _request(cfg: VLLMSynthConfig):
    default = cfg.sampling.model_dump()

    def preprocess(row: dict) -> dict:
        sampling = {**default, **(row.get("sampling") or {})}
        return {**row, "sampling_params": sampling}

    return preprocess


def _to_schema(model: str, max_tokens: int):
    def to_schema(row: dict) -> dict:
        error = row.get("__inference_error__") or ""
        generated = list(row.get("generated_tokens") or [])
        n_out = int(row.get("num_generated_tokens") or 0)
        budget = (row.get("sampling_params") or {}).get("max_tokens") or max_tokens
        return {
            "id": row["id"],
            "messages": row["messages"],
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


@registered("synth_backend", BACKEND)
def vllm_generate(ds: ray.data.Dataset, model: str, cfg: VLLMSynthConfig, model_name: str | None = None) -> ray.data.Dataset:
    """Add completions to a Dataset of `id` + `messages` rows."""
    from ray.data.llm import build_processor, vLLMEngineProcessorConfig

    check_cpu_engine_supports(model, cfg)
    bundle: dict[str, float] = {"CPU": cfg.cpus_per_engine}
    if cfg.gpus_per_engine:
        bundle["GPU"] = cfg.gpus_per_engine
    processor_cfg = vLLMEngineProcessorConfig(
        model_source=model,
        engine_kwargs=engine_kwargs(cfg),
        runtime_env={"env_vars": engine_env(cfg)},
        batch_size=cfg.batch_size,
        concurrency=cfg.concurrency,
        placement_group_config={"bundles": [bundle]},
        should_continue_on_error=True,
        log_engine_metrics=False,
    )
    # Rows the engine refused skip a processor's postprocess and come out in their raw form, so
    # both kinds are mapped onto the schema after the processor, not inside it.
    processor = build_processor(processor_cfg, preprocess=_request(cfg), postprocess=lambda row: row)
    return processor(ds).map(_to_schema(model_name or model, cfg.sampling.max_tokens))
