"""Chats as Arrow blocks: what the chat reader hands to Ray Data. Rows are gathered into a block
of about `BLOCK_BYTES` of text, and each full block goes to `keep` (`ray.put` in a job), so the
driver holds one block's rows at a time however large the sources, and Ray Data gets blocks sized
by bytes, not by a row count (a block of 500K-token chats has few rows)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

import pyarrow as pa
import ray
import ray.data

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
CHAT_SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string()), ("messages", pa.list_(MESSAGE))])
BLOCK_BYTES = 64 << 20


def _local(table: pa.Table) -> pa.Table:
    return table


def _table(block: Any) -> pa.Table:
    """A block as a table, fetched from the object store when it is a reference."""
    return block if isinstance(block, pa.Table) else cast(pa.Table, ray.get(block))


class ChatBlocks:
    """Chats (id, source, messages) in Arrow blocks, filled by `add`."""

    def __init__(self, keep: Callable[[pa.Table], Any] | None = None, block_bytes: int | None = None):
        self.keep = keep or _local
        self.block_bytes = block_bytes or BLOCK_BYTES
        self.blocks: list = []  # tables, or object refs to them
        self.rows = 0
        self._pending: list[dict] = []
        self._bytes = 0

    def add(self, row: dict) -> None:
        self._pending.append(row)
        self._bytes += len(row["id"]) + sum(len(m["content"]) + len(m["role"]) for m in row["messages"])
        self.rows += 1
        if self._bytes >= self.block_bytes:
            self._flush()

    def close(self) -> ChatBlocks:
        self._flush()
        return self

    def _flush(self) -> None:
        if self._pending:
            self.blocks.append(self.keep(pa.Table.from_pylist(self._pending, schema=CHAT_SCHEMA)))
            self._pending, self._bytes = [], 0

    def __len__(self) -> int:
        return self.rows

    def dataset(self) -> ray.data.Dataset:
        blocks = self.close().blocks
        if blocks and not isinstance(blocks[0], pa.Table):
            return ray.data.from_arrow_refs(blocks)
        return ray.data.from_arrow(blocks or [CHAT_SCHEMA.empty_table()])

    def tables(self) -> list[pa.Table]:
        blocks = self.close().blocks
        return [_table(b) for b in blocks]

    def head(self, n: int) -> list[dict]:
        """The first `n` chats, reading only the blocks that hold them."""
        out: list[dict] = []
        for block in self.close().blocks:
            if len(out) >= n:
                break
            out += _table(block).slice(0, n - len(out)).to_pylist()
        return out

    def to_pylist(self) -> list[dict]:
        """Every chat as a dict: for small sets (a benchmark's held-out chats, tests)."""
        return [row for table in self.tables() for row in table.to_pylist()]

    @classmethod
    def union(cls, parts: Iterable[ChatBlocks]) -> ChatBlocks:
        out = cls()
        for part in parts:
            out.blocks += part.close().blocks
            out.rows += part.rows
        return out
