"""Near-duplicates from band rows: the band shuffle (a Ray Data groupby on the band key's
partition, verified in `buckets`), then groups of duplicates in one process while the verified
edges are few (`local_limit`) or by distributed large-star/small-star above that, then the
duplicates table. No step gathers all signatures or rows anywhere."""

from __future__ import annotations

from functools import partial
from typing import cast

import pyarrow as pa
import ray
import ray.data

from arctic_ray.curate.dedup.buckets import bucket_edges
from arctic_ray.curate.dedup.components_local import local_components
from arctic_ray.curate.dedup.components_star import star_components
from arctic_ray.curate.dedup.config import DedupConfig
from arctic_ray.curate.dedup.survivors import dataset_duplicates, local_duplicates
from arctic_ray.data.shuffle import shuffle_strategy


def shuffle_partitions(cfg: DedupConfig) -> int:
    return cfg.shuffle_partitions or max(4, 2 * int(ray.cluster_resources().get("CPU", 1)))


def near_duplicates(
    band_rows: ray.data.Dataset, cfg: DedupConfig, partitions: int, cross_only: bool = False, guard: bool = True
) -> tuple[pa.Table | ray.data.Dataset, list[dict]]:
    """(duplicates table (id, duplicate_of, cluster), giant groups). The table is gathered when
    it has at most `local_limit` rows, else left as a Dataset."""
    with shuffle_strategy(band_rows, cfg.shuffle):
        edges = (
            band_rows.groupby("part", num_partitions=partitions)
            .map_groups(
                partial(bucket_edges, threshold=cfg.verify_threshold, cross_only=cross_only), batch_format="pyarrow"
            )
            .materialize()
        )
    num_edges = edges.count()
    if not num_edges:
        return NO_DUPLICATES, []
    if num_edges <= cfg.local_limit:
        return local_duplicates(local_components(gather(edges)), cfg, guard)
    dups, giants = dataset_duplicates(star_components(edges, partitions), cfg, guard)  # edges carry the strategy
    return (gather(dups) if dups.count() <= cfg.local_limit else dups), giants


NO_DUPLICATES = pa.table({name: pa.array([], pa.null()) for name in ("id", "duplicate_of", "cluster")})


def gather(ds: ray.data.Dataset) -> pa.Table:
    """A small materialized Dataset as one table, on the driver."""
    refs = cast("list[ray.ObjectRef[pa.Table]]", ds.to_arrow_refs())  # Ray Data's refs are typed as a stand-in
    tables = [t for t in ray.get(refs) if t.num_rows]
    return pa.concat_tables(tables) if tables else NO_DUPLICATES
