"""What every trainer over packed chat sequences shares (SFT, SwiftKV): ragged bins padded per
micro-batch, throughput in real tokens, and the global batch's target-token count, known before
the step's first forward, so a loss summed over tokens divides by the whole step's targets (every
micro-batch on every rank) and an example weighs the same however it was packed or sharded."""

from __future__ import annotations

import torch
import torch.distributed as dist

from arctic_ray.data.chat import IGNORE_INDEX
from arctic_ray.data.packing import PadBins
from arctic_ray.train.packed import shifted_targets
from arctic_ray.train.trainer import Trainer


class PackedTrainer(Trainer):
    """A base for trainers whose method carries `pad_id`; `loss_scale()` turns a micro-batch's
    summed token loss into its share of the step's mean."""

    step_targets = torch.tensor(1.0)

    def batch_collate_fn(self):
        return PadBins(self.method.pad_id)

    def tokens_in(self, batch) -> torch.Tensor:
        return (batch["segment_ids"] > 0).sum()

    def begin_step(self, batches) -> None:
        """The global batch's target tokens, before its first forward (one all-reduce)."""
        targets = [(step_targets(b) != IGNORE_INDEX).sum() for b in batches]
        local = torch.stack(targets).sum()
        total = local.double().reshape(1).cpu()  # the step's one host sync
        dist.all_reduce(total)
        self.step_targets = total.clamp(min=1.0)

    def loss_scale(self) -> float:
        """The same under sequence parallelism: DeepSpeed divides by the sub-steps (x the group)
        and averages over the data-parallel groups only (x the group again), which cancels."""
        return self.world_size * self.train_cfg.gradient_accumulation_steps / float(self.step_targets)


def step_targets(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The label each position is trained to predict: a sequence-parallel slice brings its own."""
    return batch["targets"] if "targets" in batch else shifted_targets(batch["labels"], batch["segment_ids"])
