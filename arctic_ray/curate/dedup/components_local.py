"""Groups of duplicates (connected components of the verified edges) in one process, for edge
sets up to `local_limit`: every node takes the smallest label among its edges' ends, then labels
jump to their label's label, until nothing changes. Labels are node codes in node order, so the
final label of a group is its smallest node, its survivor."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from arctic_ray.curate.dedup.nodes import order_codes


def local_components(edges: pa.Table) -> pa.Table:
    """(id, rank, root_id) for every node of the edges that is not its group's root."""
    ids = pa.concat_arrays([edges.column("a_id").combine_chunks(), edges.column("b_id").combine_chunks()])
    rank = np.concatenate([edges.column("a_rank").to_numpy(), edges.column("b_rank").to_numpy()])
    codes = order_codes(rank, ids)
    u, v = codes[: edges.num_rows], codes[edges.num_rows :]
    _, first = np.unique(codes, return_index=True)  # one position per node, in code order
    label = np.arange(len(first))
    while True:
        new = label.copy()
        ends_min = np.minimum(label[u], label[v])
        np.minimum.at(new, u, ends_min)
        np.minimum.at(new, v, ends_min)
        while not np.array_equal(new[new], new):
            new = new[new]
        if np.array_equal(new, label):
            break
        label = new
    members = np.flatnonzero(label != np.arange(len(label)))
    node_ids, node_rank = ids.take(first), rank[first]
    return pa.table(
        {"id": node_ids.take(members), "rank": node_rank[members], "root_id": node_ids.take(label[members])}
    )
