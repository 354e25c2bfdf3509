"""The band shuffle's input: one row per (text, shuffle partition) holding the text's band keys
that fall in that partition, its node (id, rank) and its signature's b-bit sketch, so a reducer
can verify its candidates without another shuffle, and a text's sketch travels once to each
partition it reaches rather than once per band. Texts with no shingles (empty after
normalisation) are left out: exact dedup is the tool for those."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from arctic_ray.curate.dedup.config import DedupConfig
from arctic_ray.curate.dedup.lsh import band_keys, bands
from arctic_ray.curate.dedup.nodes import REFERENCE, ranks
from arctic_ray.curate.dedup.shingles import shingle_hashes
from arctic_ray.curate.dedup.signatures import signatures, sketches, to_arrow
from arctic_ray.curate.dedup.texts import text_column


def band_rows_of(texts: pa.Array, ids: pa.Array, rank: np.ndarray, cfg: DedupConfig, partitions: int) -> pa.Table:
    shingles = shingle_hashes(texts, cfg.shingle, cfg.ngram)
    sigs = signatures(shingles, cfg.num_perm, cfg.seed)
    num_bands, rows = bands(cfg.threshold, cfg.num_perm, cfg.false_negative_weight)
    present = np.flatnonzero(np.diff(shingles.offsets) > 0)
    keys = band_keys(sigs[present], num_bands, rows).ravel()  # text-major
    text = np.repeat(present, num_bands)
    part = (keys % np.uint64(partitions)).astype(np.int64)
    order = np.lexsort((part, text))  # by text, then partition
    text, part, keys = text[order], part[order], keys[order]
    first = np.flatnonzero(np.concatenate([[True], (text[1:] != text[:-1]) | (part[1:] != part[:-1])]))
    owner = text[first]
    return pa.table(
        {
            "part": part[first],
            "band_keys": pa.ListArray.from_arrays(
                pa.array(np.append(first, len(keys)).astype(np.int32)), pa.array(keys)
            ),
            "id": ids.take(owner),
            "rank": rank[owner],
            "sketch": to_arrow(sketches(sigs)[owner]),
        }
    )


def band_rows(
    batch: pa.Table, cfg: DedupConfig, partitions: int, reference: bool = False, ids_as_text: bool = False
) -> pa.Table:
    """Ray Data stage: a batch of rows (id, the configured field, the survivor score)."""
    ids = batch.column("id").combine_chunks()
    if ids_as_text:  # references and rows share one id column
        ids = ids.cast(pa.large_string())
    rank = np.full(batch.num_rows, REFERENCE) if reference else ranks(batch, cfg.survivor_score)
    return band_rows_of(text_column(batch, cfg.field), ids, rank, cfg, partitions)
