"""The pipelines' dedup stage on a table of files (`arctic-ray dedup`, `command.py`), for people with data and
no recipe. A JSONL file, a parquet file or a directory of parquet files is read with Ray Data;
`exact_dedup` (optional, first) and `minhash_dedup` run on it unchanged; the kept rows and the
duplicates (with `duplicate_of`, `cluster` and `dedup`: exact or near) are written as parquet
under `kept/` and `duplicates/`, with the counts in `summary.json`.

Rows are nodes by their `id`, so ids must be unique: a table without an `id` column gets one
(each row's position, 0-based, as a string: stable for the same files), and a table whose ids
repeat is refused before anything is removed (`renumber` numbers its rows instead and keeps the
old id as `source_id`)."""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import cast

import numpy as np
import pyarrow as pa
import ray
import ray.data
import ray.types

from arctic_ray.core.errors import ArcticRayError
from arctic_ray.core.run_dir import write_json
from arctic_ray.core.storage import location
from arctic_ray.curate.dedup.config import DedupConfig
from arctic_ray.curate.dedup.exact import exact_dedup
from arctic_ray.curate.dedup.minhash import minhash_dedup
from arctic_ray.curate.dedup.near import gather, shuffle_partitions
from arctic_ray.curate.dedup.texts import check_columns
from arctic_ray.data.arrow_compute import pc
from arctic_ray.data.shuffle import shuffle_strategy

OUTPUTS = ("kept", "duplicates")


class DedupInputError(ArcticRayError):
    pass


@dataclass
class DedupSummary:
    input: str
    output: str
    rows: int = 0
    kept: int = 0
    near_duplicates: int = 0
    exact_duplicates: int = 0
    ids_added: bool = False
    """The input had no `id` (or `renumber`): each row's position, as a string."""
    giant_clusters: list[dict] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        if self.ids_added:
            out.append("input rows are numbered: `id` is each row's position in the input (0-based, as a string)")
        out.append(
            f"rows in {self.rows}, kept {self.kept}, near-duplicates {self.near_duplicates}, "
            f"exact duplicates {self.exact_duplicates}, giant clusters reported {len(self.giant_clusters)}"
        )
        for g in self.giant_clusters[:5]:
            out.append(f"  giant cluster {g['cluster']!r}: {g['size']} rows")
        out.append(
            f"wrote {Path(self.output) / 'kept'}/ and {Path(self.output) / 'duplicates'}/ (parquet), "
            f"{Path(self.output) / 'summary.json'}"
        )
        return out


def read_table(path: str | Path) -> ray.data.Dataset:
    """A JSONL file, a parquet file or a directory of parquet files (searched recursively), as
    a Dataset whose blocks follow the files' sorted order."""
    path = Path(path)
    if path.is_file():
        if path.suffix in (".jsonl", ".json"):
            return ray.data.read_json(str(path))
        if path.suffix == ".parquet":
            return ray.data.read_parquet(str(path))
        raise DedupInputError(f"{path}: unknown format (expected .jsonl, .parquet or a directory of parquet files)")
    if path.is_dir():
        files = sorted(str(f) for f in path.rglob("*.parquet"))
        if not files:
            raise DedupInputError(f"{path}: a directory without parquet files")
        return ray.data.read_parquet(files)
    raise DedupInputError(f"input not found: {path}")


def numbered(ds: ray.data.Dataset, keep_old: bool = False) -> ray.data.Dataset:
    """ds with `id` = each row's position as a string (the old `id` as `source_id` if keep_old).
    Reads the input once, in order, into the object store."""
    ds.context.execution_options.preserve_order = True  # this read's own context: blocks in file order
    refs = ds.to_arrow_refs()
    sizes = ray.get([_num_rows.remote(ref) for ref in refs])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    tables = [_number.remote(ref, int(start), keep_old) for ref, start in zip(refs, starts, strict=False)]
    # Ray Data types refs as ray.types.ObjectRef, a stand-in for ray.ObjectRef
    return ray.data.from_arrow_refs(cast("list[ray.types.ObjectRef[pa.Table]]", tables))


@ray.remote
def _num_rows(table: pa.Table) -> int:
    return table.num_rows


@ray.remote
def _number(table: pa.Table, start: int, keep_old: bool) -> pa.Table:
    ids = pa.array([str(i) for i in range(start, start + table.num_rows)], pa.string())
    if "id" in table.column_names:
        old = table.column("id")
        table = table.drop_columns(["id"])
        if keep_old:
            table = table.append_column("source_id", old)
    return table.add_column(0, "id", ids)


def repeated_ids(ds: ray.data.Dataset, partitions: int, shuffle: str, limit: int = 3) -> list[tuple]:
    """Up to `limit` (id, count) of ids that appear more than once (a shuffle of the id column)."""
    with shuffle_strategy(ds, shuffle):
        counts = ds.select_columns(["id"]).groupby("id", num_partitions=partitions).count()
        repeated = counts.map_batches(_repeated, batch_format="pyarrow").take(limit)
    return [(row["id"], row["count()"]) for row in repeated]


