"""Trains a speculator against a frozen base model: the base gives hidden states, the
speculator learns to guess the base model's next n_predict tokens."""

from __future__ import annotations

import torch

from arctic_ray.config.speculator import MLPSpeculatorConfig
from arctic_ray.data.speculator_samples import attention_mask, completion_mask
from arctic_ray.models.mlp_speculator import MLPSpeculator
from arctic_ray.registry import lookup
from arctic_ray.trainers.base import Trainer
from arctic_ray.trainers.hidden_cache import HiddenStateCache
from arctic_ray.trainers.speculator_objective import base_hidden, head_targets, speculator_loss


def load_frozen_base(model_path: str, device: torch.device, dtype: torch.dtype = torch.float32):
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype).to(device).eval()
    base.requires_grad_(False)
    return base


def build_speculator(base, cfg: MLPSpeculatorConfig, seed: int) -> MLPSpeculator:
    """The registered speculator named by `cfg.type`, sized for `base`."""
    return lookup("speculator", cfg.type)(base, cfg.n_predict, cfg.inner_dim, cfg.tie_weights, seed)


class SpeculatorTrainer(Trainer):
    name = "speculator"

    def build_model(self) -> MLPSpeculator:
        cfg = MLPSpeculatorConfig.model_validate(self.loop_config["speculator"])
        dtype = torch.bfloat16 if self.use_gpu else torch.float32
        self.base = load_frozen_base(self.loop_config["model_path"], self.device, dtype)
        self.hidden_cache = HiddenStateCache(self.train_cfg.base_cache_mb << 20)
        # Same seed on every rank: identical starting weights, as data parallelism needs.
        return build_speculator(self.base, cfg, self.loop_config["seed"])

    def loss(self, batch):
        ids = batch["input_ids"]
        in_completion = completion_mask(batch["completion_start"], batch["length"], ids.shape[1])
        attention = attention_mask(batch["length"], ids.shape[1])
        hidden = self.hidden_cache(lambda i, a: base_hidden(self.base, i, a), ids, attention)
        n = self.engine.module.spec.n_predict
        targets, valid = head_targets(ids, in_completion, n)
        logits = self.engine(hidden.to(next(self.engine.module.parameters()).dtype), ids, valid)
        loss, per_head = speculator_loss(logits, targets, valid)
        return loss, {f"loss_head{i}": v for i, v in enumerate(per_head)}

    def export(self, path: str) -> None:
        self.engine.module.save(path)

    def summary(self) -> dict:
        seen = self.hidden_cache.hits + self.hidden_cache.misses
        return {"base_cache_hit_rate": self.hidden_cache.hits / max(seen, 1)}
