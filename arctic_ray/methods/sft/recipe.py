"""The recipe of the SFT job (`type: sft`): the shared trainer dialect (`train/config.py`) with
SFT's own model block (attention, MoE freezing) and data block (weighted chat sources, mixing,
packing)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from arctic_ray.data.chat_examples import ChatSource
from arctic_ray.train.config import ModelConfig, TrainConfig, TrainDataConfig


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


class SFTSource(ChatSource):
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


class SFTRecipe(TrainConfig):
    type: Literal["sft"] = "sft"
    model: SFTModelConfig = SFTModelConfig()
    data: SFTDataConfig = SFTDataConfig()
    output_dir: str = "runs/sft"

    def after(self, previous: dict) -> SFTRecipe:
        """After a synthesis run: its kept rows (`curated/`, or `completions/` when nothing
        judged them) join the sources."""
        if previous.get("type") != "synth" or not previous.get("kept"):
            return super().after(previous)
        kept = SFTSource(path=Path(previous["kept"]), name="synthesized")
        return self.model_copy(update={"data": self.data.model_copy(update={"sources": [*self.data.sources, kept]})})


def group_of(source: SFTSource) -> str:
    """The phase a source trains in with `mix: phased`."""
    return source.group or source.label
