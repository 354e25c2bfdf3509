"""Near-duplicate removal with MinHash LSH (datasketch).

Signatures are computed in parallel as a Ray Data stage; the LSH index (a few hundred bytes a
row) is built in one place, so the first of each group of near-duplicates (by `id`) is kept and
every other one is written aside with the id it duplicates. Candidates from the LSH bands are
confirmed with the estimated Jaccard similarity, so band collisions below the threshold are
not dropped."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import ray.data
from datasketch import MinHash, MinHashLSH

from arctic_ray.config.dedup import DedupConfig

_WORD = re.compile(r"\w+", re.UNICODE)
# Named, so signatures made in Ray workers can be rebuilt identically on the driver.
SCHEME = "affine32"


def shingles(text: str, n: int) -> set[bytes]:
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return {" ".join(words).encode()}
    return {" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)}


def signature(text: str, cfg: DedupConfig) -> MinHash:
    m = MinHash(num_perm=cfg.num_perm, seed=1, scheme=SCHEME)
    m.update_batch(list(shingles(text, cfg.ngram)))
    return m


@dataclass
class DedupResult:
    kept: ray.data.Dataset
    duplicates: ray.data.Dataset


def _signature_stage(cfg: DedupConfig):
    def add_signatures(batch: dict) -> dict:
        sigs = [signature(str(text), cfg).hashvalues for text in batch[cfg.field]]
        return {"id": batch["id"], "minhash": np.stack(sigs).astype(np.uint64)}

    return add_signatures


def find_duplicates(ids: list[str], hashvalues: list[np.ndarray], cfg: DedupConfig) -> dict[str, str]:
    """Map each near-duplicate id to the id of the earlier row it repeats."""
    lsh = MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm)
    kept: dict[str, MinHash] = {}
    duplicate_of: dict[str, str] = {}
    for row_id, hv in sorted(zip(ids, hashvalues), key=lambda pair: pair[0]):
        m = MinHash(num_perm=cfg.num_perm, seed=1, hashvalues=hv, scheme=SCHEME)
        matches = [k for k in lsh.query(m) if kept[k].jaccard(m) >= cfg.threshold]
        if matches:
            duplicate_of[row_id] = min(matches)
        else:
            lsh.insert(row_id, m)
            kept[row_id] = m
    return duplicate_of


def minhash_dedup(ds: ray.data.Dataset, cfg: DedupConfig) -> DedupResult:
    sigs = ds.map_batches(_signature_stage(cfg), batch_format="numpy").take_all()
    duplicate_of = find_duplicates([s["id"] for s in sigs], [s["minhash"] for s in sigs], cfg)
    dup_ref = ray.put(duplicate_of)

    def tag(batch, dups=dup_ref):
        lookup = ray.get(dups)  # once per batch, not per row
        column = [lookup.get(row_id, "") for row_id in batch.column("id").to_pylist()]
        return batch.append_column("duplicate_of", pa.array(column, pa.string()))

    tagged = ds.map_batches(tag, batch_format="pyarrow").materialize()  # read by both filters
    kept = tagged.filter(lambda row: not row["duplicate_of"]).drop_columns(["duplicate_of"])
    duplicates = tagged.filter(lambda row: bool(row["duplicate_of"]))
    return DedupResult(kept=kept, duplicates=duplicates)


def dedup_against(rows: list[dict], text_of, reference: list[str], cfg: DedupConfig) -> tuple[list[dict], list[dict]]:
    """Small row sets on one process: drop rows that near-duplicate a reference text (e.g. the
    held-out eval prompts: decontamination) or an earlier row by id. Returns (kept, duplicates
    with `duplicate_of`)."""
    ids = [f"0:{i}" for i in range(len(reference))] + [f"1:{r['id']}" for r in rows]  # references win
    texts = [*reference, *(text_of(r) for r in rows)]
    dups = find_duplicates(ids, [signature(t, cfg).hashvalues for t in texts], cfg)
    kept, removed = [], []
    for row in rows:
        original = dups.get(f"1:{row['id']}")
        if original is None:
            kept.append(row)
        else:
            where = "eval prompt" if original.startswith("0:") else "row"
            removed.append({**row, "duplicate_of": f"{where} {original[2:]}"})
    return kept, removed
