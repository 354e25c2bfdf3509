"""What an engine actor of a Ray Data stage does so that its engine's death costs a bounded
number of retries: the part shared by synthesis's `vllm` stage and the drafter's features stage.

The engine runs in the actor's process, so its death (the process killed, vLLM crashing it, or
the engine failing mid-step, after which the actor ends its process: `die`) is the actor's: Ray
Data restarts a pool's dead actors and retries the tasks they had (`max_restarts` and
`max_task_retries` -1), on the same actor started again, on any node. What Ray lacks is a limit
that knows rows: a row that kills the engine every time would be retried forever, taking its
batch-mates with it. So each actor tells the run's ledger (`ledger.py`, an actor beside the
driver) which rows it hands its engine; an actor starting again finds the rows its dead process
had there, and a retried batch learns how often each of its rows died. A retried batch then runs
its rows alone on the engine (`turns.py`: no batch-mate shares the blame), halved by those counts
(`halving.py`) until the rows that kill the engine are found alone; those come back as the
stage's error rows, the others are answered. Rows answered before a later death of their batch
are held by the ledger and not computed again. Engines that keep dying with no row answered in
between (every request kills them) fail the stage instead.

Why here, and not in a driver loop over failed blocks, or a stage driving engine actors of its
own: the retry stays Ray Data's (the pool's resources, autoscaling and locality are untouched,
the rows stream through once, nothing is dropped or re-planned on the driver), and all this adds
is a few small calls to the ledger per batch. The decision is taken again from the ledger's
counts by whichever actor runs the retried task, so it holds on a cluster of any size."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import ray

from arctic_ray.engines.vllm.deaths import halving
from arctic_ray.engines.vllm.deaths.ledger import RowId, Seen
from arctic_ray.engines.vllm.deaths.turns import EngineTurns

log = logging.getLogger(__name__)

ENGINE_FAILED_EXIT = 70
"""The exit status of an actor that ends its own process because its engine failed mid-step."""

Answer = Callable[[list[dict], list[int]], Awaitable[list[dict]]]
"""The stage's own work on rows (with how often an engine died with each): one output per row."""

Poisoned = Callable[[dict, str], dict]
"""The stage's output for a row set aside, from the row and the reason."""


class EngineGuard:
    def __init__(self, ledger: Any = None):
        """`ledger`: the run's `DeathLedger`; without one nothing bounds what a row that kills
        the engine costs (Ray retries its batch as often as it is told to)."""
        self.ledger = ledger
        self.turns = EngineTurns()
        # The Ray actor id stays when Ray restarts the actor: how the ledger tells a restart.
        self.engine_id = ray.get_runtime_context().get_actor_id() or uuid.uuid4().hex
        self.died_here: list[RowId] = []
        """Rows this actor's dead process had on its engine (empty on a first start)."""
        if ledger is not None:
            self.died_here = ray.get(ledger.started.remote(self.engine_id))

    async def run(self, rows: list[dict], ids: list[RowId], answer: Answer, poisoned: Poisoned) -> list[dict]:
        """`answer(rows)`'s outputs, one per row, with the rows the engine dies with set aside."""
        if self.ledger is None:
            return await answer(rows, [0] * len(rows))
        async with self.turns.together():
            seen: Seen | None = await self.ledger.begin.remote(self.engine_id, ids)
            if seen is None:  # no engine died with these rows: on this engine beside the others
                try:
                    return await answer(rows, [0] * len(rows))
                finally:
                    self.ledger.returned.remote(self.engine_id, ids)
        out = await self._retry(rows, ids, seen, answer, poisoned)
        return [out[i] for i in range(len(rows))]

    async def _retry(
        self, rows: list[dict], ids: list[RowId], seen: Seen, answer: Answer, poisoned: Poisoned
    ) -> dict[int, dict]:
        """A batch an engine died with: its parts one at a time, each alone on the engine."""
        plan = halving.plan(seen.deaths)
        out = {i: seen.held[r] for i, r in enumerate(ids) if r in seen.held}
        for group in plan.groups:
            todo = [i for i in group if i not in out]
            if not todo:
                continue
            part = [ids[i] for i in todo]
            got: list[dict] = []
            async with self.turns.alone():
                await self.ledger.handing.remote(self.engine_id, part)
                try:
                    got = await answer([rows[i] for i in todo], [seen.deaths[i] for i in todo])
                finally:  # held by the ledger before the next part goes: a death there costs none of these
                    await self.ledger.returned.remote(self.engine_id, part, dict(zip(part, got, strict=False)))
            out.update(zip(todo, got, strict=True))
        for i in plan.poison:
            why = seen.causes.get(ids[i], "its process died")
            out[i] = poisoned(
                rows[i],
                f"engine died: the vLLM engine died {seen.deaths[i]} times with this row on it, the last time "
                f"with the row alone on a fresh engine ({why}); not sent again",
            )
        if plan.poison:
            await self.ledger.poisoned.remote([ids[i] for i in plan.poison])
        self.ledger.finished.remote(ids)
        return out

    async def die(self, failure: BaseException, what: str) -> None:
        """A vLLM engine that failed mid-step serves nothing more: end the process, so that Ray
        restarts the actor with a fresh engine and retries its batches, as after a crash (the
        ledger keeps the cause for the rows it cost)."""
        cause = f"its engine failed: {type(failure).__name__}: {failure}"[:500]
        log.error("vLLM engine for %s failed (%s): ending this actor to restart it", what, cause)
        if self.ledger is not None:
            await self.ledger.will_die.remote(self.engine_id, cause)
        os._exit(ENGINE_FAILED_EXIT)
