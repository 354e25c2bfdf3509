"""The Ray Data actor of the OpenAI-protocol backends: each actor sends many requests at once on
its event loop (at most `max_concurrency` in flight), takes a permit from the run's budget actor
before every attempt, retries under that budget, and writes every answer to the store as it
arrives. A row's key goes in the sent log when its first attempt really leaves (slot and permit
in hand), and is settled there when the row ends failed, so a rerun after a crash counts exactly
the requests that were in flight."""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING

import pyarrow as pa

from arctic_ray.synth.backend import Target
from arctic_ray.synth.backends.openai.attempt import Answer, Failure, classify, complete, request_kwargs
from arctic_ray.synth.keyed import STORED_COLUMNS
from arctic_ray.synth.sent_log import SentBatcher, SentLog
from arctic_ray.synth.store import StoreWriter
from arctic_ray.synth.token_estimate import estimate_prompt_tokens

if TYPE_CHECKING:  # the config module imports this one
    import openai

    from arctic_ray.synth.backends.openai.config import OpenAISynthConfig


class ChatCompletionsActor:
    def __init__(self, synth: OpenAISynthConfig, target: Target, budget):
        """`synth`: the backend's `OpenAISynthConfig` (or Azure's)."""
        self.synth = synth
        self.target = target
        self.budget = budget
        self.backend = synth.discriminator_value()
        self.default_sampling = synth.sampling.model_dump()
        self.writer = StoreWriter(target.store)
        log = SentLog(target.store)
        self.sent, self.settled = SentBatcher(log.record), SentBatcher(log.settle)
        self.slots = asyncio.Semaphore(synth.max_concurrency)
        self.client: openai.AsyncOpenAI | None = None
        self.secret = ""

    async def __call__(self, batch: pa.Table) -> pa.Table:
        if self.client is None:
            # Built on the loop that uses it; the key is looked up here, on the node that sends.
            self.client = self.synth.connection.client()
            self.secret = self.client.api_key
        rows = batch.to_pylist()
        answered = await asyncio.gather(*(self._answer(row) for row in rows))
        await asyncio.to_thread(self.writer.flush)
        return pa.Table.from_pylist(answered)

    def __del__(self):
        self.writer.close()

    async def _answer(self, row: dict) -> dict:
        synth = self.synth
        sampling = {**self.default_sampling, **(row.get("sampling") or {})}
        estimate = estimate_prompt_tokens(row["messages"])
        kwargs = request_kwargs(
            self.target.model, row["messages"], sampling, row.get("sample") or 0, synth.token_limit_param
        )
        sent = False
        for attempt in range(1, synth.max_attempts + 1):
            outcome = await self._attempt(kwargs, estimate, sampling["max_tokens"], None if sent else row["key"])
            sent = sent or not (isinstance(outcome, Failure) and outcome.unsent)
            if isinstance(outcome, Answer):
                out = self._row(
                    row, completion=outcome.completion, finish_reason=outcome.finish_reason, usage=outcome.usage
                )
                await asyncio.to_thread(self.writer.add, {"key": row["key"], **{c: out.get(c) for c in STORED_COLUMNS}})
                return out
            if not outcome.retry or attempt == synth.max_attempts:
                if sent:
                    await self.settled.log(row["key"])
                reason = outcome.reason if not outcome.retry else f"{outcome.reason} (gave up after {attempt} attempts)"
                return self._row(row, error=reason)
            await self._wait_before_retry(outcome, attempt)
        raise AssertionError("unreachable: max_attempts >= 1, and the last attempt returns")

    async def _attempt(self, kwargs: dict, estimate: int, max_tokens: int, first_send: str | None) -> Answer | Failure:
        """`first_send`: the row's key when no attempt of it has left yet (it is logged as sent)."""
        assert self.client is not None  # made by __call__ before any request
        async with self.slots:
            # The permit is taken only when the request can leave at once, so the window the
            # budget booked is the window the provider sees.
            grant = await self.budget.acquire(estimate, max_tokens)
            if grant.refused:
                return Failure(grant.refused, retry=False, maybe_billed=False, unsent=True)
            if first_send is not None:
                await self.sent.log(first_send)
            try:
                answer = await complete(self.client, kwargs, self.synth.stream, estimate)
            except Exception as exc:
                failure = classify(exc, self.secret, self.synth.connection.timeout_s)
                self.budget.settle(grant.permit, None, failure.maybe_billed)
                return failure
            self.budget.settle(grant.permit, answer.usage, False)
            return answer

    async def _wait_before_retry(self, failure: Failure, attempt: int) -> None:
        if failure.retry_after_s is not None:
            if failure.rate_limited:
                self.budget.hold(failure.retry_after_s)
            await asyncio.sleep(failure.retry_after_s)
            return
        step = min(self.synth.max_backoff_s, self.synth.backoff_s * 2 ** (attempt - 1))
        # Jitter spreads the retries of a burst that failed together.
        await asyncio.sleep(step * random.uniform(0.5, 1.0))

    def _row(
        self, row: dict, completion: str = "", finish_reason: str = "error", usage: dict | None = None, error: str = ""
    ) -> dict:
        return {
            **row,
            "completion": completion,
            "finish_reason": finish_reason,
            "usage": usage or {"prompt_tokens": 0, "completion_tokens": 0},
            "backend": self.backend,
            "model": self.target.model_name,
            "error": error,
        }
