"""The recipe of the preference job (`type: preference`): prompts, n sampled answers each from any
synthesis backend, one judge that orders them (a reward model's scores, a pairwise LLM judge asked
in both orders, or a verifier against the prompt's reference answer), and the rules that turn the
judged samples into pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from arctic_ray.core.config import StrictConfig
from arctic_ray.core.recipe import Recipe
from arctic_ray.curate.judges.base import JudgeConfig
from arctic_ray.curate.judges.reward_model import RewardModelConfig
from arctic_ray.synth.backend import SamplingConfig, SynthConfig, check_samples
from arctic_ray.synth.backends.vllm.config import VLLMSynthConfig

PAIR_JUDGES = ("reward_model", "pairwise", "verifier")


class PreferenceInputConfig(StrictConfig):
    prompts: Path = Path("examples/data/sft/general.jsonl")
    """Prompt rows (`id`, `messages`; a conversation ending with an assistant turn is asked without
    it), with the reference answer in `answer_field` for the verifier: JSONL, parquet or an HF
    dataset saved with `save_to_disk`."""

    limit: int | None = Field(default=None, gt=0)
    """Only the first N usable prompts."""


class PreferenceRecipe(Recipe):
    type: Literal["preference"] = "preference"
    output_dir: str = "runs/preference"

    model: str = "tiny"
    """The generator: a built-in name, an HF name or a path (APIs: the model name). Run before a
    DPO recipe (`pipelines/dpo.py`), a recipe that does not set it takes the policy's starting model."""

    input: PreferenceInputConfig = PreferenceInputConfig()
    samples: int = Field(default=4, ge=2)
    """Answers per prompt (each its own request and store key; they need sampling)."""

    store: str = "runs/generation_store"
    """The generation store (a local directory or a filesystem URI): a rerun generates nothing twice."""

    synth: SynthConfig.union(default="vllm") = VLLMSynthConfig(  # pyright: ignore[reportInvalidTypeForm]  # every registered backend, a union built at import
        sampling=SamplingConfig(temperature=0.8, top_p=0.95, max_tokens=128)
    )
    judge: JudgeConfig.union(default="reward_model") = RewardModelConfig()  # pyright: ignore[reportInvalidTypeForm]  # every registered judge, a union built at import
    """What orders a prompt's answers: `reward_model` (the best against the worst score),
    `pairwise` (an LLM asked in both orders; with n > 2 every pair of answers is asked, n(n-1)
    requests a prompt, and the answer with the most wins is chosen over the one with the fewest)
    or `verifier` (a correct answer against an incorrect one)."""

    second_judge: JudgeConfig.union(default="reward_model") | None = None  # pyright: ignore[reportInvalidTypeForm]  # every registered judge, a union built at import
    """A reward model that scores both sides of the same pairs, for the report's judge agreement
    (how often it ranks the chosen answer above the rejected one); None: no second opinion."""

    min_margin: float = Field(default=0.0, ge=0)
    """Reward model: a pair's chosen must score more than its rejected by at least this (score units)."""

    near_identical: float = Field(default=0.9, gt=0, le=1)
    """A pair whose chosen and rejected answers are at least this similar (MinHash Jaccard of
    character 5-grams) teaches nothing and is dropped."""

    seed: int = 0
    """Seeds the draws that break ties (never the answers' lengths)."""

    @model_validator(mode="after")
    def _consistent(self) -> PreferenceRecipe:
        check_samples(self.samples, self.synth.sampling)
        if self.judge.type not in PAIR_JUDGES:
            raise ValueError(
                f"judge.type: {self.judge.type!r} does not order answers; use one of {', '.join(PAIR_JUDGES)}"
            )
        if self.second_judge is not None and self.second_judge.type != "reward_model":
            raise ValueError("second_judge.type: a second opinion is a reward_model (it scores each side of a pair)")
        return self

    def before(self, later: Recipe) -> PreferenceRecipe:
        """Before a DPO recipe: the generator is the policy's starting model unless this recipe sets one."""
        policy = getattr(getattr(later, "model", None), "name_or_path", None)
        if "model" in self.model_fields_set or policy is None:
            return self
        return self.model_copy(update={"model": policy})
