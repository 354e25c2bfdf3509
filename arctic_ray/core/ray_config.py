from pydantic import Field

from arctic_ray.core.strict_config import StrictConfig


class RayConfig(StrictConfig):
    address: str | None = None
    """Cluster to join; None: the one a submitted job runs in, else a new local one."""

    local_num_cpus: int = Field(default=8, gt=0)
    """Logical CPUs of a new local cluster. More than the cores on purpose: on a small machine a
    Ray Data read needs a CPU beside the training workers and the vLLM engine."""
