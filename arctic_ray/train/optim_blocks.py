"""The registered optimizer and learning-rate schedule blocks a recipe's `train.optimizer` and
`train.schedule` name: each returns its part of the DeepSpeed config."""

from __future__ import annotations

from typing import TYPE_CHECKING

from arctic_ray.core.registry import registered

if TYPE_CHECKING:
    from arctic_ray.train.config import TrainConfig


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
