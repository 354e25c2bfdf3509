"""The band shuffle's reducer: rows that share a band key are candidates, and a candidate pair
becomes an edge when its estimated Jaccard (from the signatures' sketches) is at least
`threshold`. A bucket of up to MAX_PAIRWISE rows compares all its pairs. A larger one
(many copies of one text, or boilerplate) compares its rows with leaders instead: the best node
leads, the rows it does not match go on to the next round, for at most MAX_LEADERS rounds, so
its cost grows with the bucket and not with the bucket's square."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from arctic_ray.curate.dedup.nodes import REFERENCE, order_codes
from arctic_ray.curate.dedup.signatures import from_arrow, jaccard

MAX_PAIRWISE = 64
MAX_LEADERS = 32
_VERIFY_CHUNK = 16384  # pairs compared at once


def edge_table(rows: pa.Table, a: np.ndarray, b: np.ndarray) -> pa.Table:
    ids, rank = rows.column("id"), rows.column("rank").to_numpy()
    return pa.table({"a_id": ids.take(a), "a_rank": rank[a], "b_id": ids.take(b), "b_rank": rank[b]})


def bucket_edges(rows: pa.Table, threshold: float, cross_only: bool = False) -> pa.Table:
    """Verified edges among `rows` (band_keys, id, rank, sketch), as (a_id, a_rank,
    b_id, b_rank), each pair once. cross_only: only edges between a reference row and another
    row (decontamination)."""
    band_keys = rows.column("band_keys").combine_chunks()
    keys = band_keys.flatten().to_numpy()
    owner = np.repeat(np.arange(rows.num_rows), np.diff(band_keys.offsets.to_numpy()))
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]]))
    sizes = np.diff(np.append(starts, len(keys)))
    sketch = from_arrow(rows.column("sketch"))
    a, b = _distinct(*_all_pairs(owner[order], starts, sizes))  # pairs sharing several bands: once
    a, b = _verified(sketch, a, b, threshold)
    for start, size in zip(starts[sizes > MAX_PAIRWISE], sizes[sizes > MAX_PAIRWISE], strict=False):
        la, lb = _leader_pairs(rows, sketch, owner[order[start : start + size]], threshold)
        a, b = _distinct(np.concatenate([a, la]), np.concatenate([b, lb]))
    if cross_only:
        is_ref = rows.column("rank").to_numpy() == REFERENCE
        cross = is_ref[a] != is_ref[b]
        a, b = a[cross], b[cross]
    return edge_table(rows, a, b)


def _distinct(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    width = int(hi.max(initial=0)) + 1
    pairs = np.unique(lo * width + hi)
    return pairs // width, pairs % width


def _all_pairs(order: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair within each bucket of 2..MAX_PAIRWISE rows, one bucket size at a time."""
    a, b = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for size in np.unique(sizes[(sizes > 1) & (sizes <= MAX_PAIRWISE)]):
        first, second = np.triu_indices(size, 1)
        bucket_starts = starts[sizes == size][:, None]
        a.append(order[(bucket_starts + first).ravel()])
        b.append(order[(bucket_starts + second).ravel()])
    return np.concatenate(a), np.concatenate(b)


def _verified(sketch: np.ndarray, a: np.ndarray, b: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    keep = np.zeros(len(a), bool)
    for i in range(0, len(a), _VERIFY_CHUNK):
        keep[i : i + _VERIFY_CHUNK] = (
            jaccard(sketch[a[i : i + _VERIFY_CHUNK]], sketch[b[i : i + _VERIFY_CHUNK]]) >= threshold
        )
    return a[keep], b[keep]


def _leader_pairs(
    rows: pa.Table, sketch: np.ndarray, members: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    codes = order_codes(rows.column("rank").to_numpy()[members], rows.column("id").take(members))
    members = members[np.argsort(codes, kind="stable")]
    a, b = [], []
    for _ in range(MAX_LEADERS):
        if len(members) < 2:
            break
        leader, rest = members[0], members[1:]
        match = jaccard(sketch[rest], sketch[leader]) >= threshold
        a.append(np.full(match.sum(), leader))
        b.append(rest[match])
        members = rest[~match]
    return np.concatenate([np.zeros(0, np.int64), *a]), np.concatenate([np.zeros(0, np.int64), *b])
