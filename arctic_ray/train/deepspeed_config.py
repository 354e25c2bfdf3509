"""The DeepSpeed config a recipe's `train:` block stands for."""

from __future__ import annotations

from arctic_ray.config.train import TrainConfig


def deepspeed_config(cfg: TrainConfig, total_steps: int, use_gpu: bool) -> dict:
    return {
        "train_micro_batch_size_per_gpu": cfg.micro_batch_size,
        "gradient_accumulation_steps": cfg.gradient_accumulation_steps,
        "gradient_clipping": cfg.grad_clip,
        "zero_optimization": {"stage": cfg.zero_stage, "contiguous_gradients": True, "overlap_comm": use_gpu},
        # torch_adam: DeepSpeed's fused/CPU Adam would first compile a C++ op (minutes on CPU).
        "optimizer": {
            "type": "AdamW",
            "params": {"lr": cfg.lr, "weight_decay": cfg.weight_decay, "torch_adam": True},
        },
        "scheduler": {
            "type": "WarmupDecayLR",
            "params": {
                "warmup_min_lr": 0.0,
                "warmup_max_lr": cfg.lr,
                "warmup_num_steps": min(cfg.warmup_steps, max(total_steps - 1, 0)),
                "total_num_steps": max(total_steps, 1),
                "warmup_type": "linear",
            },
        },
        "bf16": {"enabled": use_gpu},
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }
