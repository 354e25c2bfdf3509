"""The generation store: every answer a backend produced, keyed by what was asked, so a rerun
(or another job asking the same) never generates or pays for it again.

A key hashes the backend, the model's identity, the request (messages or prompt token ids), the
sampling parameters and a sample index (n samples of one prompt stay n answers; greedy decoding
has one answer, so its index is dropped). Answers are appended as segment files, each written
under a temporary name and renamed into place, so a crash leaves whole segments or none and a
reader never sees half a file. Only answers without an error are stored: a failed request is
asked again on the next run."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any, Iterable

SEGMENT_GLOB = "seg-*.jsonl"


def request_key(backend: str, model: str, request: Any, sampling: dict, sample_index: int = 0) -> str:
    if not sampling.get("temperature"):
        sample_index = 0
    canonical = json.dumps([backend, model, request, sampling, sample_index], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class GenerationStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._index: dict[str, dict] = {}
        self._seen: set[str] = set()

    def refresh(self) -> None:
        """Read segments written since the last look (by this or any other process)."""
        for seg in sorted(self.root.glob(SEGMENT_GLOB)):
            if seg.name in self._seen:
                continue
            with seg.open(encoding="utf-8") as fh:
                for line in fh:
                    row = json.loads(line)
                    self._index[row["key"]] = row
            self._seen.add(seg.name)

    def __len__(self) -> int:
        return len(self._index)

    def get_many(self, keys: Iterable[str], refresh: bool = True) -> dict[str, dict]:
        if refresh:
            self.refresh()
        return {k: self._index[k] for k in keys if k in self._index}

    def put_many(self, rows: list[dict]) -> int:
        """Persist rows (each with a `key`) as one new segment; rows carrying an error are skipped."""
        rows = [r for r in rows if not r.get("error")]
        if not rows:
            return 0
        name = f"seg-{uuid.uuid4().hex}.jsonl"
        tmp = self.root / f".tmp-{name}"
        with tmp.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, default=_jsonable) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.root / name)
        for row in rows:
            self._index[row["key"]] = row
        self._seen.add(name)
        return len(rows)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__}")
