"""The generation store: every answer a backend produced, keyed by what was asked, so a rerun
(or another job asking the same) never generates or pays for it again.

A key hashes the backend, the model's identity, the request (messages or prompt token ids), the
sampling parameters and a sample index (n samples of one prompt stay n answers; greedy decoding
has one answer, so its index is dropped). The store is a local directory or any pyarrow filesystem
URI (`s3://bucket/store`, `gs://...`). Answers are appended as segment files, each written under
a temporary name, fsynced, renamed into place and the directory fsynced (`durable.py`; on object
stores the upload itself is atomic and durable), so a crash or a power loss leaves whole segments
or none: it can lose only the segment being written. A reader skips temporary names and any
segment it cannot parse. Only answers without an error are stored: a failed request is asked
again on the next run.

Beside the answers, `sent-*.jsonl` segments list the keys of requests that really went out (a
backend logs a key when its request leaves, not when it is queued): a key that was sent but has
no answer on the next run was in flight at a crash (or failed), and is counted when it goes
again."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from arctic_ray.synth.segments import ANSWER_PREFIX, _Segments

log = logging.getLogger(__name__)


def request_key(backend: str, model: str, request: Any, sampling: dict, sample_index: int = 0) -> str:
    if not sampling.get("temperature"):
        sample_index = 0
    canonical = json.dumps([backend, model, request, sampling, sample_index], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class GenerationStore:
    def __init__(self, root: Any):
        self.root = str(root)
        self._answers = _Segments(root, ANSWER_PREFIX)
        self._index: dict[str, dict] = {}

    def refresh(self) -> None:
        """Read segments written since the last look (by this or any other process)."""
        for row in self._answers.read_new():
            self._index[row["key"]] = row

    def __len__(self) -> int:
        return len(self._index)

    def get_many(self, keys: Iterable[str], refresh: bool = True) -> dict[str, dict]:
        if refresh:
            self.refresh()
        return {k: self._index[k] for k in keys if k in self._index}

    def put_many(self, rows: list[dict]) -> int:
        """Persist rows (each with a `key`) as one new segment; rows carrying an error are skipped."""
        rows = [r for r in rows if not r.get("error")]
        if rows:
            self._answers.write(rows)
            for row in rows:
                self._index[row["key"]] = row
        return len(rows)


class StoreWriter:
    """Buffers answers as they arrive and writes a segment every `flush_rows` answers or
    `flush_s` seconds, whichever comes first: the most a crash can lose is that buffer. The time
    bound holds on a clock of its own (a daemon thread), not only when the next answer arrives:
    an actor whose other requests hang still stores what it has."""

    def __init__(self, root: Any, flush_rows: int = 32, flush_s: float = 1.0):
        self.store = GenerationStore(root)
        self.flush_rows, self.flush_s = flush_rows, flush_s
        self._buffer: list[dict] = []
        self._oldest: float | None = None  # when the oldest buffered answer arrived
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # segments leave in the order they were cut
        self._closed = threading.Event()
        self._timer: threading.Thread | None = None

    def add(self, row: dict) -> None:
        with self._lock:
            if not row.get("error"):
                self._buffer.append(row)
                self._oldest = self._oldest if self._oldest is not None else time.monotonic()
            due = len(self._buffer) >= self.flush_rows
            if self._timer is None:
                self._timer = threading.Thread(target=self._tick, name="store-writer-flush", daemon=True)
                self._timer.start()
        if due:
            self.flush()

    def flush(self) -> None:
        with self._write_lock:
            with self._lock:
                rows, oldest, self._buffer, self._oldest = self._buffer, self._oldest, [], None
            try:
                self.store.put_many(rows)
            except Exception:
                with self._lock:  # kept for the next flush, not lost
                    self._buffer[:0] = rows
                    self._oldest = oldest if self._oldest is None or oldest is None else min(oldest, self._oldest)
                raise

    def close(self) -> None:
        self._closed.set()
        self.flush()

    def _tick(self) -> None:
        step = min(self.flush_s / 4, 0.25)
        while not self._closed.wait(step):
            with self._lock:
                due = self._oldest is not None and time.monotonic() - self._oldest >= self.flush_s
            if due:
                try:
                    self.flush()
                except Exception as exc:
                    log.warning("generation store: a timed flush failed (%s); retrying", exc)
