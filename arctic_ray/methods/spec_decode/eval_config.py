from typing import Literal

from pydantic import Field, field_validator

from arctic_ray.core.config import StrictConfig


class SpecDecodeEvalConfig(StrictConfig):
    num_prompts: int = Field(default=8, gt=0)
    """Held-out prompts, chosen (by a stable hash of their id) before anything is generated and
    never trained on; both the simulated and the vLLM measurements use them, and the best k per
    batch size is chosen on them."""

    foreign_prompts: str | None = "examples/data/foreign_eval.jsonl"
    """A second eval set in other styles than the training prompts (a path; relative ones are
    read from the working directory, else from this project's root), timed in vLLM beside the
    held-out prompts: what the drafter gives on traffic unlike its training data. Its prompts
    that near-duplicate a training prompt (MinHash, the `dedup` settings) are dropped and
    counted. The shipped set is 36 hand-written prompts, frozen before the training prompts were
    written; None: the held-out set alone."""

    foreign_limit: int | None = Field(default=None, gt=0)
    """Time only the first N foreign prompts (the set's order is fixed); None: all of them."""

    suffix_warmup_prompts: int = Field(default=32, ge=0)
    """Training prompts whose answers fill suffix decoding's cache before it is timed (as a
    server's earlier requests would); they share no prompt with the timed sets."""

    max_tokens: int = Field(default=128, gt=0)
    """Tokens generated per prompt in the vLLM measurement."""

    batch_sizes: list[int] = [1, 8]
    """Batch sizes measured in vLLM (1: one prompt at a time). The drafter's best number of
    speculative tokens is chosen at each."""

    repeats: int = Field(default=3, gt=0)
    """Timed repeats per configuration after one warm-up; the median is reported."""

    sampled_temperature: float = Field(default=0.7, ge=0)
    """Also report the drafter's vLLM acceptance when sampling at this temperature (0: skip)."""

    baselines: list[Literal["ngram", "suffix", "suffix_nocache"]] = ["ngram", "suffix", "suffix_nocache"]
    """Model-free speculation measured beside the drafter, what a user could pick instead:
    `ngram` (prompt lookup), `suffix` (suffix decoding as servers run it: its cache of earlier
    answers on, warmed on `suffix_warmup_prompts`, a fresh engine per repeat, never holding the
    timed prompt's own answer) and `suffix_nocache` (each request's own tree only)."""

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

    scaling_curve: str | None = None
    """The `points.json` that `benchmarks/spec_decode_scaling.py` writes (a path or URI), for the
    same base model: the report of an offline run says where its training tokens sit on that
    curve and what speedup on the foreign set the curve gives at them. None: no curve."""

    @field_validator("baselines")
    @classmethod
    def _once_each(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"each baseline at most once: {v}")
        return v
