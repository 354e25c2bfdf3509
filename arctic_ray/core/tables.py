"""A table written as rows stream past: one JSONL file (for people) and parquet parts (for
programs) side by side, flushed every `part_rows` rows so memory stays bounded."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


class TableWriter:
    def __init__(self, run_dir: Path, name: str, part_rows: int = 10_000):
        self.jsonl = run_dir / f"{name}.jsonl"
        self.parquet_dir = run_dir / name
        self.part_rows = part_rows
        self.rows = 0
        self._buffer: list[dict] = []
        self._parts = 0
        self._fh = None

    def add(self, row: dict) -> None:
        if self._fh is None:
            self._fh = self.jsonl.open("w", encoding="utf-8")
            self.parquet_dir.mkdir(parents=True, exist_ok=True)
        self._fh.write(json.dumps(row, default=str) + "\n")
        self._buffer.append(row)
        self.rows += 1
        if len(self._buffer) >= self.part_rows:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            pq.write_table(pa.Table.from_pylist(self._buffer), self.parquet_dir / f"part-{self._parts:05d}.parquet")
            self._parts += 1
            self._buffer = []

    def close(self) -> None:
        self._flush()
        if self._fh is not None:
            self._fh.close()
