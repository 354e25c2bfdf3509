"""Generation with vLLM engine actors, as a Ray Data stage: Ray Data does the actor pool, its
autoscaling, the batching and the restart of dead engine actors, vLLM the chat templates,
tokenization and continuous batching (`stage.py`, which also bounds the retries of rows that kill
the engine, `engines/vllm/deaths/`); this file maps recipes onto them."""

from __future__ import annotations

from typing import Literal

import ray.data
from pydantic import Field

from arctic_ray.core.config import PoolSize, bounds
from arctic_ray.engines.vllm.deaths import crash_hook
from arctic_ray.engines.vllm.deaths.ledger import ledger_for, take_counts
from arctic_ray.engines.vllm.settings import VLLMEngineConfig
from arctic_ray.models.ref import ModelRef
from arctic_ray.synth.backend import SynthConfig, Target
from arctic_ray.synth.backends.vllm.stage import VLLMEngineStage


class VLLMSynthConfig(SynthConfig, VLLMEngineConfig):
    backend: Literal["vllm"] = "vllm"
    """Generation backend (registered name)."""

    loads_weights = True

    batch_size: int = Field(default=64, gt=0)
    """Rows per batch handed to one vLLM engine actor. Every batch is a Ray Data task here and
    downstream (on a small node, often a new worker process), so small batches cost task and
    worker start-ups, while the last batches decide how evenly the engines finish, so large ones
    leave engines idle at the end (the README's benchmark table has the measured trade-off)."""

    concurrent_batches: int = Field(default=4, gt=0)
    """Batches each engine actor works on at once. A batch returns when its last row does, so
    the rows held must exceed the rows the engine runs at once (vLLM's `max_num_seqs`, or fewer
    when the KV cache is the bound) or the engine idles on stragglers."""

    concurrency: PoolSize = 1
    """vLLM engine actors (replicas): a number, or [min, max] for a pool that autoscales."""

    @property
    def rows_per_task(self) -> int:
        return self.batch_size

    def generate(self, ds: ray.data.Dataset, target: Target) -> ray.data.Dataset:
        low, high = bounds(self.concurrency)
        return ds.map_batches(
            VLLMEngineStage,
            fn_constructor_args=(
                ModelRef(target.model, target.model_key),
                self,
                self.sampling.model_dump(),
                target.store,
                ledger_for(target, f"vllm engines of {target.model_name}"),
            ),
            batch_size=self.batch_size,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(
                min_size=low, max_size=high, max_tasks_in_flight_per_actor=self.concurrent_batches
            ),
            max_concurrency=self.concurrent_batches,  # batches one engine works on at once
            num_cpus=self.cpus_per_engine,
            num_gpus=self.gpus_per_engine,
            # Ray Data's own defaults, relied on: a dead engine actor is started again (on any
            # node) and its tasks retried there; the stage bounds what a row may cost.
            max_restarts=-1,
            max_task_retries=-1,
            runtime_env={"env_vars": {**self.engine_env(), **crash_hook.forwarded()}},
        )

    def report(self, target: Target) -> dict:
        """Engine restarts, retried batches and poison rows of this run's generations for `target`
        (`engines/vllm/deaths/ledger.py`)."""
        return take_counts(target)
