"""The DeepSpeed config a recipe's `train:` block stands for (optimizer and schedule are named
blocks in the registry), with the recipe's own `deepspeed:`
block merged over it: keys set there win (offload, ZeRO buckets, a different optimizer), except
the batch sizes, which the shared loop also counts with and which must therefore agree."""

from __future__ import annotations

from typing import Any

from arctic_ray.config.recipe import merge_dicts
from arctic_ray.config.train import TrainConfig
from arctic_ray.errors import ArcticRayError
from arctic_ray.registry import lookup, registered

_BATCH_KEYS = ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps")


def warmup_steps(cfg: TrainConfig, total_steps: int) -> int:
    steps = round(cfg.warmup_ratio * total_steps) if cfg.warmup_ratio is not None else cfg.warmup_steps
    return min(steps, max(total_steps - 1, 0))


@registered("scheduler", "constant")
def constant_schedule(cfg: TrainConfig, total_steps: int) -> dict:
    params = {"warmup_min_lr": 0.0, "warmup_max_lr": cfg.lr, "warmup_num_steps": warmup_steps(cfg, total_steps), "warmup_type": "linear"}
    return {"type": "WarmupLR", "params": params}


@registered("scheduler", "cosine")
def cosine_schedule(cfg: TrainConfig, total_steps: int) -> dict:
    # this scheduler refuses a warmup of 0 steps: one step at the peak is the closest
    warmup = max(warmup_steps(cfg, total_steps), 1)
    params = {"total_num_steps": max(total_steps, 1), "warmup_num_steps": warmup, "warmup_min_ratio": 0.0, "cos_min_ratio": 0.0, "warmup_type": "linear"}
    return {"type": "WarmupCosineLR", "params": params}


@registered("scheduler", "linear")
def linear_schedule(cfg: TrainConfig, total_steps: int) -> dict:
    warmup = warmup_steps(cfg, total_steps)
    params = {"warmup_min_lr": 0.0, "warmup_max_lr": cfg.lr, "warmup_num_steps": warmup, "total_num_steps": max(total_steps, 1), "warmup_type": "linear"}
    return {"type": "WarmupDecayLR", "params": params}


@registered("optimizer", "adamw")
def adamw(cfg: TrainConfig) -> dict:
    # torch_adam: DeepSpeed's fused/CPU Adam would first compile a C++ op (minutes on CPU).
    params = {"lr": cfg.lr, "betas": list(cfg.betas), "weight_decay": cfg.weight_decay, "torch_adam": True}
    return {"type": "AdamW", "params": params}


def deepspeed_config(cfg: TrainConfig, total_steps: int, use_gpu: bool) -> dict[str, Any]:
    generated = {
        "train_micro_batch_size_per_gpu": cfg.micro_batch_size,
        "gradient_accumulation_steps": cfg.gradient_accumulation_steps,
        "gradient_clipping": cfg.grad_clip,
        "zero_optimization": {"stage": cfg.zero_stage, "contiguous_gradients": True, "overlap_comm": use_gpu},
        "optimizer": lookup("optimizer", cfg.optimizer)(cfg),
        "scheduler": lookup("scheduler", cfg.schedule)(cfg, total_steps),
        "bf16": {"enabled": use_gpu},
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }
    for key in _BATCH_KEYS:
        if key in cfg.deepspeed and cfg.deepspeed[key] != generated[key]:
            raise ArcticRayError(f"deepspeed.{key} is {cfg.deepspeed[key]} but the recipe's batch fields say {generated[key]}: set it in one place")
    if "train_batch_size" in cfg.deepspeed:
        raise ArcticRayError("deepspeed.train_batch_size: leave it out; it is micro_batch_size x gradient_accumulation_steps x workers")
    return merge_dicts(generated, cfg.deepspeed)
