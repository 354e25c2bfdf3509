from typing import Literal, cast

import torch
from pydantic import Field

from arctic_ray.methods.spec_decode.drafters.config import SpeculatorConfig
from arctic_ray.methods.spec_decode.drafters.mlp.arctic_format import save_arctic
from arctic_ray.methods.spec_decode.drafters.mlp.model import MLPDrafter, MLPSpeculatorSpec


class MLPSpeculatorConfig(SpeculatorConfig):
    type: Literal["mlp"] = "mlp"
    """Speculator architecture (registered name)."""

    inner_dim: int | None = Field(default=None, gt=0)
    """Width of the heads' running state; None: the base model's hidden size."""

    tie_weights: bool = True
    """Start the heads' token embeddings and output projections from the base model's and keep
    them frozen: far fewer trainable parameters and much faster learning. Needs inner_dim equal
    to the base hidden size."""

    def build(self, base, seed, token_counts=None) -> MLPDrafter:
        cfg = base.config
        torch.manual_seed(seed)
        spec = MLPSpeculatorSpec(
            emb_dim=cfg.hidden_size,
            inner_dim=self.inner_dim or cfg.hidden_size,
            vocab_size=cfg.vocab_size,
            n_predict=self.n_predict,
            tie_weights=self.tie_weights,
        )
        drafter = MLPDrafter(spec)
        if self.tie_weights:
            head = base.lm_head
            assert head is not None  # the whole head is held until the drafter is built
            drafter.tie_to_base(base.embed.weight.detach(), head.weight.detach())
        return drafter

    def export(self, drafter, path, identity):
        return save_arctic(cast(MLPDrafter, drafter), path, identity)  # the drafter `build` made
