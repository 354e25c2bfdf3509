"""The Batch API run's manifest: every shard, written down BEFORE each call that costs money or
makes something on the provider's side, and rewritten (atomically) after. A rerun reads it to
adopt batches a crashed run created instead of paying for them again.

The manifest lives in the generation store, one per backend and model, not in a run directory:
a rerun of the same recipe (with `--resume` or without, in a new run directory) finds the batches
a crashed run left on the provider through it, and adopts them instead of buying their prompts
again. Runs that share it take turns (`lock`): a second run waits for the first, then finds its
answers in the store.

Layout in the store: `<name>.json` (the manifest), `<name>.lock`, and `<name>/<shard>.jsonl` /
`<shard>.keys` (a shard's input file and row keys, kept until its answers are stored). No secret
ever goes in: connections are not recorded at all."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from typing import Literal

import pyarrow.fs as pafs
from pydantic import BaseModel

from arctic_ray.synth.backends.openai_batch.shards import ShardContent
from arctic_ray.synth.durable import write_atomic
from arctic_ray.synth.segments import open_fs

ShardState = Literal["planned", "uploaded", "submitted", "collected", "dropped"]
"""planned: input file written locally; uploaded: the provider has the file, create is next (or was
in flight at a crash); submitted: the batch id is known; collected: answers stored; dropped: never sent."""

OPEN_STATES = ("planned", "uploaded", "submitted")

log = logging.getLogger(__name__)


def manifest_name(backend: str, model_key: str) -> str:
    return f"batch-{backend}-{hashlib.sha256(model_key.encode()).hexdigest()[:12]}"


@contextlib.contextmanager
def lock(directory: str, backend: str, model_key: str) -> Iterator[None]:
    """Hold the manifest for one run at a time. On a local (or mounted shared) store an `flock`,
    released by the kernel when a process dies, so a crash never leaves it held. On an object
    store there is nothing to lock: runs sharing a manifest there must not overlap."""
    fs, root = open_fs(directory)
    if not isinstance(fs, pafs.LocalFileSystem):
        yield
        return
    os.makedirs(root, exist_ok=True)
    with open(f"{root}/{manifest_name(backend, model_key)}.lock", "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("batch api: another run holds the manifest for %s in %s; waiting for it", model_key, root)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class ShardRecord(BaseModel):
    shard_id: str
    state: ShardState = "planned"
    round: int = 0
    """0 for first sends; n for the n-th resend of rows an expired or cancelled batch left."""
    requests: int
    keys_sha256: str
    n_bytes: int
    prompt_tokens: int
    """Estimated (chars/4)."""
    est_cost_usd: float
    """Estimated prompt tokens plus every request's max_tokens, at the recipe's prices."""
    input_file_id: str | None = None
    batch_id: str | None = None
    batch_status: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    answered: int = 0
    failed: int = 0
    unanswered: int = 0
    """Requests an expired or cancelled batch never ran (sent again in a later shard)."""
    cost_usd: float | None = None
    """From the answers' usage."""
    problems: list[str] = []
    """What the provider got wrong (unknown or duplicate custom_ids), or why the shard was dropped."""
    files_deleted: bool = False
    undeleted_files: list[str] = []
    """Provider file ids whose delete failed (tried again by the next run)."""
    updated_at: float = 0.0


class BatchManifest:
    def __init__(self, directory: str, backend: str, model_key: str):
        self.fs, root = open_fs(directory)
        name = manifest_name(backend, model_key)
        self.path, self.shard_dir = f"{root}/{name}.json", f"{root}/{name}"
        self.fs.create_dir(self.shard_dir, recursive=True)
        if self.fs.get_file_info(self.path).is_file:
            with self.fs.open_input_stream(self.path) as fh:
                data = json.loads(fh.read())
            self.manifest_id: str = data["manifest_id"]
            self.shards = {s["shard_id"]: ShardRecord(**s) for s in data["shards"]}
            self._next = data["next_shard"]
        else:
            self.manifest_id, self.shards, self._next = uuid.uuid4().hex, {}, 0
            self.save()

    def save(self) -> None:
        data = {
            "manifest_id": self.manifest_id,
            "next_shard": self._next,
            "shards": [s.model_dump() for s in self.shards.values()],
        }
        self._write(self.path, json.dumps(data, indent=1).encode())

    def add_shard(self, content: ShardContent, est_cost_usd: float, round: int) -> ShardRecord:
        """Write the shard's files, then record it as planned."""
        shard_id = f"shard-{self._next:06d}"
        self._next += 1
        self._write(self._file(shard_id, "jsonl"), b"".join(content.lines))
        self._write(self._file(shard_id, "keys"), "\n".join(content.keys).encode())
        rec = ShardRecord(
            shard_id=shard_id, round=round, requests=len(content.keys), keys_sha256=content.keys_sha256,
            n_bytes=content.n_bytes, prompt_tokens=content.prompt_tokens, est_cost_usd=est_cost_usd,
        )  # fmt: skip
        self.shards[shard_id] = rec
        self.update(rec)
        return rec

    def update(self, rec: ShardRecord, **changes) -> ShardRecord:
        for name, value in changes.items():
            setattr(rec, name, value)
        rec.updated_at = time.time()
        self.save()
        return rec

    def open_shards(self) -> list[ShardRecord]:
        return [s for s in self.shards.values() if s.state in OPEN_STATES]

    def keys(self, rec: ShardRecord) -> list[str]:
        with self.fs.open_input_stream(self._file(rec.shard_id, "keys")) as fh:
            return [k for k in fh.read().decode().split("\n") if k]

    def input_lines(self, rec: ShardRecord) -> bytes:
        with self.fs.open_input_stream(self._file(rec.shard_id, "jsonl")) as fh:
            return fh.read()

    def remove_local_files(self, rec: ShardRecord) -> None:
        for ext in ("jsonl", "keys"):
            if self.fs.get_file_info(self._file(rec.shard_id, ext)).is_file:
                self.fs.delete_file(self._file(rec.shard_id, ext))

    def upload_name(self, rec: ShardRecord) -> str:
        """The provider-side file name: finds an upload a crash left unrecorded."""
        return f"arctic-ray-{self.manifest_id}-{rec.shard_id}.jsonl"

    def _file(self, shard_id: str, ext: str) -> str:
        return f"{self.shard_dir}/{shard_id}.{ext}"

    def _write(self, path: str, data: bytes) -> None:
        write_atomic(self.fs, path, data)
