"""Groups of duplicates for edge sets above `local_limit`, as Ray Data shuffles: the alternating
large-star / small-star algorithm (Kiveris et al., "Connected Components in MapReduce and
Beyond", 2014). Each step groups the edges by node (one hash shuffle) and rewires every node's
neighbourhood towards its smallest node; after O(log^2 n) rounds no step changes anything and
each group is a star around its smallest node, its survivor. Within a reducer nodes are compared
by dense codes of (rank, id), so any id type works."""

from __future__ import annotations

from functools import partial

import numpy as np
import pyarrow as pa
import ray.data

from arctic_ray.curate.dedup.nodes import id_hash, order_codes

MAX_ROUNDS = 100


def star_components(edges: ray.data.Dataset, partitions: int) -> ray.data.Dataset:
    """(id, rank, root_id) for every node of the edges that is not its group's root."""
    for _ in range(MAX_ROUNDS):
        edges, large_changed = _step(edges, "large", partitions)
        edges, small_changed = _step(edges, "small", partitions)
        if not large_changed and not small_changed:
            return edges.map_batches(_memberships, batch_format="pyarrow")
    raise RuntimeError(f"connected components did not converge in {MAX_ROUNDS} rounds")


def _step(edges: ray.data.Dataset, kind: str, partitions: int) -> tuple[ray.data.Dataset, int]:
    reducer = _large_star if kind == "large" else _small_star
    out = (
        edges.map_batches(partial(_directed, kind=kind, partitions=partitions), batch_format="pyarrow")
        .groupby("part", num_partitions=partitions)
        .map_groups(reducer, batch_format="pyarrow")
        .materialize()
    )
    changed = sum(row["changed"] for row in out.map_batches(_count_changed, batch_format="pyarrow").take_all())
    return out.drop_columns(["changed"]), changed


def _directed(edges: pa.Table, kind: str, partitions: int) -> pa.Table:
    """Rows (u, v) grouped by u: both directions for large-star, larger to smaller for small-star."""
    a = (edges.column("a_id").combine_chunks(), edges.column("a_rank").to_numpy())
    b = (edges.column("b_id").combine_chunks(), edges.column("b_rank").to_numpy())
    if kind == "large":
        u = (pa.concat_arrays([a[0], b[0]]), np.concatenate([a[1], b[1]]))
        v = (pa.concat_arrays([b[0], a[0]]), np.concatenate([b[1], a[1]]))
    else:
        codes = order_codes(np.concatenate([a[1], b[1]]), pa.concat_arrays([a[0], b[0]]))
        a_larger = codes[: edges.num_rows] > codes[edges.num_rows :]
        u = (
            pa.concat_arrays([a[0].filter(a_larger), b[0].filter(~a_larger)]),
            np.concatenate([a[1][a_larger], b[1][~a_larger]]),
        )
        v = (
            pa.concat_arrays([b[0].filter(a_larger), a[0].filter(~a_larger)]),
            np.concatenate([b[1][a_larger], a[1][~a_larger]]),
        )
    part = (id_hash(u[0]) % np.uint64(partitions)).astype(np.int64)
    return pa.table({"part": part, "u_id": u[0], "u_rank": u[1], "v_id": v[0], "v_rank": v[1]})


class _Coded:
    """The distinct (u, v) rows of a reducer's group, as node codes sorted by u."""

    def __init__(self, rows: pa.Table):
        n = rows.num_rows
        ids = pa.concat_arrays([rows.column("u_id").combine_chunks(), rows.column("v_id").combine_chunks()])
        rank = np.concatenate([rows.column("u_rank").to_numpy(), rows.column("v_rank").to_numpy()])
        codes = order_codes(rank, ids)
        _, first = np.unique(codes, return_index=True)
        self.ids, self.rank = ids.take(first), rank[first]
        pairs = np.unique(np.stack([codes[:n], codes[n:]], axis=1), axis=0)  # sorted by u, then v
        self.u, self.v = pairs[:, 0], pairs[:, 1]
        self.starts = np.flatnonzero(np.concatenate([[True], self.u[1:] != self.u[:-1]]))
        self.counts = np.diff(np.append(self.starts, len(self.u)))

    def table(self, a: np.ndarray, b: np.ndarray, changed: np.ndarray) -> pa.Table:
        return pa.table(
            {
                "a_id": self.ids.take(a),
                "a_rank": self.rank[a],
                "b_id": self.ids.take(b),
                "b_rank": self.rank[b],
                "changed": changed,
            }
        )


def _large_star(rows: pa.Table) -> pa.Table:
    """Each node's larger neighbours attach to the smallest node of its neighbourhood."""
    g = _Coded(rows)
    smallest = np.repeat(np.minimum(np.minimum.reduceat(g.v, g.starts), g.u[g.starts]), g.counts)
    larger = g.v > g.u
    return g.table(g.v[larger], smallest[larger], smallest[larger] != g.u[larger])


def _small_star(rows: pa.Table) -> pa.Table:
    """A node and its smaller neighbours attach to the smallest of them (rows hold v < u)."""
    g = _Coded(rows)
    smallest = np.repeat(g.v[g.starts], g.counts)  # v sorted within u
    changed = np.repeat(g.counts > 1, g.counts)
    others = g.v != smallest
    a = np.concatenate([g.u[g.starts], g.v[others]])
    b = np.concatenate([g.v[g.starts], smallest[others]])
    return g.table(a, b, np.concatenate([g.counts > 1, changed[others]]))


def _count_changed(edges: pa.Table) -> pa.Table:
    return pa.table({"changed": [int(np.count_nonzero(edges.column("changed").to_numpy(zero_copy_only=False)))]})


def _memberships(edges: pa.Table) -> pa.Table:
    """Converged edges run from a node to its root."""
    return pa.table({"id": edges.column("a_id"), "rank": edges.column("a_rank"), "root_id": edges.column("b_id")})
