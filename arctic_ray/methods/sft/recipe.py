"""The recipe of the SFT job (`job: sft`), in ArcticTraining's SFT field names where they fit:
`model.name_or_path`, `data.sources`, `micro_batch_size`, `optimizer.lr`, `scheduler`,
`deepspeed`, `checkpoint`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from arctic_ray.core.strict_config import StrictConfig
from arctic_ray.core.ray_config import RayConfig
from arctic_ray.train.config import TrainConfig, WorkersConfig
from arctic_ray.methods.sft.config import CheckpointConfig, OptimizerConfig, SchedulerConfig, SFTDataConfig, SFTModelConfig


class SFTRecipe(StrictConfig):
    job: Literal["sft"] = "sft"
    model: SFTModelConfig = SFTModelConfig()
    data: SFTDataConfig = SFTDataConfig()
    output_dir: Path = Path("runs/sft")
    """Each run writes a new timestamped directory under this one."""

    micro_batch_size: int = Field(default=2, gt=0)
    """Packed sequences per worker per micro-step."""

    gradient_accumulation_steps: int = Field(default=1, gt=0)
    epochs: int = Field(default=1, gt=0)
    max_steps: int | None = Field(default=None, gt=0)
    optimizer: OptimizerConfig = OptimizerConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    grad_clip: float = Field(default=1.0, gt=0)
    deepspeed: dict[str, Any] = {}
    """Merged over the DeepSpeed config the fields above make; its keys win (batch sizes must agree)."""

    checkpoint: CheckpointConfig = CheckpointConfig()
    workers: WorkersConfig = WorkersConfig()
    log_every: int = Field(default=5, gt=0)
    eval_every: int | None = Field(default=None, gt=0)
    """Eval loss on the held-out split every N steps (always before and after training)."""

    seed: int = 0
    ray: RayConfig = Field(default_factory=RayConfig)

    def train_config(self) -> TrainConfig:
        return TrainConfig(
            **self.workers.model_dump(),
            epochs=self.epochs,
            max_steps=self.max_steps,
            micro_batch_size=self.micro_batch_size,
            gradient_accumulation_steps=self.gradient_accumulation_steps,
            seq_len=self.data.max_length,
            optimizer=self.optimizer.name,
            lr=self.optimizer.lr,
            betas=self.optimizer.betas,
            weight_decay=self.optimizer.weight_decay,
            schedule=self.scheduler.name,
            warmup_ratio=self.scheduler.warmup_ratio,
            grad_clip=self.grad_clip,
            deepspeed=self.deepspeed,
            log_every=self.log_every,
            eval_every=self.eval_every,
            base_cache_mb=0,
            checkpoint_every=self.checkpoint.save_every_n_steps,
            max_failures=self.checkpoint.max_failures,
        )
