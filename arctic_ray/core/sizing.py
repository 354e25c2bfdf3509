"""Resource-aware defaults: how many training workers, engines and what share of a device the
teacher gets, from what the cluster has and what its autoscaler can add (`cluster.py`). A pure
function of declared resources, so each plan is tested without the hardware, and printed by the
run that uses it. Recipe fields a user sets always win over the plan.

- No GPU anywhere (a laptop, a CPU cluster): the small defaults that fit a 2-core machine.
- Generating first (offline): one engine per GPU the cluster has, up to one per GPU it can grow
  to; then one training worker per GPU it can hold (engines are gone by then).
- The online teacher shares a node with the trainers: the biggest GPU node there is or can be.
  With G >= 2 GPUs, G - 1 workers and the teacher on the last GPU; with one GPU, the teacher
  and the worker share it (0.2 + 0.8), and the teacher's vLLM memory share stays inside its part.
A fractional GPU is a memory share too: an engine given 0.2 of a GPU may ask vLLM for at most
0.2 of its memory (minus headroom), so the shares on one device never sum above 1."""

from __future__ import annotations

from dataclasses import dataclass, field

from arctic_ray.core.cluster import ClusterView, NodeShape

HEADROOM = 0.9
"""vLLM's share of what it is given: the rest covers the CUDA context and the trainer's spikes."""
SHARED_TEACHER_GPU = 0.2


@dataclass(frozen=True)
class Plan:
    workers: int
    cpus_per_worker: float
    gpus_per_worker: float
    engines: tuple[int, int]
    """An autoscaling engine pool (min, max)."""
    cpus_per_engine: float
    gpus_per_engine: float
    engine_memory: float
    """vLLM's `gpu_memory_utilization` of each engine."""
    teacher_cpus: float
    teacher_gpus: float
    teacher_memory: float
    node: NodeShape | None = None
    """The node the teacher and the trainers share (online)."""
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"training workers: {self.workers} x ({self.cpus_per_worker:g} CPU, {self.gpus_per_worker:g} GPU)",
            f"engines: {self.engines[0]}..{self.engines[1]} x ({self.cpus_per_engine:g} CPU, "
            f"{self.gpus_per_engine:g} GPU, vLLM memory {self.engine_memory:g})",
            f"teacher: {self.teacher_cpus:g} CPU, {self.teacher_gpus:g} GPU, vLLM memory {self.teacher_memory:g}",
        ]
        if self.node:
            out.append(f"teacher and trainers share a node of {self.node.cpus:g} CPUs, {self.node.gpus:g} GPUs")
        return out + self.notes


def plan(view: ClusterView, online: bool) -> Plan:
    shapes = view.shapes
    biggest = max(shapes, key=lambda s: (s.gpus, s.cpus), default=NodeShape(2.0))
    if biggest.gpus == 0:
        cpu_nodes = len(view.nodes) + sum(t.max_count for t in view.node_types)
        return Plan(
            workers=2,
            cpus_per_worker=0.75 if online else 1.0,
            gpus_per_worker=0.0,
            engines=(1, max(1, cpu_nodes)),
            cpus_per_engine=1.0,
            gpus_per_engine=0.0,
            engine_memory=HEADROOM,
            teacher_cpus=0.5,
            teacher_gpus=0.0,
            teacher_memory=HEADROOM,
            node=biggest if online else None,
            notes=["no GPU in the cluster or its node types: CPU sizes"],
        )
    gpus_now, gpus_max = int(view.now("gpus")), int(view.ceiling("gpus"))
    engines = (max(1, gpus_now), max(1, gpus_max))
    engine_cpus = max(1.0, biggest.cpus // biggest.gpus - 1)
    if not online:
        workers = max(1, gpus_max)
        return Plan(
            workers=workers,
            cpus_per_worker=max(1.0, biggest.cpus // biggest.gpus - 1),
            gpus_per_worker=1.0,
            engines=engines,
            cpus_per_engine=engine_cpus,
            gpus_per_engine=1.0,
            engine_memory=HEADROOM,
            teacher_cpus=engine_cpus,
            teacher_gpus=1.0,
            teacher_memory=HEADROOM,
        )
    g = int(biggest.gpus)
    if g >= 2:
        workers, per_worker, teacher_gpus = g - 1, 1.0, 1.0
    else:
        workers, per_worker, teacher_gpus = 1, 1.0 - SHARED_TEACHER_GPU, SHARED_TEACHER_GPU
    teacher_cpus = max(1.0, biggest.cpus // (workers + 1))
    cpus_per_worker = max(1.0, (biggest.cpus - teacher_cpus) // workers)
    return Plan(
        workers=workers,
        cpus_per_worker=cpus_per_worker,
        gpus_per_worker=per_worker,
        engines=engines,
        cpus_per_engine=engine_cpus,
        gpus_per_engine=1.0,
        engine_memory=HEADROOM,
        teacher_cpus=teacher_cpus,
        teacher_gpus=teacher_gpus,
        teacher_memory=round(teacher_gpus * HEADROOM, 3),
        node=biggest,
    )


def fill_unset(block, **values):
    """`block` with `values` for the fields its recipe did not set (a user's choice wins)."""
    return block.model_copy(update={k: v for k, v in values.items() if k not in block.model_fields_set})
