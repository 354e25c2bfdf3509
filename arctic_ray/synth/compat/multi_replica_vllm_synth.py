"""ArcticTraining's `MultiReplicaVllmSynth`: several vLLM replicas answering one task. Theirs
launches one `vllm serve` process per `tensor_parallel` GPUs of `gpu_ids` and spreads requests
over their HTTP endpoints; here the replicas are the `vllm` backend's Ray Data engine actors
(`concurrency` = `len(gpu_ids) // tensor_parallel` where there are GPUs, one CPU engine where
there are none), so Ray places them on any node and the store answers what it already has.

Its response shape is theirs: `response` is the completion text (`""` for a request that
failed, which also carries `error`), and `extract_messages_from_responses` gives one choice per
request. `teardown()` is accepted: the engines end with the task's Dataset."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from arctic_ray.synth.compat.vllm_synth import VllmSynth


class MultiReplicaVllmSynth(VllmSynth):
    def __init__(
        self,
        model_params: dict,
        sampling_params: Any = None,
        work_dir: str | None = None,
        tensor_parallel: int = 1,
        gpu_ids: Sequence[int] = (0, 1, 2, 3, 4, 5, 6, 7),
    ):
        import torch

        if tensor_parallel != 1:
            raise ValueError("tensor_parallel > 1 is not supported: one engine per replica")
        replicas = (
            max(1, min(len(gpu_ids), torch.cuda.device_count()) // tensor_parallel) if torch.cuda.is_available() else 1
        )
        super().__init__({"concurrency": replicas, **model_params}, sampling_params, work_dir)
        self.gpu_ids = list(gpu_ids)

    def _response(self, request: dict, answers: list[dict]) -> dict:
        return {"custom_id": request["custom_id"], "response": answers[0]["completion"]}

    def _failed(self, request: dict, reason: str) -> dict:
        return {"custom_id": request["custom_id"], "response": "", "error": reason}

    @staticmethod
    def extract_messages_from_responses(responses: list[dict]) -> list[dict]:
        return [
            {"custom_id": r["custom_id"], "choices": [{"content": r["response"], "role": "assistant"}]}
            | ({"error": r["error"]} if r.get("error") else {})
            for r in responses
        ]

    def teardown(self) -> None:
        """Theirs killed its servers; the engines here belong to each task's Dataset."""
