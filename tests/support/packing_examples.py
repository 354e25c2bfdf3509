"""Examples with known lengths for the packing tests: found again in the bins by their tokens."""

from __future__ import annotations

from collections import Counter

import numpy as np

from arctic_ray.data.chat import IGNORE_INDEX


def skewed_examples(n: int, capacity: int, seed: int = 0) -> list[dict]:
    """Log-normal lengths clipped to [16, capacity]; example i's tokens are all i, so it is found again."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(mean=np.log(120), sigma=0.8, size=n), 16, capacity).astype(int)
    return [
        {"input_ids": [i] * int(n_), "labels": [IGNORE_INDEX] * 4 + [i] * (int(n_) - 4)} for i, n_ in enumerate(lengths)
    ]


def unpacked(bins) -> Counter:
    out = Counter()
    for b in bins:
        offsets = np.cumsum([0, *b["seq_lens"]])
        for start, end in zip(offsets[:-1], offsets[1:], strict=False):
            out[tuple(int(t) for t in b["input_ids"][start:end])] += 1
    return out
