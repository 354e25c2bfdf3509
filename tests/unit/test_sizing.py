"""Resource-aware defaults as a pure function of declared resources: a 2-CPU laptop gets the
small sizes; GPU nodes get a worker per GPU, an engine per GPU, the online teacher beside the
trainers on one node; no GPU's shares (devices or vLLM memory) sum above 1; every pool stays
within what the autoscaler can add (a recipe's own fields winning on a real cluster:
tests/integration/test_sizing_recipe.py)."""

import pytest

from arctic_ray.core.cluster import ClusterView, NodeShape, NodeType
from arctic_ray.core.sizing import HEADROOM, plan

LAPTOP = ClusterView((NodeShape(2),))
ONE_NODE = ClusterView((NodeShape(2), NodeShape(96, 8)))
FOUR_NODES = ClusterView((NodeShape(8),) + (NodeShape(96, 8),) * 4)
AT_ZERO = ClusterView((NodeShape(8),), (NodeType(NodeShape(96, 8), max_count=3), NodeType(NodeShape(32), max_count=4)))


def _check_shares(p, node: NodeShape) -> None:
    """On the shared node: devices and vLLM memory of teacher and workers within the node."""
    assert p.teacher_gpus + p.workers * p.gpus_per_worker <= node.gpus
    assert p.teacher_cpus + p.workers * p.cpus_per_worker <= node.cpus
    if 0 < p.teacher_gpus < 1:  # a shared GPU: the teacher's memory inside its part of the device
        assert p.teacher_memory <= p.teacher_gpus and p.teacher_gpus + p.gpus_per_worker <= 1
    assert p.teacher_memory <= max(p.teacher_gpus, 1) * HEADROOM


def test_a_laptop_gets_the_small_sizes():
    for online in (False, True):
        p = plan(LAPTOP, online)
        assert (p.workers, p.gpus_per_worker, p.engines, p.gpus_per_engine, p.teacher_gpus) == (2, 0, (1, 1), 0, 0)
        assert p.teacher_cpus + p.workers * p.cpus_per_worker <= 2 if online else p.cpus_per_worker == 1
    print("\n2 CPUs, online:\n  " + "\n  ".join(plan(LAPTOP, True).lines()))


def test_one_node_of_eight_gpus():
    online, offline = plan(ONE_NODE, True), plan(ONE_NODE, False)
    assert (online.workers, online.gpus_per_worker, online.teacher_gpus) == (7, 1, 1) and online.node == NodeShape(
        96, 8
    )
    _check_shares(online, online.node)
    assert (offline.workers, offline.engines, offline.gpus_per_engine, offline.engine_memory) == (
        8,
        (8, 8),
        1,
        HEADROOM,
    )
    print("\n1 x 8 GPUs, online:\n  " + "\n  ".join(online.lines()))


def test_four_nodes_of_eight_gpus():
    online, offline = plan(FOUR_NODES, True), plan(FOUR_NODES, False)
    assert offline.workers == 32 and offline.engines == (32, 32)
    assert online.workers == 7 and online.node == NodeShape(96, 8)  # the teacher's node: 7 workers + the teacher
    _check_shares(online, online.node)
    print("\n4 x 8 GPUs, offline:\n  " + "\n  ".join(offline.lines()))


def test_a_cluster_at_zero_plans_for_what_the_autoscaler_can_add():
    online, offline = plan(AT_ZERO, True), plan(AT_ZERO, False)
    ceiling = AT_ZERO.ceiling("gpus")
    assert ceiling == 24 and AT_ZERO.now("gpus") == 0
    assert offline.engines == (1, 24) and offline.workers == 24  # grows from one engine to every GPU it can add
    assert offline.engines[1] <= ceiling and offline.workers * offline.gpus_per_worker <= ceiling
    assert online.node == NodeShape(96, 8) and AT_ZERO.fits(online.teacher_cpus + 7 * online.cpus_per_worker, 8)
    _check_shares(online, online.node)
    print("\nat zero, GPU node types up to 3 x 8:\n  " + "\n  ".join(online.lines()))


def test_a_single_gpu_is_shared_with_memory_shares_below_one():
    p = plan(ClusterView((NodeShape(16, 1),)), online=True)
    assert (p.workers, p.gpus_per_worker, p.teacher_gpus) == (1, 0.8, 0.2)
    assert p.teacher_memory <= 0.2 and p.teacher_gpus + p.gpus_per_worker == pytest.approx(1.0)


def test_an_engine_may_not_ask_for_more_memory_than_its_gpu_share():
    from pydantic import ValidationError

    from arctic_ray.synth.backends.vllm.config import VLLMSynthConfig

    with pytest.raises(ValidationError, match="gpu_memory_utilization .* above the engine's GPU share"):
        VLLMSynthConfig(gpus_per_engine=0.2, gpu_memory_utilization=0.9)
    assert VLLMSynthConfig(gpus_per_engine=0.2, gpu_memory_utilization=0.18).gpu_memory_utilization == 0.18
