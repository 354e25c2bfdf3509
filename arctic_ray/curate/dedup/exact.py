"""Exact dedup as a Ray Data stage: rows whose normalised text (lower case, runs of white space
as one space, trimmed) is the same are one group; a 128-bit BLAKE2 key per row is shuffled by
key (groupby on its partition) and the best node of each key survives (best `survivor_score`,
then smallest id). Cheap enough to run before paying for a judge."""

from __future__ import annotations

import hashlib
from functools import partial

import numpy as np
import pyarrow as pa
import ray.data

from arctic_ray.curate.dedup.config import DedupConfig
from arctic_ray.curate.dedup.near import gather, shuffle_partitions
from arctic_ray.curate.dedup.nodes import order_codes, ranks
from arctic_ray.curate.dedup.result import DedupResult
from arctic_ray.curate.dedup.tagging import split_rows
from arctic_ray.curate.dedup.texts import DedupFieldError, check_columns, text_column
from arctic_ray.data.arrow_compute import pc
from arctic_ray.data.shuffle import shuffle_strategy


def exact_dedup(ds: ray.data.Dataset, cfg: DedupConfig) -> DedupResult:
    check_columns(ds, cfg)
    partitions = shuffle_partitions(cfg)
    with shuffle_strategy(ds, cfg.shuffle):
        dups = (
            ds.map_batches(partial(_keys, cfg=cfg, partitions=partitions), batch_format="pyarrow")
            .groupby("part", num_partitions=partitions)
            .map_groups(_all_but_first, batch_format="pyarrow")
            .materialize()
        )
    kept, duplicates = split_rows(
        ds, gather(dups) if dups.count() <= cfg.local_limit else dups, partitions, cfg.shuffle
    )
    return DedupResult(kept, duplicates)


def normalised(texts: pa.Array) -> pa.Array:
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(pc.utf8_lower(texts), r"\s+", " "))


def _keys(batch: pa.Table, cfg: DedupConfig, partitions: int) -> pa.Table:
    digests = b"".join(
        hashlib.blake2b(t.encode(), digest_size=16).digest()
        for t in normalised(text_column(batch, cfg.field)).to_pylist()
    )
    key = np.frombuffer(digests, np.uint64).reshape(-1, 2)
    return pa.table(
        {
            "part": (key[:, 0] % np.uint64(partitions)).astype(np.int64),
            "key_hi": key[:, 0],
            "key_lo": key[:, 1],
            "id": batch.column("id"),
            "rank": ranks(batch, cfg.survivor_score),
        }
    )


def _all_but_first(rows: pa.Table) -> pa.Table:
    """(id, duplicate_of, cluster) for every row but the best of its key."""
    hi, lo = rows.column("key_hi").to_numpy(), rows.column("key_lo").to_numpy()
    order = np.lexsort((order_codes(rows.column("rank").to_numpy(), rows.column("id").combine_chunks()), lo, hi))
    hi, lo = hi[order], lo[order]
    first = np.concatenate([[True], (hi[1:] != hi[:-1]) | (lo[1:] != lo[:-1])])
    survivor = order[np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))]
    ids = rows.column("id").combine_chunks()
    removed = ~first
    dup_ids, of = ids.take(order[removed]), ids.take(survivor[removed])
    same = pc.equal(dup_ids, of).to_numpy(zero_copy_only=False) if len(dup_ids) else np.zeros(0, bool)
    if same.any():  # both copies would be tagged by id and lost
        raise DedupFieldError(
            f"id {dup_ids[int(np.argmax(same))].as_py()!r} repeats: dedup needs unique ids (number the rows first)"
        )
    return pa.table({"id": dup_ids, "duplicate_of": of, "cluster": of})
