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
    types = []
    for group in (config.node_group_configs if config else []):
        resources = dict(group.resources)
        if group.max_count != 0 and resources.get("CPU", 0) > 0:
            count = (1 << 10) if group.max_count == -1 else group.max_count  # -1: no limit
            types.append(NodeType(NodeShape(float(resources.get("CPU", 0)), float(resources.get("GPU", 0))), count))
    return ClusterView(nodes, tuple(types))
