"""The recipe of the DPO job (`type: dpo`): the shared trainer dialect with ArcticTraining's DPO
fields (`beta`, `label_smoothing`, `ref_model.name_or_path`, `data.max_prompt_length`), the loss,
an optional SFT term on the chosen responses, where the reference's log-probs come from, and the
held-out check (greedy verified accuracy before and after, in vLLM)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from arctic_ray.core.config import PoolSize, StrictConfig
from arctic_ray.curate.judges.verifier import VerifierConfig
from arctic_ray.data.sources import SourceConfig
from arctic_ray.methods.dpo.loss import LossType
from arctic_ray.train.config import ModelConfig, OptimizerConfig, SchedulerConfig, TrainConfig, TrainDataConfig


class DPOModelConfig(ModelConfig):
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"] = "sdpa"
    """Packed pairs are kept apart by a block-diagonal mask (sdpa, eager) or by position ids
    (flash_attention_2, where installed)."""


class ReferenceModelConfig(StrictConfig):
    name_or_path: str | None = None
    """The frozen reference: a built-in name, a Hugging Face name or a path (None: the policy's
    starting model, `model.name_or_path`)."""


class DPODataConfig(TrainDataConfig):
    sources: list[SourceConfig] = [SourceConfig(path=Path("examples/data/dpo/pairs.jsonl"))]
    """Preference pairs in TRL's formats: `prompt`, `chosen`, `rejected` as message lists
    (conversational), or `chosen` and `rejected` as whole conversations sharing their prompt
    (implicit prompt); the preference job writes the first. Rows that cannot train (a missing
    column, chosen equal to rejected, an empty turn) go to rejects with the reason."""

    eval_sources: list[SourceConfig] = []
    """Held-out pairs; empty: `eval_fraction` of the sources, chosen by a stable hash of the id."""

    eval_fraction: float = Field(default=0.1, ge=0, lt=1)
    """Share of the sources held out for the eval metrics when `eval_sources` is empty."""

    max_length: int = Field(default=512, ge=8)
    """Tokens of prompt and response together, per response."""

    max_prompt_length: int = Field(default=256, ge=1)
    """A longer prompt keeps its last `max_prompt_length` tokens (the question stays, the start of
    a long context goes); then a response is cut so that prompt and response fit `max_length`. A
    pair left with no response token goes to rejects."""

    pack: bool = True
    """Several pairs per sequence (a pair's chosen and rejected always together); False: one pair
    per row, padded to the longest of the micro-batch."""

    padding_free: bool = True
    """Run packed rows as they are; False: cut each row into one pair a row, padded to the
    longest pair of the micro-batch (as TRL and ArcticTraining do: the same pairs, more padding)."""


class HeldOutCheckConfig(StrictConfig):
    """Greedy verified accuracy on prompts the pairs never saw, measured in vLLM before and after
    DPO (Wilson 95% intervals, McNemar's test on the paired outcomes), and the starting model's
    pass@n on them."""

    prompts: Path | None = None
    """Rows with `messages` and a reference `answer` (JSONL, parquet or an HF dataset on disk);
    None: no check."""

    limit: int | None = Field(default=None, gt=0)
    """Only the first N prompts."""

    verifier: VerifierConfig = VerifierConfig()
    """How an answer is checked against the reference (`kind: math`, `exact` or `regex`)."""

    max_tokens: int = Field(default=160, gt=0)
    pass_at: int = Field(default=4, ge=0)
    """n of the starting model's pass@n (sampled at `temperature`); 0: not measured."""

    temperature: float = Field(default=0.8, gt=0)
    max_model_len: int = Field(default=1024, gt=0)


class DPORecipe(TrainConfig):
    type: Literal["dpo"] = "dpo"
    output_dir: str = "runs/dpo"
    model: DPOModelConfig = DPOModelConfig()
    ref_model: ReferenceModelConfig = ReferenceModelConfig()
    data: DPODataConfig = DPODataConfig()
    micro_batch_size: int = Field(default=2, gt=0)
    """Packed rows per worker per micro-step (each holds whole pairs); with `data.pack: false`, pairs."""

    optimizer: OptimizerConfig = OptimizerConfig(lr=5e-6, betas=(0.9, 0.999))
    scheduler: SchedulerConfig = SchedulerConfig(name="linear", warmup_ratio=0.1)

    loss: LossType = "sigmoid"
    """`sigmoid` (DPO; with `label_smoothing`, conservative DPO), `ipo`, `hinge`, or reference-free `simpo`."""

    beta: float = Field(default=0.1, gt=0)
    """How far the policy may move from the reference (the KL penalty's inverse temperature)."""

    label_smoothing: float = Field(default=0.0, ge=0, lt=0.5)
    """The share of pairs assumed mislabelled (sigmoid and simpo)."""

    simpo_gamma: float = Field(default=0.5, ge=0)
    """simpo's target reward margin."""

    sft_weight: float = Field(default=0.0, ge=0)
    """Weight of an SFT term (mean negative log-likelihood of the chosen response tokens) added to
    the preference loss; 0: none."""

    reference: Literal["precomputed", "in_trainer"] = "precomputed"
    """precomputed: the reference's per-token log-probs are computed once by a Ray Data stage and
    stored with the pairs (training workers hold one model); in_trainer: each worker holds the
    reference beside the policy and runs it every step."""

    reference_store: str = "runs/reference_logps"
    """Where precomputed log-probs are kept, keyed by the reference's identity, the pairs, the
    tokenizer and chat template, `max_length`, `max_prompt_length` and dtype: a rerun, or another
    DPO run on the same pairs, reuses them. A local path or a filesystem URI."""

    reference_actors: PoolSize | None = None
    """Actors of the reference stage (a number, or [min, max]); None: one per GPU, else one."""

    check: HeldOutCheckConfig = HeldOutCheckConfig()

    store: str = "runs/generation_store"
    """The generation store the held-out check's answers are kept in (a rerun generates nothing twice)."""

    @model_validator(mode="after")
    def _consistent(self) -> DPORecipe:
        if self.data.max_prompt_length >= self.data.max_length:
            raise ValueError(
                f"data.max_prompt_length ({self.data.max_prompt_length}) leaves no room for a response "
                f"in data.max_length ({self.data.max_length})"
            )
        return self

    @property
    def reference_name(self) -> str:
        return self.ref_model.name_or_path or self.model.name_or_path

    def after(self, previous: dict) -> DPORecipe:
        """After a preference run: train on its pairs (the held-out check keeps its own prompts)."""
        if previous.get("type") != "preference" or not previous.get("pairs"):
            return super().after(previous)
        sources = [SourceConfig(path=Path(previous["pairs"]), name="preference")]
        return self.model_copy(update={"data": self.data.model_copy(update={"sources": sources})})
