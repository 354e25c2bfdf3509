"""The SFT recipe's own blocks, named as in ArcticTraining's SFT recipes where they fit
(`model.name_or_path`, `data.sources`, `optimizer.lr`, `scheduler`, `checkpoint`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from arctic_ray.core.strict_config import StrictConfig
from arctic_ray.train.config import OptimizerName, ScheduleName


class SFTModelConfig(StrictConfig):
    name_or_path: str = "tiny"
    """A built-in name (tiny, tiny-moe, smollm2-135m-instruct), an HF name or a local path."""

    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"] = "sdpa"
    """Packed rows are kept apart by a block-diagonal mask (sdpa, eager) or by position ids
    (flash_attention_2, where installed)."""

    freeze_experts: bool = False
    """MoE: train no routed expert (the shared dense expert still trains)."""

    freeze_router: bool = False
    """MoE: train no router (gate)."""

    aux_loss_coef: float | None = Field(default=None, ge=0)
    """MoE: weight of the load-balancing loss added to the training loss (None: the model
    config's `router_aux_loss_coef`; 0: monitor only)."""


class SFTSource(StrictConfig):
    path: Path
    """Chat rows (`messages`, optional `id`): JSONL, parquet, or an HF dataset on disk."""

    name: str | None = None
    """Its name in counts and reports (default: the file name)."""

    weight: float = Field(default=1.0, gt=0)
    """Share of the source used: 0.5 takes half of its rows, 2 takes each row twice."""

    group: str | None = None
    """Phase it belongs to with `mix: phased` (default: its name); groups train in order."""

    split: str = "train"
    """Split of an HF dataset dict."""

    @property
    def label(self) -> str:
        return self.name or self.path.stem


class SFTDataConfig(StrictConfig):
    sources: list[SFTSource] = [
        SFTSource(path=Path("examples/data/sft/general.jsonl")),
        SFTSource(path=Path("examples/data/sft/math.jsonl"), weight=0.5),
        SFTSource(path=Path("examples/data/sft/identity.jsonl"), weight=3.0),
    ]
    mix: Literal["stacked", "phased"] = "stacked"
    """stacked: every source at once, shuffled together; phased: one group after another."""

    max_length: int = Field(default=512, ge=16)
    """Tokens per packed sequence (and the longest example)."""

    overlong: Literal["truncate", "drop"] = "truncate"
    eval_fraction: float = Field(default=0.05, ge=0, lt=1)
    """Held out for eval loss, chosen by a stable hash of the row id."""

    pack: bool = True
    """Several examples per sequence (multipack); False: one example per row, padded per batch."""

    seed: int = 0


class OptimizerConfig(StrictConfig):
    name: OptimizerName = "adamw"
    """A registered optimizer (`arctic-ray list`)."""

    lr: float = Field(default=1e-4, gt=0)
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = Field(default=0.0, ge=0)


class SchedulerConfig(StrictConfig):
    name: ScheduleName = "cosine"
    """A registered schedule after warmup: `cosine` or `linear` decay to 0, or `constant`."""

    warmup_ratio: float = Field(default=0.05, ge=0, lt=1)


class CheckpointConfig(StrictConfig):
    save_every_n_steps: int | None = Field(default=None, gt=0)
    """A resumable checkpoint (DeepSpeed state and data position) every N steps."""

    max_failures: int = Field(default=0, ge=0)
    """Worker-group restarts after a failure, each resuming from the latest checkpoint."""
