"""Online chat completions over the OpenAI protocol: `openai` (api.openai.com or any compatible
`base_url`, vLLM's own server included) and `azure_openai` (an Azure OpenAI resource, where the
model is the deployment name).

A pool of Ray Data actors sends the requests (`actor.py`); one budget actor per API key
(`budget.py`: named by `budget_name`, shared by every job on the cluster that uses the name) holds
every actor of every such job to the requests- and tokens-per-minute limits, and each run to its
own `spend_limit`. The recipe holds only the *name* of the key; each actor looks it up itself."""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import ray.data
from pydantic import Field, model_validator

from arctic_ray.core.config import PoolSize, bounds
from arctic_ray.synth.backend import SynthConfig, Target
from arctic_ray.synth.backends.openai.actor import ChatCompletionsActor
from arctic_ray.synth.budget import shared_budget
from arctic_ray.synth.openai_connection import OpenAIConnection

LEASE_TIMEOUTS = 10
"""An attempt unsettled after this many request timeouts belongs to a dead actor (budget.py)."""


class OpenAISynthConfig(SynthConfig):
    backend: Literal["openai"] = "openai"
    """Generation backend (registered name)."""

    connection_kind: ClassVar[str] = "openai"
    persists_answers: ClassVar[bool] = True

    connection: OpenAIConnection = OpenAIConnection()

    concurrency: PoolSize = 2
    """Request actors: a number, or [min, max] for a pool that autoscales (the budget is shared
    by however many there are)."""

    max_concurrency: int = Field(default=32, gt=0)
    """Most requests in flight in one actor."""

    batch_size: int = Field(default=64, gt=0)
    """Rows per batch handed to an actor; its answers are flushed to the store when it ends."""

    cpus_per_actor: float = Field(default=0.25, gt=0)
    """An actor mostly waits on the network."""

    requests_per_minute: float | None = Field(default=None, gt=0)
    """The run's request budget over every actor (None: unlimited)."""

    tokens_per_minute: float | None = Field(default=None, gt=0)
    """The run's token budget (prompt + completion) over every actor (None: unlimited)."""

    budget_name: str | None = Field(default=None, min_length=1, max_length=200)
    """The rate budget this run draws on: jobs on one cluster with the same name share one
    limiter (the limits belong to the API key, not to a run). None: derived from the backend,
    the endpoint and the key's *name* (`connection.api_key_env`), never the key itself."""

    window_s: float = Field(default=60.0, gt=0)
    """The budget's sliding window: no `window_s` seconds see more than that share of the
    per-minute limits (requests are paced evenly within it either way). 60 follows a per-minute
    limit exactly; tests use 1 to see the limit hold within seconds."""

    max_attempts: int = Field(default=5, ge=1)
    """Attempts per row (the first included) before it goes to errors with the last reason."""

    backoff_s: float = Field(default=1.0, gt=0)
    """Wait before the first retry; doubled on each later one (with jitter), unless the server sent Retry-After."""

    max_backoff_s: float = Field(default=60.0, gt=0)

    stream: bool = False
    """Receive answers as server-sent events (a long answer does not hit the read timeout)."""

    token_limit_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    """How `sampling.max_tokens` is sent: OpenAI's reasoning models accept only `max_completion_tokens`."""

    @model_validator(mode="after")
    def _check(self) -> OpenAISynthConfig:
        if self.connection.kind != self.connection_kind:
            raise ValueError(
                f"backend {self.backend} needs connection.kind {self.connection_kind!r}, not {self.connection.kind!r}"
            )
        if self.requests_per_minute is not None and self.requests_per_minute * self.window_s / 60 < 1:
            raise ValueError(
                f"requests_per_minute {self.requests_per_minute:g} allows less than one request "
                f"per window_s {self.window_s:g}: lengthen window_s"
            )
        priced = self.pricing.input_per_million or self.pricing.output_per_million
        if self.spend_limit is not None and not priced:
            raise ValueError(
                "spend_limit needs pricing (input_per_million, output_per_million): without it nothing is ever spent"
            )
        return self

    def generate(self, ds: ray.data.Dataset, target: Target) -> ray.data.Dataset:
        budget = shared_budget(
            self.shared_budget_name,
            self.requests_per_minute,
            self.tokens_per_minute,
            self.window_s,
            self.pricing,
            self.spend_limit,
            lease_s=LEASE_TIMEOUTS * self.connection.timeout_s,
        )
        low, high = bounds(self.concurrency)
        return ds.map_batches(
            ChatCompletionsActor,
            fn_constructor_kwargs={"synth": self, "target": target, "budget": budget},
            batch_size=self.batch_size,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(
                min_size=low,
                max_size=high,
                max_tasks_in_flight_per_actor=self._batches_per_actor(),
                max_concurrent_calls_per_actor=self._batches_per_actor(),
            ),
            num_cpus=self.cpus_per_actor,
        )

    @property
    def rows_per_task(self) -> int:
        return self.batch_size

    @property
    def shared_budget_name(self) -> str:
        if self.budget_name:
            return self.budget_name
        endpoint = self.connection.endpoint or self.connection.base_url or "https://api.openai.com/v1"
        return f"{self.backend}|{endpoint.rstrip('/')}|{self.connection.api_key_env}"

    def _batches_per_actor(self) -> int:
        """Batches an actor works on at once: enough to keep `max_concurrency` requests in flight
        while a batch or two wait on one slow row's retries (a batch returns when its last row does)."""
        return math.ceil(self.max_concurrency / self.batch_size) + 2


class AzureOpenAISynthConfig(OpenAISynthConfig):
    """The same over Azure OpenAI: `connection.endpoint`, `connection.api_version`, and the
    target model is the deployment name (/openai/deployments/{model}/chat/completions)."""

    backend: Literal["azure_openai"] = "azure_openai"
    """Generation backend (registered name)."""

    connection_kind: ClassVar[str] = "azure"

    connection: OpenAIConnection = OpenAIConnection(kind="azure", api_key_env="AZURE_OPENAI_API_KEY")
