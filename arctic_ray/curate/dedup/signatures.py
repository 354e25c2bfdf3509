"""MinHash signatures of a batch, with datasketch's permutations.

datasketch (2.x, default scheme "affine32") mixes each 32-bit shingle hash h with MurmurHash3's
32-bit finalizer and keeps, for each permutation k, min over shingles of a_k * fmix32(h) + b_k
modulo 2^32, with (a, b) drawn from numpy's RandomState(seed). We take (a, b) from datasketch
itself and compute the same minima for a whole batch as matrix arithmetic: a signature equals
`MinHash(num_perm, seed, hashfunc=shingles.span_hash)` fed the same shingles."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyarrow as pa
from datasketch import MinHash

from arctic_ray.curate.dedup.shingles import Shingles

EMPTY = np.uint32(0xFFFFFFFF)  # datasketch's value for a text without shingles
_CHUNK = 1024  # shingles per matrix step: the (chunk x num_perm) block stays in cache
SKETCH_BITS = 8
_COLLIDE = 2.0**-SKETCH_BITS


@lru_cache
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations)  # typed ArrayLike
    return a.astype(np.uint32), b.astype(np.uint32)


def fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def signatures(shingles: Shingles, num_perm: int, seed: int) -> np.ndarray:
    """(texts, num_perm) uint32; a text without shingles gets EMPTY everywhere."""
    a, b = permutations(num_perm, seed)
    mixed = fmix32(shingles.hashes)
    offsets = shingles.offsets
    out = np.full((len(offsets) - 1, num_perm), EMPTY, np.uint32)
    texts = np.flatnonzero(np.diff(offsets) > 0)
    lo = 0
    while lo < len(texts):
        # whole texts, up to about _CHUNK shingles (at least one text)
        hi = max(lo + 1, int(np.searchsorted(offsets[texts + 1], offsets[texts[lo]] + _CHUNK, side="right")))
        chunk = texts[lo:hi]
        start = offsets[chunk[0]]
        block = mixed[start : offsets[chunk[-1] + 1], None] * a
        block += b
        out[chunk] = np.minimum.reduceat(block, offsets[chunk] - start, axis=0)
        lo = hi
    return out


def sketches(sigs: np.ndarray) -> np.ndarray:
    """The low SKETCH_BITS bits of every MinHash value (b-bit minwise hashing, Li & Koenig 2010):
    what the band shuffle carries to verify candidates, a quarter of the full signature."""
    return (sigs & np.uint32((1 << SKETCH_BITS) - 1)).astype(np.uint8)


def jaccard(sketch_a: np.ndarray, sketch_b: np.ndarray) -> np.ndarray:
    """Estimated Jaccard of row pairs of sketches: the share of permutations on which they agree,
    less the chance 2^-b that two different minima agree on their low b bits."""
    agree = (sketch_a == sketch_b).mean(axis=-1)
    return (agree - _COLLIDE) / (1 - _COLLIDE)


def to_arrow(rows: np.ndarray) -> pa.Array:
    """One fixed-size binary value per row of a 2-D array: moves through Ray Data's shuffle as bytes."""
    rows = np.ascontiguousarray(rows)
    width = rows.itemsize * rows.shape[1]
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(rows), [None, pa.py_buffer(rows)])


def from_arrow(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The 2-D uint8 array `to_arrow` was given."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    width = column.type.byte_width
    data = np.frombuffer(column.buffers()[1], np.uint8)[column.offset * width : (column.offset + len(column)) * width]
    return data.reshape(len(column), width)
