"""Any synthesis backend behind the generation store: rows already answered come from the store,
the rest go to the backend, and its answers are stored as they stream out of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import ray.data

from arctic_ray.synth.backend import SynthConfig
from arctic_ray.synth.store import GenerationStore, request_key

# What the store keeps of a generated row: the answer, not the request's bookkeeping.
STORED_COLUMNS = ("completion", "finish_reason", "usage", "backend", "model", "prompt_token_ids", "completion_token_ids")


@dataclass
class StoredGeneration:
    rows: ray.data.Dataset
    reused: int
    sent: int


def row_key(synth: SynthConfig, row: dict, model_key: str) -> str:
    """The store key of a request row (`messages`, optional `sampling` and `sample`)."""
    sampling = {**synth.sampling.model_dump(), **(row.get("sampling") or {})}
    return request_key(synth.discriminator_value(), model_key, row["messages"], sampling, row.get("sample", 0))


def with_keys(ds: ray.data.Dataset, synth: SynthConfig, model_key: str) -> ray.data.Dataset:
    default = synth.sampling.model_dump()

    def add_key(row: dict) -> dict:
        return {**row, "sampling": {**default, **(row.get("sampling") or {})}, "key": row_key(synth, row, model_key)}

    return ds.map(add_key)


def _persist(store_dir: str):
    def persist(batch: pa.Table) -> pa.Table:
        rows = [{"key": r["key"], **{c: r[c] for c in STORED_COLUMNS}} for r in batch.to_pylist() if not r["error"]]
        GenerationStore(store_dir).put_many(rows)
        return batch

    return persist


def generate_stored(
    ds: ray.data.Dataset, synth: SynthConfig, store_dir: Path, model: str, model_name: str, model_key: str
) -> StoredGeneration:
    """`model_key` names the model's content (a hash of its config and tokenizer), so a store is
    shared safely between runs and paths."""
    keyed = with_keys(ds, synth, model_key).materialize()
    store = GenerationStore(store_dir)
    stored = store.get_many(r["key"] for r in keyed.select_columns(["key"]).iter_rows())
    stored_ref = ray.put(stored)

    def from_store(batch: pa.Table, answers=stored_ref) -> pa.Table:
        found = ray.get(answers)  # once per batch
        rows = [{**r, **{c: found[r["key"]][c] for c in STORED_COLUMNS}, "error": ""} for r in batch.to_pylist()]
        return pa.Table.from_pylist(rows)

    hits = keyed.filter(lambda r: r["key"] in stored).map_batches(from_store, batch_format="pyarrow")
    misses = keyed.filter(lambda r: r["key"] not in stored).materialize()
    n_misses = misses.count()
    generated = synth.generate(misses, model, model_name).map_batches(_persist(str(store_dir)), batch_format="pyarrow") if n_misses else None
    rows = hits.union(generated) if generated is not None else hits
    return StoredGeneration(rows=rows, reused=len(stored), sent=n_misses)
