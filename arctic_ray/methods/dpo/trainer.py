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
from arctic_ray.train.packed import packed_target_logps, sequence_sums
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
        precomputed = m.recipe.reference == "precomputed" and m.recipe.loss not in REFERENCE_FREE
        per_row = None if m.recipe.data.padding_free else 2  # a pair (chosen, rejected) a row
        return PadBins(m.pad_id, (REF_COLUMN,) if precomputed else (), per_row)

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
        policy = packed_target_logps(self._model, batch)
        mask, segments = policy.target_mask, batch["segment_ids"]
        logps = sequence_sums(policy.token_logps, mask, segments)
        tokens = sequence_sums(mask.float(), mask, segments)
        if self.ref_model is not None:
            with torch.no_grad():
                reference = packed_target_logps(self.ref_model, batch).token_logps
        elif REF_COLUMN in batch:
            reference = batch[REF_COLUMN].to(policy.token_logps.dtype)
        else:  # reference-free (simpo)
            reference = torch.zeros_like(policy.token_logps)
        ref = sequence_sums(reference, mask, segments).detach()
        return PairLogps(logps[0::2], logps[1::2], ref[0::2], ref[1::2], tokens[0::2], tokens[1::2])

    def loss(self, batch):
        r: DPORecipe = self.method.recipe
        p = self.pair_logps(batch)
        pair = dpo_losses(p, r.loss, r.beta, r.label_smoothing, r.simpo_gamma)
        # DeepSpeed divides by the accumulation steps and averages over ranks: undo both, so the
        # gradient is that of the mean over the global batch's pairs (and chosen tokens, for SFT).
        scale = self.world_size * self.train_cfg.gradient_accumulation_steps
        loss = pair.loss.sum() * scale / self.step_pairs
        if r.sft_weight:
            loss = loss - r.sft_weight * p.chosen.sum() * scale / self.step_chosen_tokens
        metrics: dict[str, torch.Tensor | Ratio] = {
            **self.pair_metrics(p, pair.loss, pair.chosen_rewards, pair.rejected_rewards)
        }
        positions = torch.tensor(float(batch["segment_ids"].numel()), dtype=torch.float64)
        metrics["padding_fraction"] = Ratio(positions - self.tokens_in(batch).double(), positions)
        metrics["pairs"] = torch.tensor(self.step_pairs)  # the step's global pairs (the same on every micro-batch)
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
        return {**sums, "pairs": torch.tensor(float(len(pair.loss)), dtype=torch.float64)}

    def eval_metrics(self, sums):
        pairs = float(sums["pairs"])
        out = {f"eval_{k}": float(v) / max(pairs, 1.0) for k, v in sums.items() if k != "pairs"}
        return {**out, "eval_pairs": int(pairs)}

    def export(self, path: str) -> None:
        export_causal_lm(self._model, self.method.policy, path)

    def summary(self) -> dict:
        return {"parameters_held_per_worker": self.params_held, "reference": self.method.recipe.reference}


def _pair_counts(batch) -> tuple[float, float]:
    """Pairs (two sequences each) and the chosen responses' target tokens of a micro-batch."""
    segments, labels = batch["segment_ids"], batch["labels"]
    pairs = float(segments.max(dim=1).values.sum()) / 2
    chosen = (segments % 2 == 1) & (segments > 0)
    targets = torch.zeros_like(chosen)
    targets[:, 1:] = (labels[:, 1:] >= 0) & (segments[:, 1:] == segments[:, :-1])
    return pairs, float((chosen & targets).sum())
