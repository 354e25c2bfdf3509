"""Decontamination: drop rows that near-duplicate a reference set (held-out eval prompts), with
the dedup machinery. Reference rows rank before every row, so a group that holds one is
removed in its favour, and only edges between a reference and a row count."""

from __future__ import annotations

from functools import partial

import numpy as np
import pyarrow as pa
import ray.data

from arctic_ray.curate.dedup.band_rows import band_rows, band_rows_of
from arctic_ray.curate.dedup.buckets import bucket_edges
from arctic_ray.curate.dedup.components_local import local_components
from arctic_ray.curate.dedup.config import DedupConfig
from arctic_ray.curate.dedup.near import near_duplicates, shuffle_partitions
from arctic_ray.curate.dedup.nodes import REFERENCE
from arctic_ray.curate.dedup.result import DedupResult
from arctic_ray.curate.dedup.survivors import local_duplicates
from arctic_ray.curate.dedup.tagging import split_rows


def decontaminate(ds: ray.data.Dataset, reference: ray.data.Dataset, cfg: DedupConfig) -> DedupResult:
    """DedupResult of `ds` without the rows that near-duplicate a row of `reference` (the same
    `id` and text columns); `duplicate_of` and `cluster` name the reference row, as text."""
    partitions = shuffle_partitions(cfg)
    rows = ds.map_batches(
        partial(band_rows, cfg=cfg, partitions=partitions, reference=False, ids_as_text=True),
        batch_format="pyarrow",
        batch_size=1024,
    )
    refs = reference.map_batches(
        partial(band_rows, cfg=cfg, partitions=partitions, reference=True, ids_as_text=True),
        batch_format="pyarrow",
        batch_size=1024,
    )
    dups, _ = near_duplicates(rows.union(refs), cfg, partitions, cross_only=True, guard=False)
    kept, duplicates = split_rows(ds, dups, partitions, cfg.shuffle)
    return DedupResult(kept, duplicates)


def dedup_against(rows: list[dict], text_of, reference: list[str], cfg: DedupConfig) -> tuple[list[dict], list[dict]]:
    """Small row sets, in this process: drop rows that near-duplicate a reference text (held-out
    eval prompts) or another row (the smallest id stays). Returns (kept, duplicates with
    `duplicate_of`: "eval prompt I" or "row ID")."""
    ids = [f"ref:{i}" for i in range(len(reference))] + [f"row:{r['id']}" for r in rows]
    rank = np.concatenate([np.full(len(reference), REFERENCE), np.zeros(len(rows))])
    table = band_rows_of(
        pa.array([*reference, *(text_of(r) for r in rows)], pa.large_string()), pa.array(ids), rank, cfg, 1
    )
    dups, _ = local_duplicates(local_components(bucket_edges(table, cfg.verify_threshold)), cfg, guard=False)
    original = dict(zip(dups.column("id").to_pylist(), dups.column("duplicate_of").to_pylist(), strict=False))
    kept, removed = [], []
    for row in rows:
        of = original.get(f"row:{row['id']}")
        if of is None:
            kept.append(row)
        else:
            where, _, name = of.partition(":")
            removed.append({**row, "duplicate_of": f"{'eval prompt' if where == 'ref' else 'row'} {name}"})
    return kept, removed
