"""The one reader of row data: JSONL files, parquet files (or directories of them) and Hugging
Face datasets saved with `save_to_disk`. Each row comes with where it was found, so a reject can
name its line; a line that is not JSON stops the read and names its line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arctic_ray.core.config import StrictConfig
from arctic_ray.core.errors import ArcticRayError


class SourceError(ArcticRayError):
    pass


class SourceConfig(StrictConfig):
    """One entry of a recipe's `data.sources`."""

    path: Path
    """JSONL, parquet (a file or a directory of files), or an HF dataset saved with `save_to_disk`."""

    name: str | None = None
    """Its name in counts and reports (default: the file name)."""

    split: str = "train"
    """Split of an HF dataset dict."""

    @property
    def label(self) -> str:
        return self.name or self.path.stem


@dataclass
class SourceRow:
    where: str
    """file:line for JSONL, file#row for parquet and HF datasets."""
    line: int | None
    raw: str | None
    """The line as read (JSONL), kept with a reject."""
    row: Any
    """The parsed value (a JSON value: each reader checks its shape)."""


def _jsonl(path: Path) -> Iterator[SourceRow]:
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise SourceError(f"{path}:{lineno}: not valid JSON ({err.msg}, column {err.colno})") from None
            yield SourceRow(f"{path}:{lineno}", lineno, line.rstrip("\n"), row)


def _parquet(files: list[Path]) -> Iterator[SourceRow]:
    import pyarrow.parquet as pq

    for path in files:
        for batch in pq.ParquetFile(path).iter_batches():
            for i, row in enumerate(batch.to_pylist()):
                yield SourceRow(f"{path}#{i}", None, None, row)


def _hf_on_disk(path: Path, split: str) -> Iterator[SourceRow]:
    import datasets

    loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        if split not in loaded:
            raise SourceError(f"{path}: no split {split!r} (splits: {', '.join(map(str, loaded))})")
        loaded = loaded[split]
    for i, row in enumerate(loaded):
        yield SourceRow(f"{path}#{i}", None, None, row)


def read_source(path: str | Path, split: str = "train") -> Iterator[SourceRow]:
    """Rows of a JSONL file, a parquet file or directory, or an HF dataset directory."""
    path = Path(path)
    if path.is_file():
        if path.suffix in (".jsonl", ".json"):
            return _jsonl(path)
        if path.suffix == ".parquet":
            return _parquet([path])
        raise SourceError(f"{path}: unknown format (expected .jsonl, .parquet or an HF dataset directory)")
    if path.is_dir():
        if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
            return _hf_on_disk(path, split)
        files = sorted(path.glob("*.parquet"))
        if files:
            return _parquet(files)
        raise SourceError(f"{path}: a directory with neither parquet files nor a saved HF dataset")
    raise SourceError(f"data source not found: {path}")
