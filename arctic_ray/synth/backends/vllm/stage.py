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
requests the engine was working on (`sent_log.py`).

When the engine dies, Ray Data restarts the actor and retries its batches; the engine guard
(`engines/vllm/deaths/guard.py`) bounds what a row that kills the engine every time costs: it is
found alone by halving its batch and comes back with an error saying so, its batch-mates
answered."""

from __future__ import annotations

import asyncio
from typing import Any

import pyarrow as pa

from arctic_ray.engines.vllm.answers import answer_columns
from arctic_ray.engines.vllm.deaths import crash_hook
from arctic_ray.engines.vllm.deaths.guard import EngineGuard
from arctic_ray.engines.vllm.deaths.ledger import row_id
from arctic_ray.models.ref import ModelRef
from arctic_ray.synth.backend import EXTRA_BODY, extra_body, sample_seed
from arctic_ray.synth.sent_log import SentLog


class VLLMEngineStage:
    def __init__(
        self, model: ModelRef, engine: Any, default_sampling: dict, store: str | None = None, ledger: Any = None
    ):
        """`ledger`: the run's `DeathLedger` (`engines/vllm/deaths/ledger.py`)."""
        from arctic_ray.engines.vllm.loop import EngineLoop
        from arctic_ray.engines.vllm.settings import start_llm

        path = model.path()  # resolved and checked on this actor's node
        engine.check_supports(path)  # an actor that fails here fails the job at once, with the reason
        self.engine = engine
        self.model_name = model.name
        self.default_sampling = default_sampling
        self.sent_log = SentLog(store) if store else None
        self.guard = EngineGuard(ledger)
        if self.guard.died_here and self.sent_log:  # those sends ended without an answer
            self.sent_log.settle([key for key, _ in self.guard.died_here if key])
        self.loop = EngineLoop(lambda: start_llm(path, engine))

    async def __call__(self, batch: pa.Table) -> pa.Table:
        rows = batch.to_pylist()
        answers = await self.guard.run(rows, [row_id(row) for row in rows], self._answer, self._set_aside)
        return pa.Table.from_pylist([{**row, **a} for row, a in zip(rows, answers, strict=True)])

    def _set_aside(self, _row: dict, why: str) -> dict:
        return answer_columns(None, self.model_name, error=why)

    async def _answer(self, rows: list[dict], deaths: list[int]) -> list[dict]:
        """The answer columns of `rows`, from this actor's engine."""
        sampling = [
            sample_seed({**self.default_sampling, **_given(row.get("sampling"))}, row.get("sample")) for row in rows
        ]
        params = [_sampling_params(self.engine.sampling_params(s)) for s in sampling]
        if self.sent_log:
            await asyncio.to_thread(self.sent_log.record, [row["key"] for row in rows if row.get("key")])
        if crash_hook.armed():  # test only: inert unless its environment variable is set
            crash_hook.crash_if_marked([_text(row) for row in rows], deaths)
        try:
            outputs = await self.loop.chat([row["messages"] for row in rows], params)
        except BaseException:
            if self.loop.failure is not None and self.guard.ledger is not None:
                await self.guard.die(self.loop.failure, self.model_name)
            raise
        answers = [answer_columns(o, self.model_name) for o in outputs]
        if self.sent_log:
            failed = [row["key"] for row, a in zip(rows, answers, strict=True) if a["error"] and row.get("key")]
            await asyncio.to_thread(self.sent_log.settle, failed)
        return answers


def _text(row: dict) -> str:
    return " ".join(str(m.get("content")) for m in row.get("messages") or [])


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
