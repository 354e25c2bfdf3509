"""The registered optimizer and learning-rate schedule blocks that a recipe's `optimizer.name`
and `scheduler.name` choose: each returns its part of the DeepSpeed config."""

from __future__ import annotations

from arctic_ray.core.registry import registered
from arctic_ray.train.config import OptimizerConfig, SchedulerConfig


@registered("scheduler", "constant")
def constant_schedule(cfg: SchedulerConfig, lr: float, total_steps: int) -> dict:
    params = {
        "warmup_min_lr": 0.0,
        "warmup_max_lr": lr,
        "warmup_num_steps": cfg.warmup(total_steps),
        "warmup_type": "linear",
    }
    return {"type": "WarmupLR", "params": params}


@registered("scheduler", "cosine")
def cosine_schedule(cfg: SchedulerConfig, lr: float, total_steps: int) -> dict:
    params = {
        "total_num_steps": max(total_steps, 1),
        "warmup_num_steps": cfg.warmup(total_steps),
        "warmup_min_ratio": 0.0,
        "cos_min_ratio": 0.0,
        "warmup_type": "linear",
    }
    return {"type": "WarmupCosineLR", "params": params}


@registered("scheduler", "linear")
def linear_schedule(cfg: SchedulerConfig, lr: float, total_steps: int) -> dict:
    params = {
        "warmup_min_lr": 0.0,
        "warmup_max_lr": lr,
        "warmup_num_steps": cfg.warmup(total_steps),
        "total_num_steps": max(total_steps, 1),
        "warmup_type": "linear",
    }
    return {"type": "WarmupDecayLR", "params": params}


@registered("optimizer", "adamw")
def adamw(cfg: OptimizerConfig) -> dict:
    # torch_adam: DeepSpeed's fused/CPU Adam would first compile a C++ op (minutes on CPU).
    params = {"lr": cfg.lr, "betas": list(cfg.betas), "weight_decay": cfg.weight_decay, "torch_adam": True}
    return {"type": "AdamW", "params": params}
