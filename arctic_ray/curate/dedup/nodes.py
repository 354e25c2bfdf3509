"""A row in the duplicate graph is a node (rank, id), ordered by rank then id: the smallest node
of a group of duplicates survives. rank is minus the survivor score (so the best score comes
first), +inf without one, -inf for a reference text (an eval prompt always wins)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from arctic_ray.curate.dedup.shingles import fmix64, span_hashes, string_bytes
from arctic_ray.curate.dedup.texts import DedupFieldError
from arctic_ray.data.arrow_compute import pc

REFERENCE = -np.inf


def ranks(batch: pa.Table, score: str | None) -> np.ndarray:
    if score is None:
        return np.zeros(batch.num_rows)
    if score not in batch.column_names:
        raise DedupFieldError(
            f"survivor_score column {score!r} is not a column (columns: {', '.join(batch.column_names)})"
        )
    values = batch.column(score).cast(pa.float64()).to_numpy(zero_copy_only=False)
    return np.where(np.isnan(values), np.inf, -values)  # null is NaN here


def order_codes(rank: np.ndarray, ids: pa.Array) -> np.ndarray:
    """Dense codes of the nodes (rank, id) in node order: equal nodes get equal codes."""
    table = pa.table({"rank": rank, "id": ids})
    order = pc.sort_indices(table, sort_keys=[("rank", "ascending"), ("id", "ascending")]).to_numpy()
    sorted_rank, sorted_ids = rank[order], ids.take(order)
    new = np.ones(len(order), bool)
    if len(order) > 1:
        same_id = pc.equal(sorted_ids[1:], sorted_ids[:-1]).to_numpy(zero_copy_only=False)
        new[1:] = (sorted_rank[1:] != sorted_rank[:-1]) | ~same_id
    codes = np.empty(len(order), np.int64)
    codes[order] = np.cumsum(new) - 1
    return codes


def id_hash(ids: pa.Array) -> np.ndarray:
    """uint64 hash of each id (string or integer), the same in every batch: picks partitions."""
    if pa.types.is_integer(ids.type):
        return fmix64(ids.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.uint64))
    data, offsets = string_bytes(ids.cast(pa.large_string()))
    return fmix64(span_hashes(data, offsets[:-1], offsets[1:]).astype(np.uint64))
