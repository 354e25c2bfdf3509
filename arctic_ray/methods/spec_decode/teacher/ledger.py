"""What the teacher knows that must outlive its process: the credits of the bounded buffer, its
counts and the rows it set aside. A small actor without an engine, beside the driver; the teacher
actor (which Ray restarts when its process dies) and the training ranks' acknowledgements both
talk to it, so a teacher that dies loses none of it.

Each teacher call is known by a call id (its rows' ids and keys). A call takes its credits once:
when the teacher dies mid-call, Ray asks the restarted teacher the same call again, and the
retried call finds its credits already taken and its rows still owed to the trainer. Counts are
added when a call delivers (after its answers are stored), once per call id, so a call answered
twice, because the caller never saw the first answer, is counted once and its answers come from
the store the second time."""

from __future__ import annotations

import hashlib
import logging
import time

import ray

from arctic_ray.train.feeder import Credits

log = logging.getLogger(__name__)


def call_id(rows: list[dict]) -> str:
    return hashlib.sha1("\n".join(f"{r['id']}\t{r['key']}" for r in rows).encode()).hexdigest()


@ray.remote(num_cpus=0, max_restarts=0)
class TeacherLedger:
    def __init__(self, max_ahead_rows: int):
        self.credits = Credits(max_ahead_rows)
        self.teachers: set[str] = set()
        self.taken: dict[str, int] = {}  # call id -> rows, for calls not delivered yet
        self.delivered_calls: set[str] = set()
        self.counts = {
            "generated": 0,
            "reused": 0,
            "errors": 0,
            "resent_after_crash": 0,
            "teacher_restarts": 0,
            "reasked_rows": 0,
        }
        self.set_aside: list[dict] = []
        self.first_call: float | None = None
        self.last_done: float | None = None

    def started(self, teacher: str) -> bool:
        """Teacher actor `teacher` (its Ray actor id, kept across restarts) starts; True when it
        started before: its process died, and the calls it was on will be asked again."""
        if teacher not in self.teachers:
            self.teachers.add(teacher)
            return False
        self.counts["teacher_restarts"] += 1
        self.counts["reasked_rows"] += sum(self.taken.values())
        log.warning(
            "the teacher restarted after its process died; %d rows it was generating are asked again",
            sum(self.taken.values()),
        )
        return True

    async def take(self, call: str, n: int) -> None:
        """Room for `n` more rows ahead of the trainer; a retried call already has it."""
        self.first_call = self.first_call or time.time()
        if call in self.taken or call in self.delivered_calls:
            return
        self.taken[call] = n
        await self.credits.take(n)

    async def delivered(self, call: str, counts: dict[str, int], set_aside: list[dict]) -> None:
        """Call `call` answered (its answers stored); rows in `set_aside` failed and will never
        reach the trainer."""
        self.last_done = time.time()
        if call in self.delivered_calls:
            return
        self.delivered_calls.add(call)
        self.taken.pop(call, None)
        for name, n in counts.items():
            self.counts[name] += n
        await self.release(len(set_aside), set_aside)

    async def release(self, n: int, reasons: list[dict] | None = None) -> None:
        """`n` rows handed out will never reach the trainer (set aside, with `reasons`, or used
        outside the stream)."""
        self.set_aside += reasons or []
        self.credits.give_back(n)

    async def consumed(self, n: int) -> None:
        """A training rank consumed `n` rows (the feeder protocol)."""
        self.credits.consumed(n)

    def stats(self) -> dict:
        return {
            **self.counts,
            **self.credits.counts,
            "max_ahead_rows": self.credits.max_ahead,
            "first_call": self.first_call,
            "last_done": self.last_done,
        }

    def set_aside_rows(self) -> list[dict]:
        return list(self.set_aside)
