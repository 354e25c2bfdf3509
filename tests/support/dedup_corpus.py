"""Texts with known overlap for the dedup tests and benchmarks: unrelated seeds share few 5-grams,
and each edit changes a known number of them."""

from __future__ import annotations

import numpy as np

from arctic_ray.curate.dedup.shingles import shingle_set

WORDS = (
    "the water cycle moves water between oceans air and land while the sun heats the sea so water evaporates "
    "rises cools into clouds and falls again as rain or snow that flows back through rivers lakes and soil "
    "until it reaches the sea where the journey begins once more under a warm and patient sky"
).split()


def text(seed: int, n: int = 160) -> str:
    """A text of n words drawn from a shuffled vocabulary: unrelated seeds share few 5-grams."""
    rng = np.random.default_rng(seed)
    return " ".join(rng.choice(WORDS, n))


def edited(base: str, *positions: int, tag: str = "edit") -> str:
    """base with the words at `positions` replaced: each edit changes up to 5 word 5-grams."""
    words = base.split()
    return " ".join(f"{tag}{i}" if i in positions else w for i, w in enumerate(words))


def jaccard(a: str, b: str, n: int = 5) -> float:
    sa, sb = shingle_set(a, "word", n), shingle_set(b, "word", n)
    return len(sa & sb) / len(sa | sb)
