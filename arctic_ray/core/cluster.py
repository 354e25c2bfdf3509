"""What the cluster has and can grow to, as plain data: the alive nodes' resources and the node
types the autoscaler may still add (with how many more of each). Sizing (`sizing.py`) is a pure
function of it, so a plan is tested on declared resources and printed before a run uses it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NodeShape:
    cpus: float
    gpus: float = 0.0


@dataclass(frozen=True)
class NodeType:
    shape: NodeShape
    max_count: int
    """At most this many nodes of the type (running ones included)."""


@dataclass(frozen=True)
class ClusterView:
    nodes: tuple[NodeShape, ...]
    """The alive nodes."""
    node_types: tuple[NodeType, ...] = field(default=())
    """What the autoscaler may start."""
    types_known: bool = True
    """False when the cluster does not say what its autoscaler may start (Ray's v1 autoscaler
    keeps it to itself): a plan then sizes for what is there, and nothing is refused for lack
    of a node, since one may still come."""

    @property
    def shapes(self) -> list[NodeShape]:
        """Every node shape there is or can be."""
        return [*self.nodes, *(t.shape for t in self.node_types if t.max_count > 0)]

    def fits(self, cpus: float, gpus: float) -> bool:
        """Whether one node there is, or can be, holds this much."""
        return any(s.cpus >= cpus and s.gpus >= gpus for s in self.shapes)

    def now(self, resource: str) -> float:
        return sum(getattr(n, resource) for n in self.nodes)

    def ceiling(self, resource: str) -> float:
        """The most the cluster can hold: the nodes there are, plus every node the autoscaler may
        still add (an alive node of a type's shape counts as one of that type's)."""
        left = {t: t.max_count for t in self.node_types}
        for node in self.nodes:
            match = next((t for t in left if t.shape == node and left[t] > 0), None)
            if match is not None:
                left[match] -= 1
        return self.now(resource) + sum(getattr(t.shape, resource) * n for t, n in left.items())


def current_cluster() -> ClusterView:
    """The Ray cluster this process is connected to."""
    import ray
    import ray._private.state

    nodes = tuple(
        NodeShape(n["Resources"].get("CPU", 0.0), n["Resources"].get("GPU", 0.0))
        for n in ray.nodes()
        if n.get("Alive") and n["Resources"].get("CPU", 0.0) > 0
    )
    config = ray._private.state.state.get_cluster_config()
    if config is None and _autoscaling():
        return ClusterView(nodes, (), types_known=False)
    types = []
    for group in config.node_group_configs if config else []:
        resources = dict(group.resources)
        if group.max_count != 0 and resources.get("CPU", 0) > 0:
            count = (1 << 10) if group.max_count == -1 else group.max_count  # -1: no limit
            types.append(NodeType(NodeShape(float(resources.get("CPU", 0)), float(resources.get("GPU", 0))), count))
    return ClusterView(nodes, tuple(types))


def _autoscaling() -> bool:
    """Whether an autoscaler with node types runs beside this cluster. Every Ray cluster has a
    monitor; on one without an autoscaling config (`ray.init()`, a plain `ray start`) it names each
    node's type after the node itself (`node_<id>`), so a type named otherwise is a configured one."""
    import json
    import re

    import ray.experimental.internal_kv as kv

    try:
        status = kv._internal_kv_get("__autoscaling_status")
    except Exception:
        return False
    mapping = (json.loads(status).get("autoscaler_report") or {}).get("node_type_mapping") or {} if status else {}
    return any(not re.fullmatch(r"node_[0-9a-f]+", name) for name in mapping.values())
