"""SwiftKV distillation on the shared loop: the student's SwiftKV modules learn to make its
next-token distribution match the frozen original model's on completion tokens of packed chats
(the SFT data path: assistant-only targets, multipacked sequences, a block-diagonal mask). The
loss is the temperature-scaled KL (plus an optional hidden-state MSE) summed over the target
tokens and divided by the target tokens of the whole global batch, as SFT's cross-entropy is.
Evaluation on held-out chats reports the KL at T = 1, the student's top-1 agreement with the
teacher, and both models' cross-entropy on the chats' own tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
from torch.nn import functional as F

from arctic_ray.data.chat import IGNORE_INDEX
from arctic_ray.methods.swiftkv.export import export_swiftkv
from arctic_ray.methods.swiftkv.loss import hidden_mse_sum, kl_sum, top1_agreements
from arctic_ray.methods.swiftkv.model import SwiftKVModel
from arctic_ray.methods.swiftkv.recipe import DistillConfig, SwiftKVModelConfig
from arctic_ray.models.ref import ModelRef
from arctic_ray.train.packed import packed_causal_mask, shifted_targets
from arctic_ray.train.packed_trainer import PackedTrainer


@dataclass
class SwiftKVMethod:
    base: ModelRef
    """The base (and the frozen teacher), resolved on each worker's node."""
    model: SwiftKVModelConfig
    distill: DistillConfig
    pad_id: int


def build_swiftkv(
    model_path: str, cfg: SwiftKVModelConfig, dtype: torch.dtype = torch.float32
) -> tuple[SwiftKVModel, dict]:
    """The student over the base at `model_path`, initialised from it and frozen but for its
    SwiftKV modules; and the parameter counts."""
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype, attn_implementation="sdpa")
    base.config.use_cache = False
    model = SwiftKVModel(base, cfg.num_key_value_layers, cfg.key_value_group_size)
    model.init_from_teacher()
    return model, model.freeze_all_but_swiftkv()


class SwiftKVTrainer(PackedTrainer):
    name = "swiftkv"

    def build_model(self) -> torch.nn.Module:
        torch.manual_seed(self.plan.seed)  # the same start on every rank
        m: SwiftKVMethod = self.method
        model, self.params = build_swiftkv(m.base.path(), m.model, torch.bfloat16 if self.use_gpu else torch.float32)
        return model.to(self.device)

    def _forward(self, batch):
        """Student and teacher logits (and final hidden states) at the positions that predict a
        completion token, and those tokens."""
        model = cast(SwiftKVModel, self.engine.module)
        mask = packed_causal_mask(batch["segment_ids"], next(model.parameters()).dtype)
        out = self.engine(batch["input_ids"], batch["position_ids"], mask, teacher=True)
        targets = shifted_targets(batch["labels"], batch["segment_ids"])
        trained = targets != IGNORE_INDEX
        student, teacher = out.student[:, :-1][trained], out.teacher[:, :-1][trained]
        return student, teacher, model.logits(student), model.logits(teacher), targets[trained]

    def loss(self, batch):
        d: DistillConfig = self.method.distill
        student, teacher, s_logits, t_logits, _ = self._forward(batch)
        kl = kl_sum(s_logits, t_logits, d.temperature)
        mse = hidden_mse_sum(student, teacher)
        # DeepSpeed divides by the accumulation steps and averages over ranks: undo both, so the
        # gradient is that of the summed token terms over the global batch's target tokens.
        scale = self.loss_scale()
        loss = (d.kl_weight * kl + d.hidden_mse_weight * mse) * scale
        return loss, {"kl_t": kl.detach() * scale, "hidden_mse": mse.detach() * scale}

    def eval_batch(self, batch):
        student, teacher, s_logits, t_logits, targets = self._forward(batch)
        return {
            "kl_sum": kl_sum(s_logits, t_logits, 1.0),
            "agree": top1_agreements(s_logits, t_logits).double(),
            "student_ce": F.cross_entropy(s_logits.float(), targets, reduction="sum"),
            "teacher_ce": F.cross_entropy(t_logits.float(), targets, reduction="sum"),
            "mse_sum": hidden_mse_sum(student, teacher),
            "targets": torch.tensor(float(len(targets)), dtype=torch.float64),
        }

    def eval_metrics(self, sums):
        n = float(sums["targets"].clamp(min=1))
        return {
            "eval_kl": float(sums["kl_sum"]) / n,
            "eval_top1_agreement": float(sums["agree"]) / n,
            "eval_loss": float(sums["student_ce"]) / n,
            "teacher_eval_loss": float(sums["teacher_ce"]) / n,
            "eval_hidden_mse": float(sums["mse_sum"]) / n,
            "eval_tokens": int(n),
        }

    def export(self, path: str) -> None:
        export_swiftkv(cast(SwiftKVModel, self.engine.module), self.method.base.files(), path)

    def summary(self) -> dict:
        m = self.method.model
        return {
            "parameters": self.params,
            "num_key_value_layers": m.num_key_value_layers,
            "key_value_group_size": m.key_value_group_size,
        }
