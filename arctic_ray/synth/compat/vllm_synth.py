"""ArcticTraining's `VllmSynth`, on the `vllm` backend: engines are Ray Data actors started by
`execute_batch_task` (none at all when the store has every answer), not an `LLM` in this process.

`model_params` are `vllm.LLM` keywords: `model`, and the engine settings arctic_ray carries
(`max_model_len`, `dtype`, `enforce_eager`, `gpu_memory_utilization`, `kv_cache_memory_bytes`);
any `VLLMSynthConfig` field (`gpus_per_engine`, `concurrency`, `batch_size`, ...) may be given
there too. `sampling_params` is a `vllm.SamplingParams` or a dict of its fields: every field
given (`stop`, `top_k`, `min_p`, `repetition_penalty`, `logprobs`, `structured_outputs`, ...)
travels with each request row to the engine (and into its store key); only fields that cannot be
written down as JSON (`logits_processors`, callables) are refused by name."""

from __future__ import annotations

import json
from typing import Any

from arctic_ray.synth.backend import EXTRA_BODY, Target, target_for
from arctic_ray.synth.backends.vllm.config import VLLMSynthConfig
from arctic_ray.synth.compat.base import BatchTaskClient

LLM_ALIASES = {"kv_cache_memory_bytes": "kv_cache_bytes"}
SAMPLING_FIELDS = ("temperature", "top_p", "max_tokens", "seed", "n")
"""The fields every request row has (the others a row carries only when given)."""
VLLM_DEFAULTS = {"temperature": 1.0, "top_p": 1.0, "max_tokens": 16, "seed": None, "n": 1}
"""vLLM's own `SamplingParams()` defaults, for a dict that leaves some out."""


class VllmSynth(BatchTaskClient[VLLMSynthConfig]):
    def __init__(self, model_params: dict, sampling_params: Any = None, work_dir: str | None = None):
        params = dict(model_params)
        if "model" not in params:
            raise ValueError("model_params needs `model`")
        self.model = str(params.pop("model"))
        if params.pop("tensor_parallel_size", 1) != 1:
            raise ValueError(
                "tensor_parallel_size > 1 is not supported: one engine per replica, scale with `concurrency`"
            )
        engine = {**_engine_defaults(), **{LLM_ALIASES.get(k, k): v for k, v in params.items()}}
        super().__init__(VLLMSynthConfig.model_validate(engine), work_dir)
        # Their default: vLLM's SamplingParams(temperature=1.0).
        self.sampling_params = _sampling(sampling_params if sampling_params is not None else {"temperature": 1.0})

    def add_chat_to_batch_task(self, task_name: str, messages: list[dict]) -> None:
        self.requests[task_name].append({"custom_id": self._new_custom_id(task_name), "messages": messages})

    def _chat(self, request: dict) -> tuple[str, dict, int]:
        sampling = {k: v for k, v in self.sampling_params.items() if k in SAMPLING_FIELDS and k != "n"}
        if sampling["max_tokens"] is None:  # vLLM: up to the context length
            sampling["max_tokens"] = self.synth.max_model_len
        extra = {k: v for k, v in self.sampling_params.items() if k not in SAMPLING_FIELDS}
        if extra:
            sampling[EXTRA_BODY] = json.dumps(extra, sort_keys=True)
        row = {"id": request["custom_id"], "messages": request["messages"], "sampling": sampling}
        return self.model, row, self.sampling_params["n"]

    def _target(self, model: str, store: str, run_dir: str) -> Target:
        return target_for(model, self.synth, store, run_dir)

    def _response(self, request: dict, answers: list[dict]) -> dict:
        # The parts of vLLM's RequestOutput (as their recursive_to_dict gives it) the row schema knows.
        first = answers[0]
        outputs = [
            {
                "index": i,
                "text": a["completion"],
                "token_ids": list(a.get("completion_token_ids") or []),
                "cumulative_logprob": None,
                "logprobs": None,
                "finish_reason": a["finish_reason"],
                "stop_reason": None,
            }
            for i, a in enumerate(answers)
        ]
        response = {
            "request_id": request["custom_id"],
            "prompt": None,
            "prompt_token_ids": list(first.get("prompt_token_ids") or []),
            "outputs": outputs,
            "finished": True,
        }
        return {"custom_id": request["custom_id"], "response": response}

    def _failed(self, request: dict, reason: str) -> dict:
        response = {
            "request_id": request["custom_id"],
            "prompt": None,
            "prompt_token_ids": [],
            "outputs": [],
            "finished": False,
        }
        return {"custom_id": request["custom_id"], "response": response, "error": reason}

    @staticmethod
    def extract_messages_from_responses(responses: list[dict]) -> list[dict]:
        return [
            {
                "custom_id": r["custom_id"],
                "choices": [{"content": o["text"], "role": "assistant"} for o in r["response"]["outputs"]],
            }
            | ({"error": r["error"]} if r.get("error") else {})
            for r in responses
        ]


def _engine_defaults() -> dict:
    """A GPU where this machine has one (as `vllm.LLM` would use), the CPU engine otherwise."""
    import torch

    return {"gpus_per_engine": 1, "dtype": "auto"} if torch.cuda.is_available() else {}


def _sampling(params: Any) -> dict:
    import msgspec

    if isinstance(params, dict):
        given = dict(params)
    else:  # a vllm.SamplingParams: whatever differs from its defaults must be carried
        default = type(params)()
        fields = [f for f in params.__struct_fields__ if not f.startswith("_")]
        given = {f: getattr(params, f) for f in fields if getattr(params, f) != getattr(default, f)}
    for name, value in list(given.items()):
        try:
            given[name] = json.loads(msgspec.json.encode(value))  # plain JSON: a row and a store key hold it
        except (TypeError, msgspec.EncodeError):
            raise ValueError(
                f"sampling_params: {name} cannot travel with a request row (not JSON): {type(value).__name__}"
            ) from None
    return {**VLLM_DEFAULTS, **given}
