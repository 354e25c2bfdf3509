"""From groups to the duplicates table: every node but its group's root (the survivor, smallest
in node order) is a duplicate of the root, in `cluster` root. Reference nodes are never rows to
remove. Groups larger than `max_cluster_size` are reported (cluster, size), and their rows stay
unless `drop_giant_clusters`: one long chain of small edits must not silently delete thousands
of rows."""

from __future__ import annotations

from functools import partial

import pyarrow as pa
import ray.data

from arctic_ray.curate.dedup.config import DedupConfig
from arctic_ray.curate.dedup.nodes import REFERENCE
from arctic_ray.data.arrow_compute import pc


def local_duplicates(members: pa.Table, cfg: DedupConfig, guard: bool = True) -> tuple[pa.Table, list[dict]]:
    """members: (id, rank, root_id) of one process."""
    counts = pc.value_counts(members.column("root_id").combine_chunks()).to_pylist() if members.num_rows else []
    giants = [{"cluster": c["values"], "size": c["counts"] + 1} for c in counts]
    giants = [g for g in giants if guard and g["size"] > cfg.max_cluster_size]
    return _duplicate_rows(members, _kept_roots(giants, cfg)), sorted(giants, key=lambda g: -g["size"])


def dataset_duplicates(
    members: ray.data.Dataset, cfg: DedupConfig, guard: bool = True
) -> tuple[ray.data.Dataset, list[dict]]:
    """members as a Dataset; only the giant groups' sizes come to the driver."""
    giants = []
    if guard:
        sizes = (
            members.groupby("root_id")
            .count()
            .map_batches(partial(_over, limit=cfg.max_cluster_size), batch_format="pyarrow")
        )
        giants = [{"cluster": row["root_id"], "size": row["count()"] + 1} for row in sizes.take_all()]
    kept_roots = _kept_roots(giants, cfg)
    dups = members.map_batches(partial(_duplicate_rows, kept_roots=kept_roots), batch_format="pyarrow")
    return dups.materialize(), sorted(giants, key=lambda g: -g["size"])


def _over(sizes: pa.Table, limit: int) -> pa.Table:
    return sizes.filter(pc.greater_equal(sizes.column("count()"), limit))  # members, root not counted


def _kept_roots(giants: list[dict], cfg: DedupConfig) -> list:
    return [] if cfg.drop_giant_clusters else [g["cluster"] for g in giants]


def _duplicate_rows(members: pa.Table, kept_roots: list) -> pa.Table:
    keep = members.column("rank").to_numpy() != REFERENCE
    if kept_roots:
        in_giant = pc.is_in(
            members.column("root_id"), value_set=pa.array(kept_roots, members.schema.field("root_id").type)
        )
        keep &= ~in_giant.to_numpy(zero_copy_only=False)
    rows = members.filter(pa.array(keep))
    return pa.table(
        {"id": rows.column("id"), "duplicate_of": rows.column("root_id"), "cluster": rows.column("root_id")}
    )
