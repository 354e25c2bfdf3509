from typing import Literal

from pydantic import Field, field_validator

from arctic_ray.core.config import StrictConfig


class SpecDecodeEvalConfig(StrictConfig):
    num_prompts: int = Field(default=8, gt=0)
    """Held-out prompts, chosen (by a stable hash of their id) before anything is generated and
    never trained on; both the simulated and the vLLM measurements use them."""

    max_tokens: int = Field(default=128, gt=0)
    """Tokens generated per prompt in the vLLM measurement."""

    batch_sizes: list[int] = [1, 8]
    """Batch sizes measured in vLLM (1: one prompt at a time). The drafter's best number of
    speculative tokens is chosen at each."""

    repeats: int = Field(default=3, gt=0)
    """Timed repeats per configuration after one warm-up; the median is reported."""

    sampled_temperature: float = Field(default=0.7, ge=0)
    """Also report the drafter's vLLM acceptance when sampling at this temperature (0: skip)."""

    baselines: list[Literal["ngram", "suffix"]] = ["ngram", "suffix"]
    """Model-free speculation measured beside the drafter, what a user could pick instead:
    `ngram` (prompt lookup) and `suffix` (suffix decoding, from the arctic-inference package)."""

    ngram_max: int = Field(default=4, gt=0)
    """`prompt_lookup_max` of the ngram baseline (min 1)."""

    suffix_tokens: int = Field(default=8, gt=0)
    """`num_speculative_tokens` of the suffix baseline: the most it proposes (it adapts its length
    to the match)."""

    vllm: bool = True
    """Measure in vLLM (the simulated acceptance is always computed)."""

    k_sweep: bool = True
    """Measure the drafter at every number of speculative tokens k from 1 to its n_predict (the
    export records the fastest k per batch size); False: at n_predict alone (one engine a run)."""

    @field_validator("baselines")
    @classmethod
    def _once_each(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"each baseline at most once: {v}")
        return v
