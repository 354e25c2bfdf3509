"""Producers that feed a trainer while it trains (the co-located teacher today; RL rollouts or an
online judge later) speak one small protocol with the shared loop.

The loop's side (`Feeder`): after each micro-batch every rank calls `consumed(rows)`, which must
not block. The producer's side (`Credits`): rows handed out and not yet consumed are credits
spent; a producer waits for room before it makes more, so it runs at most `max_ahead` rows ahead.
Rows can sit unevenly between ranks that advance in lockstep, so a wait with no consumption at
all (4x the usual interval, 5 s at least, once consumption has begun) lets one batch through
rather than stall the run; such overruns are counted."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Feeder(Protocol):
    def consumed(self, rows: int) -> None:
        """A training rank consumed `rows` rows (called after every micro-batch; must not block)."""


class ActorFeeder:
    """The loop's handle on a producer that is a Ray actor with an async `consumed(n)` method;
    picklable, so it travels to every training worker."""

    def __init__(self, actor):
        self.actor = actor

    def consumed(self, rows: int) -> None:
        self.actor.consumed.remote(rows)


class Credits:
    """The producer's bounded buffer, for an asyncio actor: `take(n)` before making n rows,
    `give_back(n)` for rows that will never reach the trainer, `consumed(n)` as the trainer reads."""

    def __init__(self, max_ahead: int):
        self.max_ahead = max_ahead
        self.ahead = 0  # rows handed out (or being made) and not yet consumed or given back
        self.room = asyncio.Condition()
        self.last_ack, self.ack_interval = None, 1.0  # no ack yet: the trainer may still be starting
        self.counts = {"consumed": 0, "max_ahead": 0, "overruns": 0}

    async def take(self, n: int) -> None:
        async with self.room:
            while self.ahead > 0 and self.ahead + n > self.max_ahead:
                patience = max(5.0, 4 * self.ack_interval)
                try:
                    await asyncio.wait_for(self.room.wait(), patience)
                except TimeoutError:
                    if self.last_ack and time.time() - self.last_ack >= patience:  # consumers wait for rows
                        self.counts["overruns"] += 1
                        break
            self.ahead += n
            self.counts["max_ahead"] = max(self.counts["max_ahead"], self.ahead)

    def give_back(self, n: int) -> None:
        self.ahead = max(self.ahead - n, 0)
        asyncio.get_running_loop().create_task(self._notify())

    def consumed(self, n: int) -> None:
        now = time.time()
        if self.last_ack:
            self.ack_interval = 0.8 * self.ack_interval + 0.2 * (now - self.last_ack)
        self.last_ack = now
        self.counts["consumed"] += n
        self.give_back(n)

    async def _notify(self) -> None:
        async with self.room:
            self.room.notify_all()
