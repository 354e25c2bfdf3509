"""The row schema's answer columns (`synth/schema.py`) for one vLLM output: shared by the `vllm`
synthesis backend and the co-located teacher, whose stored answers are therefore interchangeable."""

from __future__ import annotations

from typing import Any

BACKEND = "vllm"  # the teacher answers as this backend too: their store keys and answers are shared


def answer_columns(out: Any, model_name: str, prompt_ids: list[int] | None = None, error: str = "") -> dict:
    """The row schema's answer columns for one engine output: a `RequestOutput`, the exception
    the engine refused the request with, or None with the `error` that kept it from the engine.
    `prompt_ids`: the prompt's token ids where the caller has them (else the output's)."""
    if isinstance(out, Exception):
        out, error = None, f"engine refused the request: {out}"
    completion = out.outputs[0] if out is not None else None
    if prompt_ids is None:
        prompt_ids = list(out.prompt_token_ids or []) if out is not None else []
    completion_ids = list(completion.token_ids) if completion else []
    return {
        "completion": completion.text if completion else "",
        "finish_reason": (completion.finish_reason or "stop") if completion else "error",
        "usage": {"prompt_tokens": len(prompt_ids), "completion_tokens": len(completion_ids)},
        "backend": BACKEND,
        "model": model_name,
        "error": error,
        "prompt_token_ids": list(prompt_ids),
        "completion_token_ids": completion_ids,
    }
