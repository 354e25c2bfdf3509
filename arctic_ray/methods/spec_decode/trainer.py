"""Trains any registered drafter against a frozen target, on the shared loop. With engine
features (the default) the rows carry the target's hidden states, computed by the vLLM engine
that generated them, and a worker holds only the target's embeddings and draft-vocabulary head
rows (`TargetPieces`); with `target_features: hf` each worker runs the whole base
(`FrozenBase`, its states cached across epochs). Its eval is the simulated greedy verification
on held-out sequences: acceptance per draft position and tau, the tokens per base forward."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch

from arctic_ray.methods.spec_decode.drafters.config import SpeculatorConfig
from arctic_ray.methods.spec_decode.drafters.drafter import Drafter
from arctic_ray.methods.spec_decode.feature_rows import PadFeatureRows
from arctic_ray.methods.spec_decode.frozen_base import FrozenBase
from arctic_ray.methods.spec_decode.hidden_cache import HiddenStateCache
from arctic_ray.methods.spec_decode.positions import attention_mask, completion_mask
from arctic_ray.methods.spec_decode.target_pieces import TargetPieces
from arctic_ray.models.ref import ModelRef
from arctic_ray.train.trainer import Trainer


@dataclass
class SpeculatorMethod:
    base: ModelRef
    """The frozen base, resolved on each worker's node; its identity is recorded in the export."""
    speculator: SpeculatorConfig
    seed: int
    token_counts: torch.Tensor | None = None
    """Token frequencies of the training data, for drafters with a draft vocabulary."""


def acceptance(accepted_per_pos: torch.Tensor, drafts: torch.Tensor) -> dict:
    """Per-position acceptance (share of drafts whose first j+1 proposals were all accepted) and
    tau = 1 + their sum, the tokens each base forward yields."""
    per_pos = (accepted_per_pos / drafts.clamp(min=1)).tolist()
    return {"tau_sim": 1.0 + sum(per_pos), "accept_per_pos": per_pos, "drafts": int(drafts.item())}


def accepted_per_position(hits: torch.Tensor, decode: torch.Tensor) -> torch.Tensor:
    """[k] counts: at how many decode positions the first j+1 proposals were all accepted."""
    return hits.long().cumprod(dim=-1)[decode].sum(dim=0)


class SpeculatorTrainer(Trainer):
    name = "speculator"

    @property
    def engine_features(self) -> bool:
        return self.method.speculator.target_features == "engine"

    def build_model(self) -> Drafter:
        m: SpeculatorMethod = self.method
        dtype = torch.bfloat16 if self.use_gpu else torch.float32
        self.base = (TargetPieces if self.engine_features else FrozenBase)(m.base.path(), self.device, dtype)
        self.cache = HiddenStateCache(0 if self.engine_features else m.speculator.base_cache_mb << 20)
        # Same seed on every rank: identical starting weights, as data parallelism needs.
        drafter = m.speculator.build(self.base, m.seed, m.token_counts)
        self.base.keep_head_rows(drafter.target_head_ids())
        self.layers = drafter.base_layers()
        return drafter.to(self.device)

    @property
    def _drafter(self) -> Drafter:
        """The drafter inside the DeepSpeed engine."""
        return cast(Drafter, self.engine.module)

    def batch_collate_fn(self):
        return PadFeatureRows() if self.engine_features else None

    def collate(self, batch):
        # rows are padded to train.seq_len; a batch needs only its longest row
        length = batch["length"]
        seq_len = int(length.max())
        ids = batch["input_ids"][:, :seq_len]
        return {
            "input_ids": ids,
            "length": length,
            "attention": attention_mask(length, seq_len),
            "in_completion": completion_mask(batch["completion_start"], length, seq_len),
            **({"features": batch["features"][:, :seq_len]} if "features" in batch else {}),
        }

    def tokens_in(self, batch) -> torch.Tensor:
        return batch["length"].sum()

    def _features(self, batch) -> torch.Tensor:
        if self.engine_features:
            return batch["features"].float()
        base = cast(FrozenBase, self.base)  # hf features: the whole base
        return self.cache(lambda i, a: base.features(i, a, self.layers), batch["input_ids"], batch["length"])

    def loss(self, batch):
        return self._drafter.loss(self.base, self._features(batch), batch)

    def eval_batch(self, batch):
        hits, decode = self._drafter.step_hits(self.base, self._features(batch), batch)
        return {"accepted_per_pos": accepted_per_position(hits, decode), "drafts": decode.sum()}

    def eval_metrics(self, sums):
        return acceptance(sums["accepted_per_pos"], sums["drafts"])

    def export(self, path: str) -> None:
        self.method.speculator.export(self._drafter, path, self.method.base.identity)

    def summary(self) -> dict:
        import resource

        seen = self.cache.hits + self.cache.misses
        return {
            "base_cache_hit_rate": self.cache.hits / max(seen, 1),
            "target_features": self.method.speculator.target_features,
            "target_params_held": sum(self.base.held().values()),
            "target_params_total": self.base.total_params(),
            "drafter_params": sum(p.numel() for p in self._drafter.parameters()),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        }
