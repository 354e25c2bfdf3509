"""Split the rows into kept and duplicates, given the duplicates table (id, duplicate_of,
cluster): a left join on `id` (`id_join.py`), then one half each way."""

from __future__ import annotations

from functools import partial

import pyarrow as pa
import ray.data

from arctic_ray.curate.id_join import join_by_id
from arctic_ray.data.arrow_compute import pc
from arctic_ray.data.shuffle import shuffle_strategy

TAGS = ["duplicate_of", "cluster"]


def split_rows(
    ds: ray.data.Dataset, dups: pa.Table | ray.data.Dataset, partitions: int, shuffle: str
) -> tuple[ray.data.Dataset, ray.data.Dataset]:
    with shuffle_strategy(ds, shuffle):  # the join's groupby takes the strategy when it is built
        tagged = join_by_id(ds, dups, TAGS, partitions)
        if isinstance(dups, ray.data.Dataset):
            tagged = tagged.materialize()  # a shuffle: not twice, once for each half
    kept = tagged.map_batches(partial(_half, duplicates=False), batch_format="pyarrow")
    return kept, tagged.map_batches(partial(_half, duplicates=True), batch_format="pyarrow")


def _half(rows: pa.Table, duplicates: bool) -> pa.Table:
    removed = pc.is_valid(rows.column("duplicate_of"))
    return rows.filter(removed) if duplicates else rows.filter(pc.invert(removed)).drop_columns(TAGS)
