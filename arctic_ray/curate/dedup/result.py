"""What a dedup stage returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import ray.data


@dataclass
class DedupResult:
    kept: ray.data.Dataset
    duplicates: ray.data.Dataset
    """The removed rows, with `duplicate_of` (the id of the row kept in their place) and
    `cluster` (their group's id: the survivor's)."""
    giant_clusters: list[dict] = field(default_factory=list)
    """Groups larger than `max_cluster_size`, as {cluster, size}, largest first; their rows are
    kept unless `drop_giant_clusters`."""
