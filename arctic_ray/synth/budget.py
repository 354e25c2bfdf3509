"""A request budget, shared by every actor on every node: a Ray actor that grants a permit before
each attempt (first come, first served) and keeps each run's spend ledger.

- Shared by name: the requests- and tokens-per-minute limits belong to an API key, not to a run,
  so the budget is a named, detached Ray actor (`shared_budget`, named by `synth.budget_name`,
  by default backend + endpoint + the key's *name*, never the key) that every job on the cluster
  using that name finds and shares. Each run registers its own spend ledger in it: `spend_limit`
  stays a run's own.

- Rate: a sliding window of `window_s` seconds holds at most `requests_per_minute * window_s / 60`
  requests and `tokens_per_minute * window_s / 60` tokens, so no window of that length sees more.
  Requests are also paced evenly (one every `60 / requests_per_minute` s, with a short catch-up
  burst after a lull) rather than sent all at once when a window opens: providers may enforce a
  minute's limit in shorter slices, and a burst that leaves in one instant reaches the provider
  spread by the network's jitter, partly into the next window.
- Tokens: a permit books the prompt's estimate (scaled by the prompt-token ratio learned from
  `usage`) plus `max_tokens`; the answer's `usage` replaces the booking.
- Spend: a permit reserves the worst case (estimated prompt, `max_tokens` of output) and is settled
  at the real cost, so requests in flight count against `spend_limit` and the bill cannot pass it
  unless the prompt estimate is badly low. A request that no longer fits waits while others are in
  flight (they may cost less than reserved) and is refused once none are.
- A 429's Retry-After holds every actor back, not only the one that was told.

One Ray actor round trip per attempt (plus a settle that is not awaited): thousands of requests a
second, above any provider's limit for one model."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import ray

from arctic_ray.synth.backend import PricingConfig
from arctic_ray.synth.budget_accounting import PromptTokenRatio, SpendLedger, _window

GRANT_HISTORY = 10_000
"""The last grants' times (monotonic, the actor's clock) in `state()`: the rate the budget
actually granted, read where it was decided rather than from arrival times a busy machine skews."""


@dataclass(frozen=True)
class Grant:
    permit: int = 0
    refused: str = ""
    """Set when the request must not be sent (spend_limit reached)."""


@dataclass
class _Open:
    at: float
    estimate: int
    """The raw prompt estimate, to learn the ratio from."""
    run: str = ""


@dataclass
class _Run:
    """What is a run's own inside a shared budget: its prices, spend limit and ledger."""

    pricing: PricingConfig
    ledger: SpendLedger
    ratio: PromptTokenRatio


class RunBudget:
    """The Ray actor behind `start_budget` and `shared_budget` (an async actor: waiting acquires
    cost no thread). The run "" is the one it was made for; others `register`."""

    def __init__(
        self,
        requests_per_minute: float | None,
        tokens_per_minute: float | None,
        window_s: float,
        pricing: PricingConfig,
        spend_limit: float | None,
        lease_s: float,
    ):
        self._limits = (requests_per_minute, tokens_per_minute, window_s)
        self._window = _window(*self._limits)
        self._runs = {"": _Run(pricing, SpendLedger(spend_limit), PromptTokenRatio())}
        self._lease_s = lease_s
        self._open: dict[int, _Open] = {}
        self._next_permit = 1
        self._hold_until = 0.0
        self._granted = 0
        self._grant_times: deque[float] = deque(maxlen=GRANT_HISTORY)
        self._turn = asyncio.Lock()  # FIFO: a waiting request is not overtaken
        self._changed = asyncio.Event()

    def register(
        self, run: str, pricing: PricingConfig, spend_limit: float | None, limits: tuple, lease_s: float
    ) -> tuple:
        """A run joins the budget with its own spend ledger. The rate limits are the key's: the
        latest run's recipe sets them for everyone sharing the name (a changed recipe applies);
        returns the limits that were in force before, for the caller to warn about a change."""
        before = self._limits
        if tuple(limits) != before:
            self._limits = tuple(limits)
            self._window.reconfigure(_window(*self._limits))
        self._lease_s = max(self._lease_s, lease_s)
        self._runs.setdefault(run, _Run(pricing, SpendLedger(spend_limit), PromptTokenRatio()))
        return before

    async def acquire(self, prompt_estimate: int, max_tokens: int, run: str = "") -> Grant:
        mine = self._runs[run]
        async with self._turn:
            while True:
                now = time.monotonic()
                self._expire_leases(now)
                prompt = mine.ratio.scale(prompt_estimate)
                cost = mine.pricing.cost(prompt, max_tokens)
                refusal = mine.ledger.refusal(cost)
                if refusal:
                    return Grant(refused=refusal)
                delay = max(self._window.delay(now, prompt + max_tokens), self._hold_until - now)
                if delay <= 0 and mine.ledger.fits(cost):
                    return self._grant(now, prompt_estimate, prompt + max_tokens, cost, run)
                # Over the spend limit only while others are in flight: wait for one to settle.
                await self._wait(delay if delay > 0 else self._next_lease_expiry(now))

    def settle(self, permit: int, usage: dict | None, maybe_billed: bool) -> None:
        """After an attempt: `usage` of the answer, or None when it failed (`maybe_billed` when the
        provider may have generated it anyway: a timeout, a dropped connection, a garbled body)."""
        opened = self._open.pop(permit, None)
        if opened is None:
            return  # its lease expired and it was settled then
        mine = self._runs[opened.run]
        if usage:
            prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
            mine.ratio.learn(opened.estimate, prompt)
            self._window.correct(permit, prompt + completion)
            mine.ledger.settle(permit, mine.pricing.cost(prompt, completion))
        else:
            mine.ledger.settle(permit, None if maybe_billed else 0.0)
        self._changed.set()

    def hold(self, seconds: float) -> None:
        """The provider said to wait (429 Retry-After): no permit for anyone until then."""
        self._hold_until = max(self._hold_until, time.monotonic() + seconds)

    def state(self, run: str = "") -> dict:
        mine = self._runs[run]
        return {
            "granted": self._granted,
            "in_flight": len(self._open),
            "spent_usd": mine.ledger.spent,
            "reserved_usd": mine.ledger.reserved,
            "prompt_token_ratio": mine.ratio.value,
            "limits": self._limits,
            "recent_grants_s": list(self._grant_times),
        }

    def _grant(self, now: float, estimate: int, tokens: int, cost: float, run: str) -> Grant:
        permit, self._next_permit = self._next_permit, self._next_permit + 1
        self._window.record(now, permit, tokens)
        self._runs[run].ledger.reserve(permit, cost)
        self._open[permit] = _Open(now, estimate, run)
        self._granted += 1
        self._grant_times.append(now)
        return Grant(permit=permit)

    def _expire_leases(self, now: float) -> None:
        """An attempt not settled within its lease belongs to an actor that died: charge what it
        reserved, so a crash can neither lose its cost nor block the spend limit for ever."""
        for permit in [p for p, o in self._open.items() if o.at + self._lease_s <= now]:
            opened = self._open.pop(permit)
            self._runs[opened.run].ledger.settle(permit, None)

    def _next_lease_expiry(self, now: float) -> float:
        oldest = next(iter(self._open.values()), None)
        return max(0.0, oldest.at + self._lease_s - now) if oldest else 0.0

    async def _wait(self, timeout: float) -> None:
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)


