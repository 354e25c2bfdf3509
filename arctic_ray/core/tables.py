"""A table written as rows stream past: one JSONL file (for people) and parquet parts (for
programs) side by side, in the run directory (a local path or a URI), flushed every `part_rows`
rows so memory stays bounded. A rerun into the same directory writes the table anew."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from arctic_ray.core.storage import Location


class TableWriter:
    def __init__(self, run_dir: Location, name: str, part_rows: int = 10_000):
        self.jsonl = run_dir.join(f"{name}.jsonl")
        # a rerun's table replaces the earlier run's (which may have rows this one has not)
        self.parquet_dir = run_dir.join(name).emptied()
        if self.jsonl.exists():
            self.jsonl.fs.delete_file(self.jsonl.path)
        self.part_rows = part_rows
        self.rows = 0
        self._buffer: list[dict] = []
        self._parts = 0
        self._fh = None

    def add(self, row: dict) -> None:
        if self._fh is None:
            self.parquet_dir.mkdir()
            self._fh = self.jsonl.fs.open_output_stream(self.jsonl.path)
        self._fh.write((json.dumps(row, default=str) + "\n").encode())
        self._buffer.append(row)
        self.rows += 1
        if len(self._buffer) >= self.part_rows:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            part = self.parquet_dir.join(f"part-{self._parts:05d}.parquet")
            pq.write_table(pa.Table.from_pylist(self._buffer), part.path, filesystem=part.fs)
            self._parts += 1
            self._buffer = []

    def close(self) -> None:
        self._flush()
        if self._fh is not None:
            self._fh.close()
