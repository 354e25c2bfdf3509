"""Near-duplicate removal as a Ray Data stage: MinHash signatures over word or character
shingles (datasketch's permutations), LSH bands chosen for the threshold, candidates grouped by
band key through a shuffle and verified by estimated Jaccard, groups of duplicates as connected
components, one survivor per group (best `survivor_score`, then smallest id). The rows are read
three times (signatures, then each half of the split): materialize an expensive input first.
Ids must be unique: rows are tagged by id (`arctic-ray dedup` checks; the synth job's reader
refuses repeated ids)."""

from __future__ import annotations

from functools import partial

import ray.data

from arctic_ray.curate.dedup.band_rows import band_rows
from arctic_ray.curate.dedup.config import DedupConfig
from arctic_ray.curate.dedup.near import near_duplicates, shuffle_partitions
from arctic_ray.curate.dedup.result import DedupResult
from arctic_ray.curate.dedup.tagging import split_rows
from arctic_ray.curate.dedup.texts import check_columns


def minhash_dedup(ds: ray.data.Dataset, cfg: DedupConfig) -> DedupResult:
    check_columns(ds, cfg)
    partitions = shuffle_partitions(cfg)
    rows = ds.map_batches(partial(band_rows, cfg=cfg, partitions=partitions), batch_format="pyarrow", batch_size=1024)
    dups, giants = near_duplicates(rows, cfg, partitions)
    kept, duplicates = split_rows(ds, dups, partitions, cfg.shuffle)
    return DedupResult(kept, duplicates, giants)
