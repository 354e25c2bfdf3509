"""The verifier (`type: verifier`): a model's answer checked against the row's reference answer,
by `math` equivalence (math-verify), `exact` equality of the final answer, or a recipe's `regex`.
Every row gets a `verdict` (correct, incorrect, unparseable, timeout, unverifiable) and a
`verdict_reason`; as a judge step it keeps the correct rows, and `verify_rows` is the same check
for callers that want the verdicts themselves (preference data).

The check of one answer is `answer_check.py`; this file is the recipe step and its Ray tasks.

Checks run in batches in plain Ray tasks. Inside a task a per-answer timer (a CPU-time signal:
tasks run on the worker's main thread) stops a slow check between bytecodes, but not one stuck
in C (sympy computing a gcd of million-digit integers never returns to the interpreter). So the
driver gives each running batch a wall-clock deadline and kills a task past it with its worker;
its answers go back in halves until the one that hangs is alone, and that one is `timeout`."""

from __future__ import annotations

import logging
import re
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, cast

import pyarrow as pa
import ray
import ray.data
import ray.exceptions
from pydantic import Field, field_validator, model_validator

from arctic_ray.core.errors import ArcticRayError
from arctic_ray.curate.id_join import join_by_id
from arctic_ray.curate.judges.answer_check import CORRECT, OUTCOMES, TIMEOUT, Verdict, check_answer, load_math_verify
from arctic_ray.curate.judges.base import JudgeConfig
from arctic_ray.curate.rejects import RAW, REASON, StepResult, split_marked
from arctic_ray.data.arrow_compute import pc

log = logging.getLogger(__name__)

VERDICT, VERDICT_REASON = "verdict", "verdict_reason"
"""The columns `verify_rows` adds to every row ("" reason on correct rows)."""

SLACK_S = 2.0
"""Added to a batch's deadline (timeout_s x answers): scheduling jitter, not check time."""


class VerifierConfig(JudgeConfig):
    type: Literal["verifier"] = "verifier"

    kind: Literal["math", "exact", "regex"] = "math"
    """`math`: math-verify parses both answers and compares them as math (1/2 equals 0.5);
    `exact`: the final answer (the last \\boxed{}, else after the last "answer is" / "answer:",
    else a one-line completion itself) equals the reference after normalising (case, spaces, a
    trailing period); `regex`: `pattern`'s group in its last match is the answer, compared the same way."""

    answer_field: str = "answer"
    """The column with the reference answer; a row without one is `unverifiable`."""

    field: str = "completion"
    """The column with the model's answer (free text)."""

    pattern: str | None = None
    """For `kind: regex`: a regular expression with exactly one capturing group, the answer."""

    timeout_s: float = Field(default=5.0, gt=0)
    """CPU seconds one answer's check may spend; past it the answer is `timeout`. A task of n answers
    that has not returned after n x timeout_s (+2) wall-clock seconds is killed."""

    batch_size: int = Field(default=64, gt=0)
    """Answers per Ray task."""

    keep: Literal["correct", "all"] = "correct"
    """As a judge step: `correct` keeps the correct rows and removes the others with their
    verdict as the reason; `all` keeps every row with its verdict columns."""

    join_partitions: int = Field(default=4, ge=1)
    """Partitions of the shuffle that joins verdicts back onto rows (tables over 200k rows)."""

    @field_validator("pattern")
    @classmethod
    def _one_group(cls, pattern: str | None) -> str | None:
        if pattern is None:
            return None
        try:
            groups = re.compile(pattern).groups
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        if groups != 1:
            raise ValueError(f"needs exactly one capturing group (the answer), has {groups}")
        return pattern

    @model_validator(mode="after")
    def _regex_has_pattern(self) -> VerifierConfig:
        if self.kind == "regex" and self.pattern is None:
            raise ValueError("kind 'regex' needs a `pattern` with one capturing group")
        return self

    def apply(self, ds: ray.data.Dataset) -> StepResult:
        verified = verify_rows(ds, self)
        log.info("verifier %s: %s; %d tasks killed", self.stage, verified.counts, verified.killed)
        return split_marked(verified.rows.map_batches(self._marked, batch_format="pyarrow"), self.stage)

    def _marked(self, batch: pa.Table) -> pa.Table:
        verdicts, reasons = batch[VERDICT].to_pylist(), batch[VERDICT_REASON].to_pylist()
        keep = {CORRECT} if self.keep == "correct" else set(OUTCOMES)
        marks = ["" if v in keep else f"{v}: {r}" for v, r in zip(verdicts, reasons, strict=True)]
        return batch.append_column(REASON, pa.array(marks, pa.string())).append_column(
            RAW, pa.array([""] * len(marks), pa.string())
        )


@dataclass
class Verified:
    rows: ray.data.Dataset
    """Every input row with `verdict` and `verdict_reason` added (lazy: a join on `id`)."""
    counts: dict[str, int]
    """Rows per outcome, every outcome named."""
    killed: int
    """Tasks killed past their deadline."""


# --- many answers, in Ray tasks -----------------------------------------------------------------


@ray.remote(num_returns="streaming", max_retries=0)  # a killed batch is split by the driver, not rerun whole
def _check_batch(cfg: VerifierConfig, pairs: list[tuple[Any, Any]]):
    if cfg.kind == "math":
        load_math_verify()  # a fresh worker's sympy import is no answer's time: before the clock starts
    yield None  # started: the driver's deadline counts from here, not from a wait in the queue
    yield [tuple(check_answer(cfg, gold, completion)) for gold, completion in pairs]


@dataclass
class _Batch:
    ids: pa.Array
    pairs: list[tuple[Any, Any]]
    task: ray.ObjectRefGenerator | None = None
    started: float | None = None


