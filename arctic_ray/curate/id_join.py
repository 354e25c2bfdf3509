"""A left join of a Dataset of rows with a keyed table on `id`, with no step holding all rows:
a table up to a size the caller chooses goes to every task through the object store; a larger
one (a Dataset) is split by id hash into partitions (Ray tasks), and the rows are grouped by the
same hash (a Ray Data shuffle), so each reducer reads one partition of the table. Written by
hand because Ray Data's own join needs polars."""

from __future__ import annotations

from functools import partial
from typing import cast

import numpy as np
import pyarrow as pa
import ray
import ray.data

from arctic_ray.curate.dedup.nodes import id_hash
from arctic_ray.data.arrow_compute import pc


def join_by_id(
    ds: ray.data.Dataset, table: pa.Table | ray.data.Dataset, columns: list[str], partitions: int
) -> ray.data.Dataset:
    """`ds` with `columns` of `table` (keyed by its `id`, at most one row per id) appended; null
    where the table has no row for an id."""
    if isinstance(table, pa.Table):
        return ds.map_batches(_attach_from, fn_args=(ray.put(table), columns), batch_format="pyarrow")  # pyright: ignore[reportArgumentType]  # fn_args fill the extra parameters
    partitions = max(partitions, 2)  # _split returns a list per block
    parts = _partitioned(table, partitions)
    return (
        ds.map_batches(partial(_with_part, partitions=partitions), batch_format="pyarrow")
        .groupby("_part", num_partitions=partitions)
        .map_groups(partial(_attach_part, parts=parts, columns=columns), batch_format="pyarrow")
    )


def attach(rows: pa.Table, table: pa.Table, columns: list[str]) -> pa.Table:
    ids = rows.column("id")
    if not table.num_rows:
        for name in columns:
            rows = rows.append_column(name, pa.nulls(len(ids), _type(table, name, ids.type)))
        return rows
    where = pc.index_in(ids, value_set=table.column("id").cast(ids.type))
    for name in columns:
        rows = rows.append_column(name, table.column(name).combine_chunks().take(where))
    return rows


def _type(table: pa.Table, name: str, id_type: pa.DataType) -> pa.DataType:
    kind = table.schema.field(name).type
    return id_type if pa.types.is_null(kind) else kind


def _attach_from(rows: pa.Table, table_ref, columns: list[str]) -> pa.Table:
    return attach(rows, ray.get(table_ref), columns)  # zero-copy from the object store


def _part_of(ids: pa.Array, partitions: int) -> np.ndarray:
    return (id_hash(ids) % np.uint64(partitions)).astype(np.int64)


def _with_part(rows: pa.Table, partitions: int) -> pa.Table:
    return rows.append_column("_part", pa.array(_part_of(rows.column("id").combine_chunks(), partitions)))


@ray.remote
def _split(table: pa.Table, partitions: int) -> list[pa.Table]:
    part = _part_of(table.column("id").combine_chunks(), partitions)
    return [table.filter(pa.array(part == p)) for p in range(partitions)]


@ray.remote
def _concat(*tables: pa.Table) -> pa.Table:
    return pa.concat_tables(tables)


def _partitioned(table: ray.data.Dataset, partitions: int) -> list:
    """One object ref per partition of the table; only refs reach the driver."""
    # with num_returns, remote() gives a ref per partition, not the one ref its type says
    pieces = [
        cast("list[ray.ObjectRef[pa.Table]]", _split.options(num_returns=partitions).remote(block, partitions))
        for block in table.to_arrow_refs()
    ]
    return [_concat.remote(*(p[i] for p in pieces)) for i in range(partitions)]


def _attach_part(rows: pa.Table, parts: list, columns: list[str]) -> pa.Table:
    table = ray.get(parts[rows.column("_part")[0].as_py()])
    return attach(rows.drop_columns(["_part"]), table, columns)
