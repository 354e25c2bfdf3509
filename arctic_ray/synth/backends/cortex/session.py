"""One Snowflake session answering chunks of prompts with Cortex, set-based.

A chunk is staged in the session's temporary table (one executemany) and answered by one SELECT
with TRY_COMPLETE, so a row Cortex cannot answer comes back NULL instead of failing the others.
Rows left NULL are asked again with COMPLETE, which either answers them (a passing fault) or
raises with the reason. A statement that fails is retried, then its rows are split in halves,
recursively down to single rows, so no row's failure sinks another row; a single row that still
fails carries the statement's error as its reason. (A COMPLETE over several rows is split at once:
its failure is most likely one of its rows', and only a single row's retry can tell.) TRY_COMPLETE
fails a statement only for the statement's sake (warehouse, network, timeout), so there, once a
first half has failed whole with its parent's very error, the second half is given that error
unsent: a broken warehouse costs a few statements per chunk, not two per row."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any, TypeVar

from arctic_ray.data.snowflake_connection import SnowflakeConnection
from arctic_ray.synth.backends.cortex.sql import (
    COMPLETE,
    CREATE_STAGE,
    DELETE_CHUNK,
    INSERT_STAGE,
    TRY_COMPLETE,
    complete_sql,
    staged_messages,
    staged_options,
)

T = TypeVar("T")


class Failed(str):
    """A row's failure reason (a plain answer is the raw Cortex text)."""


class CortexSession:
    def __init__(self, connection: SnowflakeConnection, model: str, retries: int = 1, backoff_s: float = 1.0):
        self.model, self.retries, self.backoff_s = model, retries, backoff_s
        self.conn = connection.connect()
        self.conn.cursor().execute(CREATE_STAGE)
        self._chunk_ids = itertools.count()

    def answer(self, rows: list[dict]) -> list[str | Failed]:
        """For each row (`messages`, merged `sampling`), Cortex's raw answer or a `Failed` reason."""
        chunk = next(self._chunk_ids)
        staged = [
            (chunk, pos, staged_messages(r["messages"]), staged_options(r.get("sampling") or {}))
            for pos, r in enumerate(rows)
        ]
        try:
            self._with_retries(lambda cur: cur.executemany(INSERT_STAGE, staged), self.retries)
        except Exception as exc:
            return [Failed(f"cortex staging failed: {_reason(exc)}")] * len(rows)
        try:
            answers = self._settle(chunk, list(range(len(rows))), TRY_COMPLETE, whole=True)
        finally:
            self._drop(chunk)
        return [answers[pos] for pos in range(len(rows))]

    def close(self) -> None:
        self.conn.close()

    def _settle(self, chunk: int, positions: list[int], function: str, whole: bool = False) -> dict[int, str | Failed]:
        sql = complete_sql(function, self.model, None if whole else len(positions))
        params = [chunk] if whole else [chunk, *positions]
        retries = self.retries if function == TRY_COMPLETE or len(positions) == 1 else 0
        try:
            got: dict[int, str | Failed] = dict(
                self._with_retries(lambda cur: cur.execute(sql, params).fetchall(), retries)
            )
        except Exception as exc:
            failed = Failed(f"cortex statement failed: {_reason(exc)}")
            if len(positions) == 1:
                return {positions[0]: failed}
            half = len(positions) // 2
            first = self._settle(chunk, positions[:half], function)
            if function == TRY_COMPLETE and all(a == failed for a in first.values()):
                return {**first, **{p: failed for p in positions[half:]}}
            return {**first, **self._settle(chunk, positions[half:], function)}
        empty = [p for p in positions if got.get(p) is None]
        if empty and function == TRY_COMPLETE:
            got.update(self._settle(chunk, empty, COMPLETE))
        elif empty:
            got.update({p: Failed("cortex returned no answer") for p in empty})
        return got

    def _with_retries(self, statement: Callable[[Any], T], retries: int) -> T:
        for attempt in range(retries):
            try:
                return statement(self.conn.cursor())
            except Exception:
                time.sleep(self.backoff_s * 2**attempt)
        return statement(self.conn.cursor())  # the last try: its error is the caller's

    def _drop(self, chunk: int) -> None:
        try:
            self.conn.cursor().execute(DELETE_CHUNK, [chunk])
        except Exception:  # the staged rows go with the session anyway
            pass


def _reason(exc: Exception) -> str:
    """The error without its query id, so two statements failing alike give the same reason."""
    msg, errno = getattr(exc, "msg", None), getattr(exc, "errno", None)
    text = f"{errno:06d} ({getattr(exc, 'sqlstate', None)}): {msg}" if msg and isinstance(errno, int) else str(exc)
    return " ".join(text.split())[:500]
