"""The SFT recipe's own blocks: its model (attention, MoE freezing) and its data (weighted chat
sources, mixing, packing), extending the shared dialect's."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from arctic_ray.data.sources import SourceConfig
from arctic_ray.train.config import ModelConfig, TrainDataConfig


class SFTModelConfig(ModelConfig):
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


class SFTSource(SourceConfig):
    """Chat rows (`messages`, optional `id`)."""

    weight: float = Field(default=1.0, gt=0)
    """Share of the source used: 0.5 takes half of its rows, 2 takes each row twice."""

    group: str | None = None
    """Phase it belongs to with `mix: phased` (default: its name); groups train in order."""


class SFTDataConfig(TrainDataConfig):
    sources: list[SFTSource] = [
        SFTSource(path=Path("examples/data/sft/general.jsonl")),
        SFTSource(path=Path("examples/data/sft/math.jsonl"), weight=0.5),
        SFTSource(path=Path("examples/data/sft/identity.jsonl"), weight=3.0),
    ]
    mix: Literal["stacked", "phased"] = "stacked"
    """stacked: every source at once, shuffled together; phased: one group after another."""

    overlong: Literal["truncate", "drop"] = "truncate"
    eval_fraction: float = Field(default=0.05, ge=0, lt=1)
    """Held out for eval loss, chosen by a stable hash of the row id."""

    pack: bool = True
    """Several examples per sequence (multipack); False: one example per row, padded per batch."""

    seed: int = 0
