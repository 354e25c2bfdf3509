"""Which requests really went out, so a rerun can say exactly how many it sends again because a
crash caught them in flight (`resent_after_crash`).

The log lives beside the answers in the generation store as `sent-*.jsonl` segments of events:
`sent` when a request leaves (after its slot and its budget permit, right before the call: not
when its batch is queued), `settled` when it ended without an answer the store keeps (it failed,
or its batch expired before running it). A key with more `sent` than `settled` events and no
stored answer was in flight at a crash. Counting, not ordering, decides, so segments from any
number of processes can be read in any order.

`SentBatcher` groups the sends of many concurrent requests into one segment write (a group
commit): each request waits for the write that holds its key, so no request goes out unlogged,
and a busy actor writes one file per group, not one per request."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from arctic_ray.synth.segments import SENT_PREFIX, _Segments

SENT, SETTLED = "sent", "settled"


class SentLog:
    def __init__(self, root: Any, since: float | None = None):
        """`since` (a Unix time): read only what was logged from then on (a run's own sends), not
        the whole log, which grows with every run."""
        # Not fsynced: a send waits for its log write, so that write is on the request's path, and
        # a power loss costs only a count (a process crash still leaves whole segments).
        self._segments = _Segments(root, SENT_PREFIX, fsync=False)
        self._since = since
        self._sent: Counter[str] = Counter()
        self._settled: Counter[str] = Counter()
        self._sent_since: set[str] = set()
        """Keys sent after the first look at the log (by this run, or a run beside it)."""
        self._looked = False

    def record(self, keys: Iterable[str]) -> None:
        """These requests are leaving now."""
        self._write(keys, SENT)

    def settle(self, keys: Iterable[str]) -> None:
        """These requests ended without an answer to store (failed, or never run)."""
        self._write(keys, SETTLED)

    def refresh(self) -> set[str]:
        """Read what was logged since the last look (by any process); returns the keys sent in it."""
        sent_now = set()
        for row in self._segments.read_new(None if self._since is None else self._since - 5):  # 5 s: coarse mtimes
            if self._since is not None and row.get("at", self._since) < self._since:
                continue
            if row.get("event", SENT) == SENT:
                self._sent[row["key"]] += 1
                sent_now.add(row["key"])
            else:
                self._settled[row["key"]] += 1
        if self._looked or self._since is not None:
            self._sent_since |= sent_now
        self._looked = True
        return sent_now

    def refresh_all_new(self) -> set[str]:
        """Every key sent since this log was first read."""
        self.refresh()
        return set(self._sent_since)

    def keys(self) -> set[str]:
        """Every key ever logged as sent."""
        self.refresh()
        return set(self._sent)

    def in_flight(self, keys: Iterable[str], refresh: bool = True) -> set[str]:
        """Of `keys` (ones without a stored answer), those whose last send never settled."""
        if refresh:
            self.refresh()
        return {k for k in keys if self._sent[k] > self._settled[k]}

    def _write(self, keys: Iterable[str], event: str) -> None:
        at = time.time()
        rows = [{"key": k, "event": event, "at": at} for k in keys]
        if rows:
            self._segments.write(rows)


class SentBatcher:
    """Async group commit over a `SentLog`, for an actor with many requests in flight."""

    def __init__(self, write: Callable[[list[str]], None]):
        """`write`: `SentLog.record` (requests leaving) or `SentLog.settle`."""
        self.write = write
        self._pending: list[str] = []
        self._written: asyncio.Future | None = None

    async def log(self, key: str) -> None:
        """Returns once `key` is in the log: for a send, call right before the request goes."""
        self._pending.append(key)
        if self._written is None:
            self._written = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().create_task(self._flush(self._written))
        await asyncio.shield(self._written)

    async def _flush(self, done: asyncio.Future) -> None:
        await asyncio.sleep(0)  # let every request that is ready now join this write
        keys, self._pending, self._written = self._pending, [], None
        try:
            await asyncio.to_thread(self.write, keys)
        except Exception as exc:
            done.set_exception(exc)
        else:
            done.set_result(None)
