"""Generation with Snowflake Cortex (`SNOWFLAKE.CORTEX.COMPLETE`), set-based: prompts are staged
in a temporary table and answered a chunk per statement (`cortex_session.py`), by a pool of Ray
actors each holding its own Snowflake sessions (`cortex_stage.py`)."""

from __future__ import annotations

from typing import ClassVar, Literal

import ray.data
from pydantic import Field, model_validator

from arctic_ray.core.config import PoolSize
from arctic_ray.data.snowflake_connection import SnowflakeConnection
from arctic_ray.synth.backend import SynthConfig, Target
from arctic_ray.synth.backends.cortex.pricing import CortexPricing
from arctic_ray.synth.backends.cortex.sql import check_model
from arctic_ray.synth.backends.cortex.stage import CortexStage
from arctic_ray.synth.budget import start_budget

CHUNK_LEASE_S = 3600.0
"""A chunk unsettled this long belongs to a dead actor: the budget charges what it reserved."""


class CortexSynthConfig(SynthConfig):
    backend: Literal["cortex"] = "cortex"
    """Generation backend (registered name)."""

    persists_answers: ClassVar[bool] = True

    connection: SnowflakeConnection
    """Where Cortex runs; its database and schema hold the session's temporary staging table."""

    pricing: CortexPricing = CortexPricing()

    chunk_rows: int = Field(default=100, gt=0)
    """Prompts answered by one statement."""

    max_chunks_in_flight: int = Field(default=4, gt=0)
    """Statements running at once per actor (each in its own Snowflake session)."""

    concurrency: PoolSize = 1
    """Ray actors (a number, or [min, max] to autoscale); a batch handed to one is
    `chunk_rows * max_chunks_in_flight` rows."""

    retries: int = Field(default=1, ge=0)
    """Further tries of a failed statement before its rows are split in halves."""

    retry_backoff_s: float = Field(default=1.0, ge=0.0)
    """Wait before the first retry, doubled for each next one."""

    in_driver: bool = False
    """Answer in this process rather than in Ray actors: for a secret that lives only in this
    process's environment (ArcticTraining's `CortexSynth(password=...)` once Ray is running,
    whose workers cannot see it); still set-based, `max_chunks_in_flight` sessions."""

    @model_validator(mode="after")
    def _check(self) -> CortexSynthConfig:
        if not (self.connection.database and self.connection.schema_):
            raise ValueError(
                "cortex needs connection.database and connection.schema (its temporary staging table lives there)"
            )
        priced = self.pricing.input_per_million or self.pricing.output_per_million
        if self.spend_limit is not None and not priced:
            raise ValueError(
                "spend_limit needs pricing (input_per_million, output_per_million): without it nothing is ever spent"
            )
        return self

    @property
    def rows_per_task(self) -> int:
        return self.chunk_rows * self.max_chunks_in_flight

    def generate(self, ds: ray.data.Dataset, target: Target) -> ray.data.Dataset:
        check_model(target.model)
        if self.in_driver:
            stage = CortexStage(config=self, target=target, budget=self.run_budget())
            tables = [stage(batch) for batch in ds.iter_batches(batch_size=self.rows_per_task, batch_format="pyarrow")]
            return ray.data.from_arrow(tables) if tables else ds
        return ds.map_batches(
            CortexStage,
            fn_constructor_kwargs={"config": self, "target": target, "budget": self.run_budget()},
            batch_size=self.rows_per_task,
            batch_format="pyarrow",
            concurrency=self.concurrency,
            num_cpus=0.25,  # it waits on Snowflake
        )

    def run_budget(self):
        """The run's budget actor when there is a spend limit to hold (no rate limits: a statement
        is not a request), else None."""
        if self.spend_limit is None:
            return None
        return start_budget(None, None, 60.0, self.pricing, self.spend_limit, lease_s=CHUNK_LEASE_S)
