"""The verifier (`type: verifier`): a model's answer checked against the row's reference answer,
by `math` equivalence (math-verify), `exact` equality of the final answer, or a recipe's `regex`.
Every row gets a `verdict` (correct, incorrect, unparseable, timeout, unverifiable) and a
`verdict_reason`; as a judge step it keeps the correct rows, and `verify_rows` is the same check
for callers that want the verdicts themselves (preference data).

Checks run in batches in plain Ray tasks. Inside a task a per-answer timer (a CPU-time signal:
tasks run on the worker's main thread) stops a slow check between bytecodes, but not one stuck
in C (sympy computing a gcd of million-digit integers never returns to the interpreter). So the
driver gives each running batch a wall-clock deadline and kills a task past it with its worker;
its answers go back in halves until the one that hangs is alone, and that one is `timeout`."""

from __future__ import annotations

import logging
import re
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, NamedTuple, cast

import pyarrow as pa
import ray
import ray.data
import ray.exceptions
from pydantic import Field, field_validator, model_validator

from arctic_ray.core.errors import ArcticRayError
from arctic_ray.curate.id_join import join_by_id
from arctic_ray.curate.judges.base import JudgeConfig
from arctic_ray.curate.rejects import RAW, REASON, StepResult, split_marked
from arctic_ray.data.arrow_compute import pc

log = logging.getLogger(__name__)

CORRECT, INCORRECT, UNPARSEABLE = "correct", "incorrect", "unparseable"
TIMEOUT, UNVERIFIABLE = "timeout", "unverifiable"
OUTCOMES = (CORRECT, INCORRECT, UNPARSEABLE, TIMEOUT, UNVERIFIABLE)
VERDICT, VERDICT_REASON = "verdict", "verdict_reason"
"""The columns `verify_rows` adds to every row ("" reason on correct rows)."""

SLACK_S = 2.0
"""Added to a batch's deadline (timeout_s x answers): scheduling jitter, not check time."""
SHOWN_CHARS = 80


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


class Verdict(NamedTuple):
    verdict: str
    reason: str = ""


@dataclass
class Verified:
    rows: ray.data.Dataset
    """Every input row with `verdict` and `verdict_reason` added (lazy: a join on `id`)."""
    counts: dict[str, int]
    """Rows per outcome, every outcome named."""
    killed: int
    """Tasks killed past their deadline."""


# --- one answer, in-process ---------------------------------------------------------------------


class _Expired(BaseException):
    """The per-answer timer's exception: not an Exception, so no `except Exception` in sympy or
    math-verify swallows it."""


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise `_Expired` in the block after `seconds` of this process's CPU time (a check is not
    charged for waiting on a busy machine); where signals cannot reach (a thread other than the
    main one), no limit here: the driver's deadline is the only one."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise _Expired

    previous = signal.signal(signal.SIGVTALRM, expire)
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, previous)


def check_answer(cfg: VerifierConfig, gold: Any, completion: Any) -> Verdict:
    """One answer's verdict, in this process, with the per-answer timer."""
    gold_text, text = _text(gold), _text(completion)
    if not gold_text.strip():
        return Verdict(UNVERIFIABLE, f"no reference answer in {cfg.answer_field!r}")
    if not text.strip():
        return Verdict(UNPARSEABLE, f"no completion in {cfg.field!r}")
    check = {"math": _math, "exact": _exact, "regex": _regex}[cfg.kind]
    if cfg.kind == "math":
        _math_verify()  # a missing package is the recipe's error, not each answer's
    try:
        with _time_limit(cfg.timeout_s):
            return check(cfg, gold_text, text)
    except _Expired:
        return Verdict(TIMEOUT, f"the check ran past timeout_s ({cfg.timeout_s:g} s of CPU)")
    except Exception as exc:  # a parser's bug is this answer's problem, not the batch's
        return Verdict(UNPARSEABLE, _shown(f"the check failed: {type(exc).__name__}: {exc}", 200))


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


