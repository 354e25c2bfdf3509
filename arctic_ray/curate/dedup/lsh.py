"""LSH bands: b bands of r rows, chosen for the threshold and permutation count the way
datasketch's MinHashLSH chooses them (its `_optimal_param`, with the recipe's weight on false
negatives), and one 64-bit key per (text, band): texts that agree on all r values of a
band share its key."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from datasketch.lsh import _optimal_param

from arctic_ray.curate.dedup.shingles import fmix64


@lru_cache
def bands(threshold: float, num_perm: int, false_negative_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows per band)."""
    return _optimal_param(threshold, num_perm, 1 - false_negative_weight, false_negative_weight)


def band_keys(sigs: np.ndarray, num_bands: int, rows: int) -> np.ndarray:
    """(texts, bands) uint64; the band number is mixed in, so equal keys mean the same band."""
    keys = np.empty((len(sigs), num_bands), np.uint64)
    for band in range(num_bands):
        h = fmix64(np.full(len(sigs), band + 1, np.uint64))
        for col in sigs[:, band * rows : (band + 1) * rows].T:
            h = fmix64(h ^ col.astype(np.uint64))
        keys[:, band] = h
    return keys
