"""Judge steps chained in the order a recipe gives them (cheap rules, then exact dedup, then a
reward model, then an LLM judge, so nobody pays to judge a duplicate). Each step sees only what
the steps before it kept; everything removed lands in one rejects table with its stage and
reason, and the counts say how many rows each step removed. A step that loses a row stops the
run: every row must end kept or rejected."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import ray.data

from arctic_ray.curate.judges.base import JudgeConfig


@dataclass
class StepCount:
    stage: str
    rows_in: int
    removed: int
    seconds: float
    backend: dict[str, int] = field(default_factory=dict)
    """The backend's own counts of a step that asks a model (engine restarts, poison rows)."""


@dataclass
class ChainResult:
    kept: ray.data.Dataset
    rejects: list[ray.data.Dataset] = field(default_factory=list)
    """One table per step, in the rejects schema (`rejects.py`)."""
    counts: list[StepCount] = field(default_factory=list)

    def describe(self) -> str:
        return "\n".join(
            f"{c.stage}: {c.rows_in} in, {c.removed} removed ({c.seconds:.1f} s)"
            + "".join(f", {k.replace('_', ' ')} {v}" for k, v in c.backend.items() if v)
            for c in self.counts
        )


def run_chain(ds: ray.data.Dataset, steps: list[JudgeConfig]) -> ChainResult:
    result = ChainResult(kept=ds.materialize())
    for step in steps:
        rows_in, started = result.kept.count(), time.time()
        out = step.apply(result.kept)
        kept, rejects = out.kept.materialize(), out.rejects.materialize()
        removed = rejects.count()
        if kept.count() + removed != rows_in:
            raise RuntimeError(
                f"judge step {step.stage!r} lost rows: {rows_in} in, {kept.count()} kept, {removed} rejected"
            )
        result.kept = kept
        result.rejects.append(rejects)
        result.counts.append(StepCount(step.stage, rows_in, removed, time.time() - started, step.backend_counts()))
    return result
