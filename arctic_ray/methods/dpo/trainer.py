"""DPO on the shared loop. A micro-batch is packed rows of whole pairs (chosen, then rejected);
the policy's per-token log-probs come from the same packed forward as the reference stage's, are
summed per response, and the pair losses of `loss.py` are averaged over the pairs of the whole
global batch (every micro-batch on every rank), so a pair weighs the same however it was packed.
The reference's log-probs come with the batch (precomputed), or from a second, frozen model in the
worker (`reference: in_trainer`). Logged as TRL does, weighted by pairs: `rewards/chosen`,
`rewards/rejected`, `rewards/margins`, `rewards/accuracies`, `logps/chosen`, `logps/rejected`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import torch
import torch.distributed as dist

from arctic_ray.data.packing import PadBins
from arctic_ray.methods.dpo.loss import REFERENCE_FREE, PairLogps, dpo_losses
from arctic_ray.methods.dpo.recipe import DPORecipe
from arctic_ray.methods.dpo.reference import REF_COLUMN
from arctic_ray.models.causal_lm import export_causal_lm, load_causal_lm
from arctic_ray.models.ref import ModelRef
from arctic_ray.train import sequence_parallel
from arctic_ray.train.packed import packed_target_logps, sequence_sums
from arctic_ray.train.packed_trainer import step_targets
from arctic_ray.train.trainer import Ratio, Trainer

if TYPE_CHECKING:
    from transformers import PreTrainedModel


@dataclass
class DPOMethod:
    policy: ModelRef
    """The starting model, trained (resolved on each worker's node)."""
    reference: ModelRef
    pad_id: int
    recipe: DPORecipe


class DPOTrainer(Trainer):
    name = "dpo"

    def sequence_model(self) -> str:
        return self.method.policy.path()

    def attn_implementation(self) -> str:
        return self.method.recipe.model.attn_implementation

    @property
    def float_columns(self) -> tuple[str, ...]:
        r: DPORecipe = self.method.recipe
        return (REF_COLUMN,) if r.reference == "precomputed" and r.loss not in REFERENCE_FREE else ()

    def build_model(self) -> torch.nn.Module:
        m: DPOMethod = self.method
        attn = m.recipe.model.attn_implementation
        model = load_causal_lm(m.policy, self.device, attn)
        self.ref_model = None
        if m.recipe.reference == "in_trainer" and m.recipe.loss not in REFERENCE_FREE:
            self.ref_model = load_causal_lm(m.reference, self.device, attn).eval().requires_grad_(False)
        self.params_held = sum(p.numel() for p in model.parameters()) + sum(
            p.numel() for p in (self.ref_model.parameters() if self.ref_model is not None else [])
        )
        return model

    @property
    def _model(self) -> PreTrainedModel:
        return cast("PreTrainedModel", self.engine.module)

    def batch_collate_fn(self):
        m: DPOMethod = self.method
        per_row = None if m.recipe.data.padding_free else 2  # a pair (chosen, rejected) a row
        return PadBins(m.pad_id, self.float_columns, per_row)

    def tokens_in(self, batch) -> torch.Tensor:
        return (batch["segment_ids"] > 0).sum()

    def begin_step(self, batches) -> None:
        """The global batch's pairs and chosen response tokens, before the first forward."""
        local = torch.zeros(2, dtype=torch.float64)
        for b in batches:
            pairs, chosen_tokens = _pair_counts(b)
            local += torch.tensor([pairs, chosen_tokens], dtype=torch.float64)
        dist.all_reduce(local)
        self.step_pairs, self.step_chosen_tokens = (float(x) for x in local.clamp(min=1.0))

    def pair_logps(self, batch) -> PairLogps:
        """Per pair: the responses' summed log-probs (a sequence-parallel slice's partial sums are
        added up over the group, differentiably) under the policy and the reference."""
        tiles = self.train_cfg.logits_tile_tokens
        policy = packed_target_logps(self._model, batch, tile_tokens=tiles)
        mask, segments, count = policy.target_mask, batch["segment_ids"], batch.get("num_sequences")

        def summed(values: torch.Tensor) -> torch.Tensor:
            return sequence_parallel.sum_over_group(self.sp, sequence_sums(values, mask, segments, count))

        logps, tokens = summed(policy.token_logps), summed(mask.float()).detach()
        if self.ref_model is not None:
            with torch.no_grad():
                reference = packed_target_logps(self.ref_model, batch, tile_tokens=tiles).token_logps
        elif REF_COLUMN in batch:
            reference = batch[REF_COLUMN].to(policy.token_logps.dtype)
        else:  # reference-free (simpo)
            reference = torch.zeros_like(policy.token_logps)
        ref = summed(reference).detach()
        return PairLogps(logps[0::2], logps[1::2], ref[0::2], ref[1::2], tokens[0::2], tokens[1::2])

    def loss(self, batch):
        r: DPORecipe = self.method.recipe
        p = self.pair_logps(batch)
        pair = dpo_losses(p, r.loss, r.beta, r.label_smoothing, r.simpo_gamma)
        # DeepSpeed divides by the accumulation steps and averages over ranks: undo both, so the
        # gradient is that of the mean over the global batch's pairs (and chosen tokens, for SFT).
        # Under sequence parallelism every rank of a group computes the same pair losses from the
        # summed log-probs: the pairs are counted once per rank (step_pairs), which divides the
        # group's copies out, and the SFT term's tokens are counted once, so it divides by the group.
        scale = self.world_size * self.train_cfg.gradient_accumulation_steps
        loss = pair.loss.sum() * scale / self.step_pairs
        if r.sft_weight:
            loss = loss - r.sft_weight * p.chosen.sum() * scale / (self.step_chosen_tokens * self.sp.size)
        metrics: dict[str, torch.Tensor | Ratio] = {
            **self.pair_metrics(p, pair.loss, pair.chosen_rewards, pair.rejected_rewards)
        }
        positions = torch.tensor(float(batch["segment_ids"].numel()), dtype=torch.float64)
        metrics["padding_fraction"] = Ratio(positions - self.tokens_in(batch).double(), positions)
        metrics["pairs"] = torch.tensor(self.step_pairs / self.sp.size)  # the step's global pairs
        return loss, metrics

    @staticmethod
    def pair_metrics(p: PairLogps, losses, chosen_rewards, rejected_rewards) -> dict[str, Ratio]:
        pairs = torch.tensor(float(len(losses)), dtype=torch.float64)
        return {
            "dpo_loss": Ratio(losses.detach().sum(), pairs),
            "rewards/chosen": Ratio(chosen_rewards.sum(), pairs),
            "rewards/rejected": Ratio(rejected_rewards.sum(), pairs),
            "rewards/margins": Ratio((chosen_rewards - rejected_rewards).sum(), pairs),
            "rewards/accuracies": Ratio((chosen_rewards > rejected_rewards).sum(), pairs),
            "logps/chosen": Ratio(p.chosen.detach().sum(), pairs),
            "logps/rejected": Ratio(p.rejected.detach().sum(), pairs),
        }

    def eval_batch(self, batch):
        r: DPORecipe = self.method.recipe
        p = self.pair_logps(batch)
        pair = dpo_losses(p, r.loss, r.beta, r.label_smoothing, r.simpo_gamma)
        metrics = self.pair_metrics(p, pair.loss, pair.chosen_rewards, pair.rejected_rewards)
        sums = {name: ratio.num.detach().double() for name, ratio in metrics.items()}
        out = {**sums, "pairs": torch.tensor(float(len(pair.loss)), dtype=torch.float64)}
        if self.sp.rank:  # the group's ranks hold the same pairs: count them once
            out = {k: torch.zeros_like(v) for k, v in out.items()}
        return out

    def eval_metrics(self, sums):
        pairs = float(sums["pairs"])
        out = {f"eval_{k}": float(v) / max(pairs, 1.0) for k, v in sums.items() if k != "pairs"}
        return {**out, "eval_pairs": int(pairs)}

    def export(self, path: str) -> None:
        export_causal_lm(self._model, self.method.policy, path)

    def summary(self) -> dict:
        return {"parameters_held_per_worker": self.params_held, "reference": self.method.recipe.reference}


def _pair_counts(batch) -> tuple[float, float]:
    """Pairs (two sequences each; under sequence parallelism the whole rows', so each rank of a
    group counts them all) and the chosen responses' target tokens on this rank."""
    segments, targets = batch["segment_ids"], step_targets(batch)
    rows = batch.get("num_sequences")
    pairs = float((segments.max(dim=1).values if rows is None else rows).sum()) / 2
    predicting = segments if "targets" in batch else segments[:, :-1]  # where each target is predicted
    chosen = (predicting % 2 == 1) & (targets >= 0)  # a unit's first sequence, the chosen
    return pairs, float(chosen.sum())
