"""The Ray Data stage behind the `vllm` backend: each actor of the pool holds one in-process
`vllm.LLM` and answers batches of rows in the shared row schema.

Why not `ray.data.llm`'s engine stage: it drives vLLM's `AsyncLLM`, which always spawns a second
engine-core process (forced to `spawn` inside a Ray actor, so vLLM is imported twice more), and
its chat-template actors import vLLM too: start-up and throughput lost against a bare
`vllm.LLM.chat` (benchmarks/synth_vllm.py measures the two). Here the engine
runs in the actor's own process, as `vllm.LLM` does, and Ray Data still does the pool, its
autoscaling, batching and back-pressure.

A batch's keys go in the sent log when it is handed to the engine (the engine's time is what a
request costs here), and failed rows are settled there, so a rerun after a crash counts the
requests the engine was working on (`sent_log.py`)."""

from __future__ import annotations

import asyncio
from typing import Any

import pyarrow as pa

from arctic_ray.engines.vllm.answers import answer_columns
from arctic_ray.models.ref import ModelRef
from arctic_ray.synth.backend import EXTRA_BODY, extra_body, sample_seed
from arctic_ray.synth.sent_log import SentLog


class VLLMEngineStage:
    def __init__(self, model: ModelRef, engine: Any, default_sampling: dict, store: str | None = None):
        from arctic_ray.engines.vllm.loop import EngineLoop
        from arctic_ray.engines.vllm.settings import start_llm

        path = model.path()  # resolved and checked on this actor's node
        engine.check_supports(path)  # an actor that fails here fails the job at once, with the reason
        self.engine = engine
        self.model_name = model.name
        self.default_sampling = default_sampling
        self.loop = EngineLoop(lambda: start_llm(path, engine))
        self.sent_log = SentLog(store) if store else None

    async def __call__(self, batch: pa.Table) -> pa.Table:
        rows = batch.to_pylist()
        sampling = [
            sample_seed({**self.default_sampling, **_given(row.get("sampling"))}, row.get("sample")) for row in rows
        ]
        params = [_sampling_params(self.engine.sampling_params(s)) for s in sampling]
        if self.sent_log:
            await asyncio.to_thread(self.sent_log.record, [row["key"] for row in rows if row.get("key")])
        outputs = await self.loop.chat([row["messages"] for row in rows], params)
        out = [{**row, **answer_columns(o, self.model_name)} for row, o in zip(rows, outputs, strict=False)]
        if self.sent_log:
            await asyncio.to_thread(self.sent_log.settle, [r["key"] for r in out if r.get("error") and r.get("key")])
        return pa.Table.from_pylist(out)


def _given(sampling: dict | None) -> dict:
    """A row's own sampling fields (Arrow fills fields other rows set with nulls)."""
    return {k: v for k, v in (sampling or {}).items() if v is not None}


def _sampling_params(sampling: dict) -> Any:
    from vllm import SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    sampling = {**{k: v for k, v in sampling.items() if k != EXTRA_BODY}, **extra_body(sampling)}
    structured = sampling.pop("structured_outputs", None)
    return SamplingParams(
        **sampling, structured_outputs=StructuredOutputsParams(**_given(structured)) if structured else None
    )