class _Runner:
    """Batches through Ray tasks, a bounded number in flight; each result is (ids, verdicts)."""

    def __init__(self, cfg: VerifierConfig):
        self.cfg, self.cfg_ref = cfg, ray.put(cfg)
        self.window = 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.killed = 0
        self.results: list[tuple[pa.Array, list[Verdict]]] = []
        self.retries: deque[_Batch] = deque()
        self.running: list[_Batch] = []

    def run(self, source: Iterator[_Batch]) -> None:
        try:
            while self._submit(source):
                tasks = [_task(b) for b in self.running]
                ready, _ = ray.wait(tasks, num_returns=1, timeout=self._wait_s())
                for batch in [b for b in self.running if b.task in ready]:
                    self._take(batch)
                now = time.monotonic()
                for batch in [b for b in self.running if b.started is not None and now - b.started > self._deadline(b)]:
                    self._kill(batch)
        except BaseException:
            for batch in self.running:  # no task outlives a failed run, hung or not
                ray.cancel(_task(batch), force=True)
            raise

    def _submit(self, source: Iterator[_Batch]) -> bool:
        """Fill the window, retries first; False when nothing is left to run or wait for."""
        while len(self.running) < self.window:
            batch = self.retries.popleft() if self.retries else next(source, None)
            if batch is None:
                break
            batch.task = cast("ray.ObjectRefGenerator", _check_batch.remote(self.cfg_ref, batch.pairs))
            self.running.append(batch)
        return bool(self.running)

    def _deadline(self, batch: _Batch) -> float:
        return self.cfg.timeout_s * len(batch.pairs) + SLACK_S

    def _wait_s(self) -> float:
        now = time.monotonic()
        left = [b.started + self._deadline(b) - now for b in self.running if b.started is not None]
        return max(0.0, min([1.0, *left]))

    def _take(self, batch: _Batch) -> None:
        try:
            value = ray.get(next(_task(batch)))
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.OutOfMemoryError) as exc:
            self.running.remove(batch)
            self._split(batch, f"the check's worker died ({type(exc).__name__})")
            return
        if value is None:
            batch.started = time.monotonic()
            return
        self.running.remove(batch)
        self.results.append((batch.ids, [Verdict(*v) for v in value]))

    def _kill(self, batch: _Batch) -> None:
        ray.cancel(_task(batch), force=True)  # kills the worker process, even one stuck in C
        self.killed += 1
        self.running.remove(batch)
        self._split(batch, f"unfinished at its task's deadline ({self._deadline(batch):g} s): worker killed")

    def _split(self, batch: _Batch, why: str) -> None:
        """Halves go first in line; a single answer that failed is that answer's timeout."""
        if len(batch.pairs) == 1:
            self.results.append((batch.ids, [Verdict(TIMEOUT, why)]))
            return
        half = len(batch.pairs) // 2
        self.retries.appendleft(_Batch(batch.ids.slice(half), batch.pairs[half:]))
        self.retries.appendleft(_Batch(batch.ids.slice(0, half), batch.pairs[:half]))


def _task(batch: _Batch) -> ray.ObjectRefGenerator:
    return cast("ray.ObjectRefGenerator", batch.task)


def _batches(ds: ray.data.Dataset, cfg: VerifierConfig) -> Iterator[_Batch]:
    # whole rows from the materialized blocks: a select_columns would be one more Ray Data stage to run
    for table in ds.iter_batches(batch_size=cfg.batch_size, batch_format="pyarrow"):
        table = cast("pa.Table", table)
        pairs = list(zip(table[cfg.answer_field].to_pylist(), table[cfg.field].to_pylist(), strict=True))
        yield _Batch(table["id"].combine_chunks(), pairs)


def verify_rows(ds: ray.data.Dataset, cfg: VerifierConfig) -> Verified:
    """Every row's verdict on its `cfg.field` against its `cfg.answer_field`, rows keyed by a
    unique `id`. The driver streams (id, answer, completion) batches to the tasks and keeps only
    the verdicts; no row is dropped: an answer whose check never finishes is `timeout`."""
    from arctic_ray.curate.judges.request_rows import BROADCAST_ROWS  # driver only: it imports scipy

    ds = ds.materialize()  # read twice (batches out, verdicts joined back): computed once
    schema = ds.schema()
    if schema is not None:
        for name, column in (("id", "id"), ("answer_field", cfg.answer_field), ("field", cfg.field)):
            if column not in schema.names:
                raise ArcticRayError(f"verifier: {name} {column!r} is not a column of the rows ({schema.names})")
    runner = _Runner(cfg)
    runner.run(_batches(ds, cfg))
    ids = [i for i, _ in runner.results]
    verdicts = [v for _, vs in runner.results for v in vs]
    table = pa.table(
        {
            "id": pa.chunked_array(ids) if ids else pa.array([], pa.string()),
            VERDICT: pa.array([v.verdict for v in verdicts], pa.string()),
            VERDICT_REASON: pa.array([v.reason for v in verdicts], pa.string()),
        }
    )
    if pc.count_distinct(table["id"]).as_py() != table.num_rows:
        raise ArcticRayError("verifier: row ids are not unique; each answer needs its own `id`")
    counts = Counter(v.verdict for v in verdicts)
    verdict_table = table if table.num_rows <= BROADCAST_ROWS else ray.data.from_arrow(table)
    rows = join_by_id(ds, verdict_table, [VERDICT, VERDICT_REASON], cfg.join_partitions)
    return Verified(rows=rows, counts={o: counts[o] for o in OUTCOMES}, killed=runner.killed)
