"""Who may have rows on an actor's engine at once: any number of ordinary batches together, or a
suspect group (rows an engine already died with) alone.

An engine's death kills every batch it holds, so a death while a suspect group shares the engine
would blame its batch-mates as well, and the halving (`halving.py`) could never single out the
row at fault. A suspect group therefore waits until the batches on the engine are done, and
batches that arrive meanwhile wait behind it (else a busy actor would never let it run)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class EngineTurns:
    def __init__(self) -> None:
        self._changed = asyncio.Condition()  # bound to the actor's event loop on first use
        self._together = 0
        self._alone = False
        self._waiting_alone = 0

    @asynccontextmanager
    async def together(self) -> AsyncIterator[None]:
        async with self._changed:
            await self._changed.wait_for(lambda: not self._alone and not self._waiting_alone)
            self._together += 1
        try:
            yield
        finally:
            async with self._changed:
                self._together -= 1
                self._changed.notify_all()

    @asynccontextmanager
    async def alone(self) -> AsyncIterator[None]:
        async with self._changed:
            self._waiting_alone += 1
            try:
                await self._changed.wait_for(lambda: not self._alone and not self._together)
            except BaseException:  # cancelled: the batches waiting behind it go on
                self._waiting_alone -= 1
                self._changed.notify_all()
                raise
            self._waiting_alone -= 1
            self._alone = True
        try:
            yield
        finally:
            async with self._changed:
                self._alone = False
                self._changed.notify_all()
