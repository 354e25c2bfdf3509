"""Where the teacher and the training workers meet: one node with room for both. Ray Train V2
places its workers in a placement group of its own, so the pair is tied by the node's
`ray.io/node-id` label rather than by sharing that group."""

from __future__ import annotations

import ray

from arctic_ray.core.errors import ArcticRayError


class PlacementError(ArcticRayError):
    pass


def pick_node(cpus: float, gpus: float) -> str:
    """The alive node with the most free GPUs (then CPUs) that fits `cpus` and `gpus`."""
    candidates = []
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        res = node.get("Resources", {})
        if res.get("CPU", 0) >= cpus and res.get("GPU", 0) >= gpus:
            candidates.append((res.get("GPU", 0), res.get("CPU", 0), node["NodeID"]))
    if not candidates:
        raise PlacementError(f"no node has {cpus} CPUs and {gpus} GPUs for the teacher and the training workers together")
    return max(candidates)[2]
