"""Any synthesis backend behind the generation store: rows already answered come from the store,
the rest go to the backend, and its answers are stored as they come out of it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pyarrow as pa
import ray.data

from arctic_ray.data.driver_rows import ROWS_PER_BLOCK
from arctic_ray.synth.backend import SynthConfig, Target
from arctic_ray.synth.sent_log import SentLog
from arctic_ray.synth.store import GenerationStore, request_key
from arctic_ray.synth.store_lookup import lookup

# What the store keeps of a generated row: the answer, not the request's bookkeeping.
STORED_COLUMNS = (
    "completion",
    "finish_reason",
    "usage",
    "backend",
    "model",
    "prompt_token_ids",
    "completion_token_ids",
)


@dataclass
class StoredGeneration:
    rows: ray.data.Dataset
    reused: int
    """Rows answered from the store (nothing sent, nothing paid)."""
    sent: int
    """Rows handed to the backend."""
    in_flight_before: set[str] = field(default_factory=set)
    """Keys of those rows whose request was in flight when an earlier run stopped (sent, never
    answered, never settled as failed)."""
    sent_log: SentLog | None = None

    @property
    def resent(self) -> int:
        """Requests in flight at a crash that this run really sent again: read it once the rows
        have been consumed. A request the backend recovered without sending (a Batch API batch
        found and downloaded) is not counted."""
        if not self.in_flight_before or self.sent_log is None:
            return 0
        return len(self.in_flight_before & self.sent_log.refresh_all_new())


def row_key(synth: SynthConfig, row: dict, model_key: str) -> str:
    """The store key of a request row (`messages`, optional `sampling` and `sample`)."""
    sampling = {**synth.sampling.model_dump(), **(row.get("sampling") or {})}
    return request_key(synth.discriminator_value(), model_key, row["messages"], sampling, row.get("sample", 0))


def with_keys(ds: ray.data.Dataset, synth: SynthConfig, model_key: str) -> ray.data.Dataset:
    """`batch_size` bundles an input's small blocks into one task (a task per tiny block of
    `from_items` costs more than keying its rows)."""
    default = synth.sampling.model_dump()

    def add_keys(batch: pa.Table) -> pa.Table:
        rows = [
            {**row, "sampling": {**default, **(row.get("sampling") or {})}, "key": row_key(synth, row, model_key)}
            for row in batch.to_pylist()
        ]
        return pa.Table.from_pylist(rows)

    return ds.map_batches(add_keys, batch_size=ROWS_PER_BLOCK, batch_format="pyarrow")


def _persist(store: str):
    def persist(batch: pa.Table) -> pa.Table:
        rows = [{"key": r["key"], **{c: r.get(c) for c in STORED_COLUMNS}} for r in batch.to_pylist() if not r["error"]]
        GenerationStore(store).put_many(rows)
        return batch

    return persist


def _sent_now(batch: pa.Table) -> pa.Table:
    return batch.append_column("from_store", pa.array([False] * batch.num_rows))


def generate_stored(ds: ray.data.Dataset, synth: SynthConfig, target: Target) -> StoredGeneration:
    """`target.model_key` names the model's content (its identity, or an API model's name), so a
    store is shared safely between runs and paths. The lookup is a Ray Data join on the key: the
    driver holds counts and the few keys in flight at a crash, never the store's index or rows."""
    keyed = with_keys(ds, synth, target.model_key).materialize()
    found = lookup(keyed, target.store)
    if not found.sent:
        return StoredGeneration(rows=found.hits, reused=found.reused, sent=0)
    misses = found.misses
    if synth.rows_per_task:  # every actor of the backend's pool gets blocks of its own
        misses = misses.repartition(target_num_rows_per_block=synth.rows_per_task)
    sent_log = SentLog(target.store, since=time.time())  # this run's sends: the segments it writes from now on
    generated = synth.generate(misses, target)
    if not synth.persists_answers:
        generated = generated.map_batches(_persist(target.store), batch_format="pyarrow")
    generated = generated.map_batches(_sent_now, batch_format="pyarrow")
    rows = found.hits.union(generated) if found.reused else generated
    return StoredGeneration(
        rows=rows, reused=found.reused, sent=found.sent, in_flight_before=found.in_flight, sent_log=sent_log
    )