def _repeated(counts: pa.Table) -> pa.Table:
    return counts.filter(pc.greater(counts.column("count()"), 1))


def _check_output(output: Path) -> None:
    for name in OUTPUTS:
        if (output / name).exists() and any((output / name).iterdir()):
            raise DedupInputError(f"{output / name} already holds files: choose another --output or remove it")


def _labelled(ds: ray.data.Dataset, kind: str) -> ray.data.Dataset:
    return ds.map_batches(partial(_label, kind=kind), batch_format="pyarrow")


def _label(rows: pa.Table, kind: str) -> pa.Table:
    return rows.append_column("dedup", pa.array([kind] * rows.num_rows, pa.string()))


def _follow(rows: pa.Table, near_ref: ray.ObjectRef[pa.Table]) -> pa.Table:
    """An exact duplicate whose survivor was then removed as a near-duplicate points at the
    near-duplicate's survivor, the row that is kept in its place."""
    near = ray.get(near_ref)
    where = pc.index_in(
        rows.column("duplicate_of"), value_set=near.column("id").cast(rows.schema.field("duplicate_of").type)
    )
    survivor = pc.if_else(
        pc.is_valid(where), near.column("cluster").combine_chunks().take(where), rows.column("duplicate_of")
    )
    for name in ("duplicate_of", "cluster"):
        rows = rows.set_column(rows.schema.get_field_index(name), name, survivor)
    return rows


def _write(ds: ray.data.Dataset, path: Path) -> int:
    """Parquet files under path; a table without rows is one empty file with the schema, so
    `path` always reads back; a rerun into the same output replaces what is there. (ds is a
    cheap filter over a materialized table: counted, then written, rather than held twice.)"""
    rows = ds.count()
    shutil.rmtree(path, ignore_errors=True)
    if rows:
        ds.write_parquet(str(path))
    else:
        import pyarrow.parquet as pq

        path.mkdir(parents=True, exist_ok=True)
        schema = ds.schema()
        # the blocks are arrow (read from files, mapped as pyarrow), so the schema is too
        base = cast(pa.Schema, schema.base_schema) if schema is not None else pa.schema([])
        pq.write_table(base.empty_table(), path / "empty.parquet")
    return rows


def dedup_files(
    input: str | Path, output: str | Path, cfg: DedupConfig, exact: bool = False, renumber: bool = False
) -> DedupSummary:
    """Near-dedup (and exact dedup first, with `exact`) the rows of `input` into `output`."""
    output = Path(output)
    _check_output(output)
    ds = read_table(input)
    summary = DedupSummary(str(input), str(output))
    schema = ds.schema()
    if schema is None:
        raise DedupInputError(f"{input}: no rows")
    check_columns(ds, cfg)  # the field (and survivor score) before any work
    if renumber or "id" not in schema.names:
        ds, summary.ids_added = numbered(ds, keep_old=renumber), True
    else:
        ds = ds.materialize()  # read once: the id check, exact and near dedup all read it again
        repeated = repeated_ids(ds, shuffle_partitions(cfg), cfg.shuffle)
        if repeated:
            shown = ", ".join(f"{i!r} ({n} rows)" for i, n in repeated)
            raise DedupInputError(
                f"{input}: ids must be unique, and these repeat: {shown}; --renumber numbers the rows instead"
            )
    summary.rows = ds.count()

    duplicates = []
    exact_dups = None
    if exact:
        first = exact_dedup(ds, cfg)
        ds, exact_dups = first.kept, first.duplicates
    near = minhash_dedup(ds, cfg)
    near_dups = near.duplicates.materialize()
    if exact_dups is not None:
        pointers = gather(near_dups.select_columns(["id", "cluster"]))
        if pointers.num_rows:  # (id, survivor) of the near-duplicates only: small beside the rows
            exact_dups = exact_dups.map_batches(_follow, fn_args=(ray.put(pointers),), batch_format="pyarrow")  # pyright: ignore[reportArgumentType]  # fn_args fill the extra parameters
        duplicates.append(_labelled(exact_dups, "exact"))
    duplicates.append(_labelled(near_dups, "near"))

    output.mkdir(parents=True, exist_ok=True)
    summary.kept = _write(near.kept, output / "kept")
    all_dups = duplicates[0].union(*duplicates[1:]) if len(duplicates) > 1 else duplicates[0]
    removed = _write(all_dups, output / "duplicates")
    summary.near_duplicates = near_dups.count()
    summary.exact_duplicates = removed - summary.near_duplicates
    summary.giant_clusters = near.giant_clusters
    write_json(location(output / "summary.json"), asdict(summary))
    return summary
