"""The DeepSpeed config a recipe's training fields stand for (optimizer and schedule are named
blocks in the registry, defined in `optim_blocks.py`), with the recipe's own `deepspeed:`
block merged over it: keys set there win (offload, ZeRO buckets, a different optimizer), except
the batch sizes, which the shared loop also counts with and which must therefore agree."""

from __future__ import annotations

from typing import Any

from arctic_ray.core.errors import ArcticRayError
from arctic_ray.core.recipe import merge_dicts
from arctic_ray.core.registry import lookup
from arctic_ray.train.config import TrainConfig

_BATCH_KEYS = ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps")


def deepspeed_config(cfg: TrainConfig, total_steps: int, use_gpu: bool, sequence_parallel: int = 1) -> dict[str, Any]:
    """`sequence_parallel`: a group of that many ranks computes each of its ranks' micro-batches
    together, so DeepSpeed sees that many more micro-steps a step."""
    generated = {
        "train_micro_batch_size_per_gpu": cfg.micro_batch_size,
        "gradient_accumulation_steps": cfg.gradient_accumulation_steps * sequence_parallel,
        "gradient_clipping": cfg.grad_clip,
        "zero_optimization": {"stage": cfg.workers.zero_stage, "contiguous_gradients": True, "overlap_comm": use_gpu},
        "optimizer": lookup("optimizer", cfg.optimizer.name)(cfg.optimizer),
        "scheduler": lookup("scheduler", cfg.scheduler.name)(cfg.scheduler, cfg.optimizer.lr, total_steps),
        "bf16": {"enabled": use_gpu},
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }
    for key in _BATCH_KEYS:
        if key in cfg.deepspeed and cfg.deepspeed[key] != generated[key]:
            raise ArcticRayError(
                f"deepspeed.{key} is {cfg.deepspeed[key]} but the recipe's batch fields say {generated[key]}: "
                "set it in one place"
            )
    if "train_batch_size" in cfg.deepspeed:
        raise ArcticRayError(
            "deepspeed.train_batch_size: leave it out; it is micro_batch_size x gradient_accumulation_steps x workers"
        )
    return merge_dicts(generated, cfg.deepspeed)


def without_shm_comm_build() -> None:
    """Before DeepSpeed's comm starts: its CPU accelerator would compile a shared-memory
    all-reduce op (a C++ build per worker on a fresh machine: two compilers of ~1.5 GB each, for a
    minute, beside the other workers and engines). Only its inference all-reduce uses the op;
    training's collectives go through torch.distributed, so it is never built."""
    import deepspeed.ops

    deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False
