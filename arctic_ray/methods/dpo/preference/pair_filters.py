"""The filters pairs pass after judging: a pair whose chosen and rejected are near-identical
teaches nothing (MinHash within the pair), and the same pair from two prompts counts once."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import ray.data

from arctic_ray.curate.dedup.shingles import shingle_hashes
from arctic_ray.curate.dedup.signatures import signatures


def similarity(a: list[str], b: list[str], num_perm: int = 128) -> np.ndarray:
    """MinHash estimate of the Jaccard similarity of each (a[i], b[i]), on character 5-grams."""
    sig_a = signatures(shingle_hashes(pa.array(a), "char", 5), num_perm, 1)
    sig_b = signatures(shingle_hashes(pa.array(b), "char", 5), num_perm, 1)
    return (sig_a == sig_b).mean(axis=1)


def near_identical(batch: pa.Table, threshold: float) -> pa.Table:
    sims = similarity(batch["chosen"].to_pylist(), batch["rejected"].to_pylist())
    return batch.append_column("similarity", pa.array(sims.astype(float))).append_column(
        "near_identical", pa.array(sims >= threshold)
    )


def without_duplicates(pairs: ray.data.Dataset) -> ray.data.Dataset:
    """One pair per (prompt, chosen, rejected) text, the first by id (a Ray shuffle on the key)."""

    def key(batch: pa.Table) -> pa.Table:
        keys = [
            " ".join(f"{p}\0{c}\0{r}".lower().split())
            for p, c, r in zip(
                batch["prompt"].to_pylist(), batch["chosen"].to_pylist(), batch["rejected"].to_pylist(), strict=True
            )
        ]
        return batch.append_column("pair_key", pa.array(keys))

    def first(group: pa.Table) -> pa.Table:
        return group.sort_by("id").slice(0, 1).drop_columns(["pair_key"])

    return (
        pairs.map_batches(key, batch_format="pyarrow")
        .groupby("pair_key")
        .map_groups(first, batch_format="pyarrow")
        .materialize()
    )
