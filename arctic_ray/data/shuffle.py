"""Which Ray Data shuffle a groupby runs on (dedup's, and the generation store's lookup). "sort"
(Ray Data's pull-based sort shuffle: plain Ray tasks) starts quickly; "hash" (Ray Data's default,
shuffle v2) pays a start-up per groupby that a small machine notices and is built for inputs
far beyond the object store. The setting lives on the Dataset's context, which a Dataset shares
with the one it was made from (the caller's), so it is set while the groupby is built and
materialized and put back afterwards; the materialized result keeps a copy with the setting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import ray.data
from ray.data.context import ShuffleStrategy

STRATEGIES = {"sort": ShuffleStrategy.SORT_SHUFFLE_PULL_BASED, "hash": ShuffleStrategy.SHUFFLE_V2}


@contextmanager
def shuffle_strategy(ds: ray.data.Dataset, name: str) -> Iterator[None]:
    """Run the groupbys built from `ds` and executed inside the block on the named shuffle."""
    context = ds.context
    before = context.shuffle_strategy
    context.shuffle_strategy = STRATEGIES[name]
    try:
        yield
    finally:
        context.shuffle_strategy = before
