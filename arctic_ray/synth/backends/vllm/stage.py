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

When the engine dies. The engine runs in the actor's process, so its death (the process killed,
vLLM crashing it, or the engine failing mid-step, after which this stage ends the process) is
the actor's: Ray Data restarts a pool's dead actors and retries the tasks they had (its defaults,
`max_restarts` and `max_task_retries` -1, `config.py`), on the same actor started again, on any
node. What Ray lacks is a limit that knows rows: a prompt that kills the engine every time would
be retried forever, taking its batch-mates with it. So each actor tells the run's ledger
(`ledger.py`, an actor beside the driver) which rows it hands its engine; an actor starting again
finds the rows its dead process had there, and a retried batch learns how often each of its rows
died. A retried batch then runs its rows alone on the engine (`turns.py`: no batch-mate shares
the blame), halved by those counts (`halving.py`) until the rows that kill the engine are found
alone; those come back with an error saying so, the others are answered. Rows answered before a
later death of their batch are held by the ledger and not generated again. Engines that keep
dying with no row answered in between (every request kills them) fail the stage instead.

Why here, and not in a driver loop over failed blocks, or a stage driving engine actors of its
own: the retry stays Ray Data's (the pool's resources, autoscaling and locality are untouched,
the rows stream through once, nothing is dropped or re-planned on the driver), and all this
stage adds is a few small calls to the ledger per batch. The decision is taken again from the
ledger's counts by whichever actor runs the retried task, so it holds on a cluster of any size."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from typing import Any

import pyarrow as pa
import ray

from arctic_ray.engines.vllm.answers import answer_columns
from arctic_ray.models.ref import ModelRef
from arctic_ray.synth.backend import EXTRA_BODY, extra_body, sample_seed
from arctic_ray.synth.backends.vllm import halving
from arctic_ray.synth.backends.vllm.crash_hook import crash_if_marked
from arctic_ray.synth.backends.vllm.ledger import RowId, Seen, row_id
from arctic_ray.synth.backends.vllm.turns import EngineTurns
from arctic_ray.synth.sent_log import SentLog

log = logging.getLogger(__name__)

ENGINE_FAILED_EXIT = 70
"""The exit status of an actor that ends its own process because its engine failed mid-step."""


class VLLMEngineStage:
    def __init__(
        self, model: ModelRef, engine: Any, default_sampling: dict, store: str | None = None, ledger: Any = None
    ):
        """`ledger`: the run's `DeathLedger` (`ledger.py`); without one nothing bounds what a row
        that kills the engine costs (Ray retries its batch as often as it is told to)."""
        from arctic_ray.engines.vllm.loop import EngineLoop
        from arctic_ray.engines.vllm.settings import start_llm

        path = model.path()  # resolved and checked on this actor's node
        engine.check_supports(path)  # an actor that fails here fails the job at once, with the reason
        self.engine = engine
        self.model_name = model.name
        self.default_sampling = default_sampling
        self.sent_log = SentLog(store) if store else None
        self.ledger = ledger
        self.turns = EngineTurns()
        # The Ray actor id stays when Ray restarts the actor: how the ledger tells a restart.
        self.engine_id = ray.get_runtime_context().get_actor_id() or uuid.uuid4().hex
        if ledger is not None:
            died: list[RowId] = ray.get(ledger.started.remote(self.engine_id))
            if died and self.sent_log:  # those sends ended without an answer
                self.sent_log.settle([key for key, _ in died if key])
        self.loop = EngineLoop(lambda: start_llm(path, engine))

    async def __call__(self, batch: pa.Table) -> pa.Table:
        rows = batch.to_pylist()
        if self.ledger is None:
            answers = await self._answer(rows, [0] * len(rows))
            return pa.Table.from_pylist([{**row, **a} for row, a in zip(rows, answers, strict=True)])
        ids = [row_id(row) for row in rows]
        async with self.turns.together():
            seen: Seen | None = await self.ledger.begin.remote(self.engine_id, ids)
            if seen is None:  # no engine died with these rows: on this engine beside the others
                try:
                    answers = await self._answer(rows, [0] * len(rows))
                finally:
                    self.ledger.returned.remote(self.engine_id, ids)
                return pa.Table.from_pylist([{**row, **a} for row, a in zip(rows, answers, strict=True)])
        answers = await self._retry(rows, ids, seen)
        return pa.Table.from_pylist([{**row, **answers[i]} for i, row in enumerate(rows)])

    async def _retry(self, rows: list[dict], ids: list[RowId], seen: Seen) -> dict[int, dict]:
        """A batch an engine died with: its parts one at a time, each alone on the engine."""
        plan = halving.plan(seen.deaths)
        answers = {i: seen.held[r] for i, r in enumerate(ids) if r in seen.held}
        for group in plan.groups:
            todo = [i for i in group if i not in answers]
            if not todo:
                continue
            part = [ids[i] for i in todo]
            got: list[dict] = []
            async with self.turns.alone():
                await self.ledger.handing.remote(self.engine_id, part)
                try:
                    got = await self._answer([rows[i] for i in todo], [seen.deaths[i] for i in todo])
                finally:  # held by the ledger before the next part goes: a death there costs none of these
                    await self.ledger.returned.remote(self.engine_id, part, dict(zip(part, got, strict=False)))
            answers.update(zip(todo, got, strict=True))
        for i in plan.poison:
            why = seen.causes.get(ids[i], "its process died")
            answers[i] = answer_columns(
                None,
                self.model_name,
                error=f"engine died: the vLLM engine died {seen.deaths[i]} times with this row on it, the last time "
                f"with the row alone on a fresh engine ({why}); not sent again",
            )
        if plan.poison:
            await self.ledger.poisoned.remote([ids[i] for i in plan.poison])
        self.ledger.finished.remote(ids)
        return answers

    async def _answer(self, rows: list[dict], deaths: list[int]) -> list[dict]:
        """The answer columns of `rows`, from this actor's engine."""
        sampling = [
            sample_seed({**self.default_sampling, **_given(row.get("sampling"))}, row.get("sample")) for row in rows
        ]
        params = [_sampling_params(self.engine.sampling_params(s)) for s in sampling]
        if self.sent_log:
            await asyncio.to_thread(self.sent_log.record, [row["key"] for row in rows if row.get("key")])
        crash_if_marked(rows, deaths)  # test only: inert unless its environment variable is set
        try:
            outputs = await self.loop.chat([row["messages"] for row in rows], params)
        except BaseException:
            if self.loop.failure is not None and self.ledger is not None:
                await self._die(self.loop.failure)
            raise
        answers = [answer_columns(o, self.model_name) for o in outputs]
        if self.sent_log:
            failed = [row["key"] for row, a in zip(rows, answers, strict=True) if a["error"] and row.get("key")]
            await asyncio.to_thread(self.sent_log.settle, failed)
        return answers

    async def _die(self, failure: BaseException) -> None:
        """A vLLM engine that failed mid-step serves nothing more: end the process, so that Ray
        restarts the actor with a fresh engine and retries its batches, as after a crash (the
        ledger keeps the cause for the rows it cost)."""
        cause = f"its engine failed: {type(failure).__name__}: {failure}"[:500]
        log.error("vLLM engine for %s failed (%s): ending this actor to restart it", self.model_name, cause)
        await self.ledger.will_die.remote(self.engine_id, cause)
        os._exit(ENGINE_FAILED_EXIT)


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
