"""What a training run is, typed: the driver's `TrainRun` (datasets, helpers, placement) and the
`WorkerPlan` each Ray Train worker receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ray.data

from arctic_ray.core.registry import lookup
from arctic_ray.core.storage import Location
from arctic_ray.train.config import TrainConfig
from arctic_ray.train.feeder import Feeder


@dataclass
class Phase:
    """Train on the dataset named `dataset` for `steps` optimizer steps (None: until the run's
    total), re-reading a dataset of known size as epochs; phases run in order."""

    dataset: str
    steps: int | None = None


@dataclass
class TrainRun:
    trainer: str
    """Registered trainer name."""
    train: TrainConfig
    method: Any
    """The trainer's own settings (picklable), e.g. a speculator config and a model path."""
    datasets: dict[str, ray.data.Dataset]
    """Phase datasets (split across ranks) and an optional "eval" set (every rank reads it)."""
    storage: Location
    """Where Ray Train keeps checkpoints and exports: the run directory, local or a URI."""
    name: str = "train"
    phases: list[Phase] = field(default_factory=lambda: [Phase("train")])
    num_rows: int | None = None
    """Rows of the last phase's dataset when its size is known (sets the steps of an epoch); None: it
    is a stream."""
    feeder: Feeder | None = None
    """The producer of the stream (`train/feeder.py`): told how many rows each rank consumed, to
    bound how far it runs ahead."""
    node_id: str | None = None
    """Place every worker on this node (to sit beside a co-located helper actor)."""
    callbacks: list = field(default_factory=list)
    seed: int = 0
    """Seeds the order in which each rank reads its rows."""


@dataclass
class WorkerPlan:
    trainer: type
    """The registered trainer class (resolved by name in the driver)."""
    train: TrainConfig
    method: Any
    phases: list[Phase]
    total_steps: int
    has_eval: bool
    feeder: Feeder | None
    callbacks: list
    seed: int
    streams: list[str]


def planned_steps(run: TrainRun) -> int:
    """Steps of the whole run: the earlier phases' own counts, then the last phase's epochs
    (known size) or what is left of `train.max_steps` (a stream)."""
    cfg = run.train
    if run.num_rows is None:
        if not cfg.max_steps:
            raise ValueError("max_steps is required when the training data is a stream of unknown length")
        return cfg.max_steps
    steps = run.num_rows // cfg.rows_per_step
    if steps == 0:
        raise ValueError(
            f"{run.num_rows} training rows are fewer than one optimizer step needs "
            f"({cfg.workers.num_workers} workers x {cfg.micro_batch_size} x {cfg.gradient_accumulation_steps}); "
            "lower micro_batch_size or add data"
        )
    total = sum(p.steps or 0 for p in run.phases[:-1]) + steps * cfg.epochs
    return min(total, cfg.max_steps) if cfg.max_steps else total


def worker_plan(run: TrainRun) -> WorkerPlan:
    return WorkerPlan(
        trainer=lookup("trainer", run.trainer),
        train=run.train,
        method=run.method,
        phases=run.phases,
        total_steps=planned_steps(run),
        has_eval="eval" in run.datasets,
        feeder=run.feeder,
        callbacks=list(run.callbacks),
        seed=run.seed,
        streams=streams(run),
    )


def streams(run: TrainRun) -> list[str]:
    """Datasets of unknown length: the last phase's, when the row count is not given."""
    return [] if run.num_rows is not None else [run.phases[-1].dataset]
