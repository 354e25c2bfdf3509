"""A run's record of the engine deaths and the rows they cost: one small Ray actor beside the
driver that every engine actor of a stage (synthesis's `vllm` backend, the drafter's features)
tells which rows it hands its engine and when they are back (`guard.py`).

An actor cannot see its own process die, and Ray Data restarts it and retries its tasks without
saying why; what survives the death is this record, outside the dying process.
When an engine actor starts again under the same actor id, the rows it had on its engine died
with it: each such row's death count goes up (with what killed it, when the actor could say),
and the retried batch finds its counts here and is halved by them (`halving.py`). Answers of a
batch being halved are held here until the batch is out, so a later death of the same batch
costs none of them again. The counts (engine restarts, retried batches, poison rows) are what a
run reports.

Held here, in memory: rows on engines now (ids only), death counts of rows that died, answers of
batches being halved until they are out: small next to the rows themselves."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

log = logging.getLogger(__name__)

COUNTS: tuple[str, ...] = ("engine_restarts", "retried_batches", "poison_rows")
"""engine_restarts: engine actors started again after their process died; retried_batches: runs
of a batch that an engine had died with (Ray Data's retries of its task, each counted);
poison_rows: rows set aside because the engine died with each of them alone on it."""

DEATHS_WITHOUT_PROGRESS = 10
"""Engine deaths in a row, with no rows back from any engine in between, after which the stage
fails instead of restarting an engine again: every request seems to kill it (a broken engine, a
bad setting), and halving would cost a restart per row to say so."""


class EnginesKeepDying(RuntimeError):
    """Raised to the stage past `DEATHS_WITHOUT_PROGRESS`: the job fails with the cause."""


RowId = tuple[str, str]
"""(store key, row id): a row across retries (the store key alone is shared by equal requests)."""


def row_id(row: dict) -> RowId:
    return (str(row.get("key") or ""), str(row.get("id")))


@dataclass
class Seen:
    """What a retried batch's rows went through."""

    deaths: list[int]
    held: dict[RowId, dict] = field(default_factory=dict)
    """Answer columns of rows answered before the batch's last death."""
    causes: dict[RowId, str] = field(default_factory=dict)
    """What killed the engine the last time each row was on it."""


class DeathLedger:
    def __init__(self, name: str):
        self.name = name
        self.engines: set[str] = set()
        self.on_engine: dict[str, Counter[RowId]] = {}
        self.deaths: Counter[RowId] = Counter()
        self.causes: dict[RowId, str] = {}
        self.dying: dict[str, str] = {}
        self.held: dict[RowId, dict] = {}
        self.counts = dict.fromkeys(COUNTS, 0)
        self.deaths_in_a_row = 0
        self.last_cause = ""

    def started(self, engine: str) -> list[RowId]:
        """Engine actor `engine` (its Ray actor id) starts; when it started before, its process
        died and the rows it had on its engine died with it: returned (to settle their sends)."""
        if engine not in self.engines:
            self.engines.add(engine)
            return []
        died = list(self.on_engine.pop(engine, Counter()))
        cause = self.dying.pop(engine, "its process died")
        for row in died:
            self.deaths[row] += 1
            self.causes[row] = cause
        self.counts["engine_restarts"] += 1
        self.deaths_in_a_row += 1
        self.last_cause = cause
        log.warning(
            "%s: an engine actor restarted (%s) with %d rows on its engine: their batches are retried",
            self.name,
            cause,
            len(died),
        )
        return died

    def begin(self, engine: str, rows: list[RowId]) -> Seen | None:
        """None for rows no engine died with: they are on `engine` from now on. Else what they
        went through (the batch is then sent in parts, `handing` each)."""
        if self.deaths_in_a_row >= DEATHS_WITHOUT_PROGRESS:
            raise EnginesKeepDying(
                f"{self.name}: engines died {self.deaths_in_a_row} times in a row with no row answered in between "
                f"(the last time: {self.last_cause}); every request seems to kill the engine, so it is not restarted "
                "again"
            )
        deaths = [self.deaths[r] for r in rows]
        if not any(deaths):
            self.handing(engine, rows)
            return None
        self.counts["retried_batches"] += 1
        return Seen(
            deaths,
            {r: self.held[r] for r in rows if r in self.held},
            {r: self.causes[r] for r in rows if r in self.causes},
        )

    def handing(self, engine: str, rows: list[RowId]) -> None:
        self.on_engine.setdefault(engine, Counter()).update(rows)

    def returned(self, engine: str, rows: list[RowId], answers: dict[RowId, dict] | None = None) -> None:
        """The engine is done with `rows`; `answers` are held until their batch is out."""
        self.deaths_in_a_row = 0
        on = self.on_engine.get(engine)
        if on is not None:
            on.subtract(rows)
            for row in rows:
                if on[row] <= 0:
                    del on[row]
        self.held.update(answers or {})

    def will_die(self, engine: str, cause: str) -> None:
        """`engine` is about to exit because its vLLM engine failed with `cause`."""
        self.dying[engine] = cause

    def poisoned(self, rows: list[RowId]) -> None:
        self.counts["poison_rows"] += len(rows)
        for key, row in rows:
            log.warning(
                "%s: row %s (key %s) set aside: the engine died %d times with it on it, the last time with it alone",
                self.name,
                row,
                key[:12],
                self.deaths[(key, row)],
            )

    def finished(self, rows: list[RowId]) -> None:
        """The batch is out: its held answers are no longer needed (its death counts are kept)."""
        for row in rows:
            self.held.pop(row, None)

    def report(self) -> dict[str, int]:
        return dict(self.counts)


_ledgers: dict[tuple[str, Hashable], Any] = {}
"""The driver's ledgers, one per (Ray job, stage key): every generation for a synthesis target
in a run (a judge asks several times) shares one."""


def ledger_for(key: Hashable, name: str) -> Any:
    """The ledger of the engines under `key` in this Ray job (`name` says whose in its logs),
    started on the driver's node (where it dies only with the driver; its loss fails the stage
    rather than losing count)."""
    job_key = (ray.get_runtime_context().get_job_id(), key)
    if job_key not in _ledgers:
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
        actor = ray.remote(num_cpus=0, max_restarts=0)(DeathLedger)
        _ledgers[job_key] = actor.options(scheduling_strategy=here).remote(name)
    return _ledgers[job_key]


def take_counts(key: Hashable) -> dict[str, int]:
    """The counts under `key` in this Ray job; its ledger is let go (a run reports once, at its end)."""
    if not ray.is_initialized():
        return dict.fromkeys(COUNTS, 0)
    ledger = _ledgers.pop((ray.get_runtime_context().get_job_id(), key), None)
    return ray.get(ledger.report.remote()) if ledger is not None else dict.fromkeys(COUNTS, 0)
