"""Append-only JSONL segments in a store directory (local or any pyarrow filesystem URI):
each written whole under a temporary name and renamed into place, read incrementally. Shared by
the generation store's answers and the sent log."""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterable
from typing import Any

import pyarrow.fs as pafs

from arctic_ray.synth.durable import write_atomic

log = logging.getLogger(__name__)

ANSWER_PREFIX = "seg-"
SENT_PREFIX = "sent-"


def open_fs(root: Any) -> tuple[pafs.FileSystem, str]:
    root = str(root)
    if "://" in root:
        return pafs.FileSystem.from_uri(root)
    return pafs.LocalFileSystem(), os.path.abspath(root)


class _Segments:
    """Append-only JSONL segments under one prefix, written atomically, read incrementally."""

    def __init__(self, root: Any, prefix: str, fsync: bool = True):
        self.fs, self.path = open_fs(root)
        self.fsync = fsync
        self.fs.create_dir(self.path, recursive=True)
        self.prefix = prefix
        self._seen: set[str] = set()

    def write(self, rows: list[dict]) -> None:
        name = f"{self.prefix}{uuid.uuid4().hex}.jsonl"
        data = "".join(json.dumps(r, default=_jsonable) + "\n" for r in rows).encode()
        write_atomic(self.fs, f"{self.path}/{name}", data, self.fsync)
        self._seen.add(name)

    def read_new(self, modified_since: float | None = None) -> Iterable[dict]:
        """Rows of the segments not read yet (only those written after `modified_since`, a Unix
        time, when given: a run reads its own sends without reading the whole log)."""
        infos = self.fs.get_file_info(pafs.FileSelector(self.path))
        for info in sorted(infos, key=lambda i: i.base_name):
            name = info.base_name
            if name in self._seen or not name.startswith(self.prefix) or not name.endswith(".jsonl"):
                continue
            if modified_since is not None and info.mtime is not None and info.mtime.timestamp() < modified_since:
                continue
            try:
                with self.fs.open_input_stream(info.path) as fh:
                    rows = [json.loads(line) for line in fh.read().decode().splitlines() if line]
            except (OSError, ValueError) as exc:  # half-written (an object store without rename)
                log.warning("generation store: skipping unreadable segment %s (%s)", name, exc)
                continue
            self._seen.add(name)
            yield from rows


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__}")