def start_budget(
    requests_per_minute: float | None,
    tokens_per_minute: float | None,
    window_s: float,
    pricing: PricingConfig,
    spend_limit: float | None,
    lease_s: float,
) -> BudgetHandle:
    """A budget actor owned by the caller: it lives as long as a handle to it does (the Dataset
    that carries it), with no name to collide with another run's (Cortex's spend limit: a
    statement is not a request, there is no rate to share)."""
    actor = ray.remote(num_cpus=0, max_concurrency=100_000)(RunBudget)  # pyright: ignore[reportCallIssue]  # Ray types only task options here
    return BudgetHandle(actor.remote(requests_per_minute, tokens_per_minute, window_s, pricing, spend_limit, lease_s))


BUDGET_NAMESPACE = "arctic_ray_budgets"
"""Named budgets live here, whatever namespace a job's driver runs in."""


@dataclass(frozen=True)
class BudgetHandle:
    """What request actors hold: the budget actor and the run they spend for."""

    actor: Any
    """The `RunBudget` actor's handle (Any: Ray types a handle's methods as Never)."""
    run: str = ""

    def acquire(self, prompt_estimate: int, max_tokens: int):
        return self.actor.acquire.remote(prompt_estimate, max_tokens, self.run)

    def settle(self, permit: int, usage: dict | None, maybe_billed: bool) -> None:
        self.actor.settle.remote(permit, usage, maybe_billed)

    def hold(self, seconds: float) -> None:
        self.actor.hold.remote(seconds)

    def state(self) -> dict:
        return ray.get(self.actor.state.remote(self.run))


def shared_budget(
    name: str,
    requests_per_minute: float | None,
    tokens_per_minute: float | None,
    window_s: float,
    pricing: PricingConfig,
    spend_limit: float | None,
    lease_s: float,
) -> BudgetHandle:
    """The budget named `name` on this cluster, made if no job made it yet: a detached actor, so
    it outlives the job that made it and every later job with the name shares its window. This
    run gets a spend ledger of its own in it."""
    import logging
    import uuid

    actor = (
        ray.remote(num_cpus=0, max_concurrency=100_000)(RunBudget)  # pyright: ignore[reportCallIssue]  # Ray types only task options here
        .options(name=name, namespace=BUDGET_NAMESPACE, lifetime="detached", get_if_exists=True)
        .remote(requests_per_minute, tokens_per_minute, window_s, pricing, None, lease_s)
    )
    run = uuid.uuid4().hex
    limits = (requests_per_minute, tokens_per_minute, window_s)
    before = tuple(ray.get(actor.register.remote(run, pricing, spend_limit, limits, lease_s)))
    if before != limits:
        logging.getLogger(__name__).warning(
            "budget %r: this recipe's limits %s replace %s for every job sharing the name", name, limits, before
        )
    return BudgetHandle(actor, run)
