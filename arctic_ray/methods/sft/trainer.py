"""Supervised fine-tuning on the shared loop: a causal LM trained on packed chat examples, loss
on assistant tokens only. The loss is the sum of token cross-entropies divided by the target
tokens of the whole global batch (every micro-batch of the step on every rank), so an example
weighs the same however it was packed or sharded. MoE models also report the normalised
load-balancing loss of every MoE layer (optionally added to the loss) and can train with experts
and/or routers frozen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import torch

from arctic_ray.methods.sft.moe import freeze_moe, load_balance_losses, moe_layers, router_top_k, theoretical_minimum
from arctic_ray.methods.sft.recipe import SFTModelConfig
from arctic_ray.models.causal_lm import export_causal_lm, load_causal_lm
from arctic_ray.models.ref import ModelRef
from arctic_ray.train.packed import packed_loss
from arctic_ray.train.packed_trainer import PackedTrainer

if TYPE_CHECKING:
    from transformers import PreTrainedModel


@dataclass
class SFTMethod:
    base: ModelRef
    """The model trained, resolved on each worker's node."""
    model: SFTModelConfig
    pad_id: int


class SFTTrainer(PackedTrainer):
    name = "sft"

    def sequence_model(self) -> str:
        return self.method.base.path()

    def attn_implementation(self) -> str:
        return self.method.model.attn_implementation

    def build_model(self) -> torch.nn.Module:
        m: SFTMethod = self.method
        model = load_causal_lm(m.base, self.device, m.model.attn_implementation)
        self.moe = bool(moe_layers(model))
        self.params = freeze_moe(model, m.model.freeze_experts, m.model.freeze_router) if self.moe else _counts(model)
        coef = m.model.aux_loss_coef
        self.aux_coef = (
            (getattr(model.config, "router_aux_loss_coef", 0.0) if coef is None else coef) if self.moe else 0.0
        )
        self.top_k = router_top_k(model) if self.moe else 0
        return model

    @property
    def _model(self) -> PreTrainedModel:
        """The Hugging Face model inside the DeepSpeed engine."""
        return cast("PreTrainedModel", self.engine.module)

    def loss(self, batch):
        tiles = self.train_cfg.logits_tile_tokens
        loss_sum, _, router_logits = packed_loss(self._model, batch, output_router_logits=self.moe, tile_tokens=tiles)
        # DeepSpeed divides by the accumulation steps and averages over ranks: undo both, so the
        # gradient is d(sum of token losses)/d(theta) / (target tokens of the global batch).
        scale = self.loss_scale()
        loss = loss_sum * scale
        extra = {}
        if self.moe:
            balance = load_balance_losses(router_logits, self.top_k, batch["segment_ids"] > 0)
            if self.aux_coef:
                loss = loss + self.aux_coef * balance.sum()
            extra["balance_loss"] = balance.sum().detach()
            extra.update({f"balance_loss_l{i}": v.detach() for i, v in enumerate(balance)})
        padded = batch["segment_ids"].numel()
        extra["padding_fraction"] = 1.0 - self.tokens_in(batch).double() / max(padded, 1)
        return loss, extra

    def eval_batch(self, batch):
        loss_sum, targets, _ = packed_loss(self._model, batch, tile_tokens=self.train_cfg.logits_tile_tokens)
        return {"loss_sum": loss_sum.detach(), "targets": targets.detach().double()}

    def eval_metrics(self, sums):
        loss = float(sums["loss_sum"] / sums["targets"].clamp(min=1))
        return {
            "eval_loss": loss,
            "eval_ppl": float(torch.exp(torch.tensor(min(loss, 50.0)))),
            "eval_tokens": int(sums["targets"]),
        }

    def export(self, path: str) -> None:
        export_causal_lm(self._model, self.method.base, path)

    def summary(self) -> dict:
        out = {"parameters": self.params}
        if self.moe:
            layers = len(moe_layers(self._model))
            out["moe"] = {
                "layers": layers,
                "top_k": self.top_k,
                "balance_loss_minimum": theoretical_minimum(self.top_k, layers),
                "aux_loss_coef": self.aux_coef,
            }
        return out


def _counts(model: torch.nn.Module) -> dict:
    total = sum(p.numel() for p in model.parameters())
    return {
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "total": total,
        "frozen_experts": 0,
        "frozen_router": 0,
    }
