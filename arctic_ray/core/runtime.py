"""Joining Ray: the recipe's `ray:` block, and the cluster a submitted job runs in, a given address,
or a new local one."""

from __future__ import annotations

import os

import ray
from pydantic import Field

from arctic_ray.core.config import StrictConfig


class RayConfig(StrictConfig):
    address: str | None = None
    """Cluster to join; None: the one a submitted job runs in, else a new local one."""

    resume_after_node_loss: int = Field(default=2, ge=0)
    """Times a run that stopped because a node died (a preempted spot node, a crashed host)
    resumes itself, in the same driver, from its last checkpoint and the stored generations, on
    the nodes left or the ones the autoscaler brings; 0: stop and say how to resume."""

    local_num_cpus: int = Field(default=8, gt=0)
    """Logical CPUs of a new local cluster. More than the cores on purpose: on a small machine a
    Ray Data read needs a CPU beside the training workers and the vLLM engine."""


def init_ray(cfg: RayConfig) -> None:
    if ray.is_initialized():
        return
    # Ray Data's progress bars are for terminals; logs get its periodic progress lines instead.
    os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "0" if os.isatty(1) else "1")
    address = cfg.address or os.environ.get("RAY_ADDRESS")
    if address:
        context = ray.init(address=address)
    else:
        # Logical CPUs beyond the cores let stages co-exist, but Ray keeps that many idle workers
        # too, each polling, which a small machine's engines feel: keep one idle worker per core.
        cores = len(os.sched_getaffinity(0))
        context = ray.init(num_cpus=cfg.local_num_cpus, _system_config={"num_workers_soft_limit": cores})
    print(f"[arctic_ray] Ray dashboard: {context.dashboard_url or 'not running'}", flush=True)