def _shown(text: str, limit: int = SHOWN_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@cache
def _math_verify():
    """math-verify, imported on first use (sympy is a slow import). Its own timeouts are off
    (`_time_limit` covers a whole check and tells a timeout from a wrong answer), so its warning
    that they are off is noise."""
    try:
        import math_verify
    except ImportError as exc:
        raise ArcticRayError("verifier kind 'math' needs the math-verify package: pip install math-verify") from exc
    for name in ("math_verify.parser", "math_verify.grader"):
        logging.getLogger(name).addFilter(lambda record: not record.getMessage().startswith("Timeout is disabled"))
    # sympy imports parts of itself on first use (a third of a second): not on an answer's clock
    half, point_five = (math_verify.parse(t, parsing_timeout=0) for t in ("$\\frac{1}{2}$", "0.5"))
    math_verify.verify(half, point_five, timeout_seconds=None)
    return math_verify


def _math(cfg: VerifierConfig, gold: str, text: str) -> Verdict:
    mv = _math_verify()
    # a bare reference ("x^2+1") is no LaTeX environment math-verify looks for: box it
    boxed = gold if "\\boxed" in gold or "$" in gold else f"\\boxed{{{gold}}}"
    reference = mv.parse(boxed, parsing_timeout=0)
    if not reference:
        return Verdict(UNVERIFIABLE, f"the reference answer {_shown(gold)!r} cannot be parsed as math")
    answer = mv.parse(text, parsing_timeout=0)
    if not answer:
        return Verdict(UNPARSEABLE, "no math answer found in the completion")
    if mv.verify(reference, answer, timeout_seconds=None):
        return Verdict(CORRECT)
    # never str() a parsed expression here: printing a huge one can hang; parse also gives the text it read
    texts = [a for a in answer if isinstance(a, str)]
    shown = repr(_shown(texts[-1])) if texts else "the answer"
    return Verdict(INCORRECT, f"{shown} does not equal the reference {_shown(gold)!r}")


_BOXED = "\\boxed{"
_ANSWER_IS = re.compile(r"answer\s*(?:is\s*:?|:)\s*(.+)", re.IGNORECASE)


def final_answer(text: str) -> str | None:
    """The last \\boxed{...}, else what follows the last "answer is" / "answer:" on its line,
    else the completion itself when it is one line; None when there is none."""
    start = text.rfind(_BOXED)
    if start >= 0:
        depth, begin = 1, start + len(_BOXED)
        for i in range(begin, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                return text[begin:i]
    said = list(_ANSWER_IS.finditer(text))
    if said:
        return said[-1].group(1)
    stripped = text.strip()
    return stripped if stripped and "\n" not in stripped else None


def normalise(text: str) -> str:
    """Case, runs of whitespace and a trailing period do not make answers differ."""
    return " ".join(text.split()).casefold().rstrip(".").rstrip()


def _compare(answer: str, gold: str) -> Verdict:
    if normalise(answer) == normalise(gold):
        return Verdict(CORRECT)
    return Verdict(INCORRECT, f"{_shown(answer.strip())!r} does not equal the reference {_shown(gold.strip())!r}")


def _exact(cfg: VerifierConfig, gold: str, text: str) -> Verdict:
    answer = final_answer(text)
    if answer is None or not answer.strip():
        return Verdict(UNPARSEABLE, "no final answer: no \\boxed{}, no 'answer is' or 'answer:', and not one line")
    return _compare(answer, gold)


def _regex(cfg: VerifierConfig, gold: str, text: str) -> Verdict:
    matches = list(re.finditer(cast("str", cfg.pattern), text))
    answer = matches[-1].group(1) if matches else None
    if answer is None or not answer.strip():
        return Verdict(UNPARSEABLE, f"pattern {cfg.pattern!r} found no answer in the completion")
    return _compare(answer, gold)


# --- many answers, in Ray tasks -----------------------------------------------------------------


@ray.remote(num_returns="streaming", max_retries=0)  # a killed batch is split by the driver, not rerun whole
def _check_batch(cfg: VerifierConfig, pairs: list[tuple[Any, Any]]):
    if cfg.kind == "math":
        _math_verify()  # a fresh worker's sympy import is no answer's time: before the clock starts
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
