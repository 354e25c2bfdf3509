"""The Cortex backend's Ray Data actor: a batch is several chunks, run `max_chunks_in_flight` at a
time, each in a Snowflake session of the actor's own (a session runs one statement at a time).
Every chunk's keys are logged before it goes and its answers stored as soon as it is back, so a
crash loses at most the chunks in flight. With a `spend_limit`, a chunk takes a permit from the
run's budget actor (`budget.py`, shared with the other API backends) for its worst case before it
goes and settles at its real cost: once the limit is reached no new chunk starts, and its rows
come out failed, unsent."""

from __future__ import annotations

import queue
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pyarrow as pa
import ray

from arctic_ray.synth.backend import Target
from arctic_ray.synth.backends.cortex.answer import parse_answer
from arctic_ray.synth.backends.cortex.session import CortexSession, Failed
from arctic_ray.synth.budget import Grant
from arctic_ray.synth.keyed import STORED_COLUMNS
from arctic_ray.synth.sent_log import SentLog
from arctic_ray.synth.store import GenerationStore
from arctic_ray.synth.token_estimate import estimate_prompt_tokens

if TYPE_CHECKING:  # the config module imports this one
    from arctic_ray.synth.backends.cortex.config import CortexSynthConfig

BACKEND = "cortex"


class CortexStage:
    def __init__(self, config: CortexSynthConfig, target: Target, budget=None):
        self.cfg, self.target, self.budget = config, target, budget
        self.sessions: queue.Queue[CortexSession] = queue.Queue()
        for _ in range(config.max_chunks_in_flight):  # connecting here fails fast on bad credentials
            self.sessions.put(CortexSession(config.connection, target.model, config.retries, config.retry_backoff_s))
        self.pool = ThreadPoolExecutor(config.max_chunks_in_flight, thread_name_prefix="cortex-chunk")
        self.store, self.sent = GenerationStore(target.store), SentLog(target.store)

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = batch.to_pylist()
        size = self.cfg.chunk_rows
        chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
        return pa.Table.from_pylist([row for chunk in self.pool.map(self._chunk, chunks) for row in chunk])

    def _chunk(self, rows: list[dict]) -> list[dict]:
        grant = self._acquire(rows)
        if grant.refused:
            return [self._row(r, Failed(grant.refused)) for r in rows]
        self.sent.record([r["key"] for r in rows])
        session = self.sessions.get()
        try:
            answers = session.answer(rows)
        finally:
            self.sessions.put(session)
        out = [self._row(r, a) for r, a in zip(rows, answers, strict=False)]
        self.store.put_many([{"key": r["key"], **{c: r.get(c) for c in STORED_COLUMNS}} for r in out if not r["error"]])
        self.sent.settle([r["key"] for r in out if r["error"]])
        if self.budget:
            used = [r["usage"] for r in out if not r["error"]]
            usage = {k: sum(u[k] for u in used) for k in ("prompt_tokens", "completion_tokens")}
            self.budget.settle(grant.permit, usage, False)
        return out

    def _row(self, row: dict, answer: str | Failed) -> dict:
        error, completion, finish, usage = "", "", "error", {"prompt_tokens": 0, "completion_tokens": 0}
        if isinstance(answer, Failed):
            error = str(answer)
        else:
            try:
                parsed = parse_answer(answer)
            except ValueError as exc:
                error = f"unparseable cortex answer: {exc}"
            else:
                completion = parsed.completion
                usage = {"prompt_tokens": parsed.prompt_tokens, "completion_tokens": parsed.completion_tokens}
                max_tokens = (row.get("sampling") or {}).get("max_tokens") or self.cfg.sampling.max_tokens
                finish = parsed.finish_reason or ("length" if parsed.completion_tokens >= max_tokens else "stop")
        return {
            **row,
            "completion": completion,
            "finish_reason": finish,
            "usage": usage,
            "backend": BACKEND,
            "model": self.target.model_name,
            "error": error,
        }

    def _acquire(self, rows: list[dict]) -> Grant:
        """One permit for the whole chunk: its prompts' estimate and every row's token budget."""
        if not self.budget:
            return Grant()
        estimate = sum(estimate_prompt_tokens(r["messages"]) for r in rows)
        max_tokens = sum((r.get("sampling") or {}).get("max_tokens") or self.cfg.sampling.max_tokens for r in rows)
        return ray.get(self.budget.acquire(estimate, max_tokens))
