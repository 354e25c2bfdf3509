"""Shingles of a batch of texts, hashed with no Python call per shingle.

A text is normalised (lower case; every run of characters that are not letters, digits or `_`
becomes one space), and a shingle is a span of its UTF-8 bytes: `n` consecutive words
(`kind="word"`) or characters (`kind="char"`); a text shorter than `n` is one shingle. All spans
of a batch are hashed at once with a polynomial prefix hash over the batch's bytes (exact
arithmetic modulo 2^64, so a span hashes the same in any batch), mixed down to 32 bits: the
input that datasketch's MinHash takes from its hash function. `shingle_set` and `span_hash`
say the same in plain Python, for tests and exact Jaccard."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from arctic_ray.data.arrow_compute import pc

_NOT_WORD = r"[^\p{L}\p{N}_]+"  # Python's \W, in RE2
_MOD = 1 << 64
_BASE = 0x9E3779B97F4A7C15  # odd, so invertible modulo 2^64
_BASE_INV = pow(_BASE, -1, _MOD)
_powers = np.ones(1, np.uint64), np.ones(1, np.uint64)  # BASE^j and BASE^-j, grown on demand


def normalise(texts: pa.Array) -> pa.Array:
    """Lower case, words separated by single spaces; null becomes empty."""
    texts = pc.fill_null(texts.cast(pa.large_string()), "")
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(pc.utf8_lower(texts), _NOT_WORD, " "))


@dataclass
class Shingles:
    hashes: np.ndarray
    """uint32 hash of every shingle of the batch, text after text."""
    offsets: np.ndarray
    """int64, one more than texts: text i's shingles are hashes[offsets[i]:offsets[i + 1]]."""


def shingle_hashes(texts: pa.Array, kind: str, n: int) -> Shingles:
    data, text_offsets = string_bytes(normalise(texts))
    starts, ends = _units(data, text_offsets, kind)
    first, last, counts = _windows(np.searchsorted(starts, text_offsets), n)
    return Shingles(span_hashes(data, starts[first], ends[last]), np.concatenate([[0], np.cumsum(counts)]))


def string_bytes(strings: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-8 bytes, int64 offsets) of a string array, without copying the bytes."""
    strings = strings.cast(pa.large_string())
    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks()
    _, offsets_buf, data_buf = strings.buffers()
    offsets = np.frombuffer(offsets_buf, np.int64)[strings.offset : strings.offset + len(strings) + 1]
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return data[: offsets[-1]], offsets


def _units(data: np.ndarray, text_offsets: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Byte [start, end) of every word or character, in order."""
    at_text_start = np.zeros(len(data) + 1, bool)
    at_text_start[text_offsets] = True
    if kind == "word":
        space = data == 32
        starts = np.flatnonzero(~space & (at_text_start[:-1] | np.concatenate([[True], space[:-1]])))
        ends = np.flatnonzero(~space & (at_text_start[1:] | np.concatenate([space[1:], [True]]))) + 1
        return starts, ends
    starts = np.flatnonzero((data & 0xC0) != 0x80)  # not a UTF-8 continuation byte
    ends = np.append(starts[1:], len(data))
    ends = np.minimum(ends, text_offsets[np.searchsorted(text_offsets, starts, side="right")])
    return starts, ends


def _windows(unit_offsets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First and last unit of every shingle, and the number of shingles of each text."""
    units = np.diff(unit_offsets)
    counts = np.where(units > 0, np.maximum(units - n + 1, 1), 0)
    text = np.repeat(np.arange(len(units)), counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    first = unit_offsets[:-1][text] + within
    last = np.minimum(first + n - 1, unit_offsets[1:][text] - 1)
    return first, last, counts


def span_hashes(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """32-bit hash of each span data[s:e]: fmix64(sum_j v_j * BASE^(e-1-j)) >> 32, from one prefix sum of
    v_j * BASE^-j (v = byte + 1), all modulo 2^64 by uint64 wraparound."""
    power, inverse = _grown_powers(len(data) + 1)
    prefix = np.zeros(len(data) + 1, np.uint64)
    np.cumsum((data.astype(np.uint64) + np.uint64(1)) * inverse[: len(data)], out=prefix[1:])
    return (fmix64((prefix[ends] - prefix[starts]) * power[ends - 1]) >> np.uint64(32)).astype(np.uint32)


def _grown_powers(m: int) -> tuple[np.ndarray, np.ndarray]:
    global _powers
    if len(_powers[0]) < m:
        size = max(m, 2 * len(_powers[0]))
        power, inverse = (
            np.cumprod(np.concatenate([np.ones(1, np.uint64), np.full(size - 1, x, np.uint64)]))
            for x in (_BASE, _BASE_INV)
        )
        _powers = power, inverse
    return _powers


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer: every input bit reaches every output bit."""
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def span_hash(span: bytes) -> int:
    """What `shingle_hashes` gives the shingle `span` (UTF-8 bytes), in plain Python: usable as
    datasketch's `hashfunc`."""
    h = 0
    for byte in span:
        h = (h * _BASE + byte + 1) % _MOD
    return int(fmix64(np.array([h], np.uint64))[0] >> np.uint64(32))


def shingle_set(text: str, kind: str, n: int) -> set[str]:
    """The shingles of one text, as strings."""
    norm = normalise(pa.array([text]))[0].as_py()
    units = norm.split() if kind == "word" else list(norm)
    sep = " " if kind == "word" else ""
    if not units:
        return set()
    return {sep.join(units[i : i + n]) for i in range(max(len(units) - n + 1, 1))}
