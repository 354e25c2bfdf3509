"""Where the teacher and the training workers meet: one node with room for both at once, found
by Ray rather than by reading the nodes' totals. A STRICT_PACK placement group of the teacher's
bundle and every worker's asks for it the way the autoscaler understands (a cluster at zero GPU
workers starts one); once Ray has placed the group, its node is the meeting point and the group
is released for the two to take its place. Ray Train V2 places its workers in a placement group
of its own, so the pair is tied by the node's `ray.io/node-id` label rather than by sharing one."""

from __future__ import annotations

import time

from ray._private.state import available_resources_per_node  # no public per-node view of what is free
from ray.util.placement_group import placement_group, placement_group_table, remove_placement_group

from arctic_ray.core.errors import ArcticRayError


class PlacementError(ArcticRayError):
    pass


def _bundle(cpus: float, gpus: float) -> dict:
    return {"CPU": cpus, **({"GPU": gpus} if gpus else {})}


def reserve_node(teacher: tuple[float, float], workers: int, per_worker: tuple[float, float], timeout_s: float) -> str:
    """The id of a node that holds the teacher's (CPUs, GPUs) and `workers` x `per_worker`
    together, waiting up to `timeout_s` for the autoscaler to start one."""
    bundles = [_bundle(*teacher)] + [_bundle(*per_worker)] * workers
    group = placement_group(bundles, strategy="STRICT_PACK", name=f"arctic-ray-meeting-{time.time_ns()}")
    try:
        if not group.wait(timeout_s):
            need = {k: sum(b.get(k, 0) for b in bundles) for k in ("CPU", "GPU")}
            raise PlacementError(
                f"waited {timeout_s:g} s for one node with {need['CPU']:g} CPUs and {need['GPU']:g} GPUs "
                f"for the teacher and {workers} training workers together; no such node came up (is there a "
                "node type that large, below its max_workers?). Lower workers.num_workers or the teacher's "
                "share, or raise teacher.placement_timeout_s"
            )
        return placement_group_table(group)["bundles_to_node_id"][0]
    finally:
        remove_placement_group(group)


def wait_until_free(node_id: str, cpus: float, gpus: float, timeout_s: float = 60) -> None:
    """Removing a placement group returns its resources a moment later."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        free = available_resources_per_node().get(node_id, {})
        if free.get("CPU", 0) >= cpus and free.get("GPU", 0) >= gpus:
            return
        time.sleep(0.2)
