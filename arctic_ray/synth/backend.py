"""A synthesis backend: a recipe block chosen by `synth.backend` that turns a Dataset of keyed
request rows into the shared row schema (`synth/schema.py`) as a Ray Data stage.

Every backend receives only the rows the generation store could not answer (`stored.py` asks the
store first), each already carrying its `key` and merged `sampling`. A backend that sends requests
as it goes writes each answer to the store itself as it arrives (`StoreWriter`) and logs the keys
as they really go out (`sent_log.py`), so a crash loses at most the answers still in its buffer
and a rerun counts what it sends again; the others have their output batches stored by `keyed.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import ray.data
from pydantic import Field

from arctic_ray.core.config import Block, StrictConfig
from arctic_ray.models.identity import model_identity
from arctic_ray.models.resolve import model_files


class SamplingConfig(StrictConfig):
    temperature: float = Field(default=0.0, ge=0.0)
    """0 means greedy: what a speculator for greedy decoding should learn from."""

    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(default=128, gt=0)
    """Most new tokens per completion (a row's own `sampling` may lower it)."""

    seed: int | None = 0


def sample_seed(sampling: dict, sample: int | None) -> dict:
    """The k-th sample of a prompt is seeded `seed + k`: n samples of one prompt under one seed
    are n different answers (each is also its own store key), and a rerun repeats each."""
    if sampling.get("seed") is None or not sample:
        return sampling
    return {**sampling, "seed": int(sampling["seed"]) + int(sample)}


def check_samples(samples: int, sampling: SamplingConfig) -> None:
    """n > 1 samples need sampling: greedy samples are one answer under one store key."""
    if samples > 1 and sampling.temperature == 0:
        raise ValueError(
            f"samples: {samples} samples per prompt need sampling, but synth.sampling.temperature is 0 "
            "(greedy samples would all be one answer under one store key): set a temperature > 0"
        )


EXTRA_BODY = "extra_body"
"""A row's `sampling` may carry request fields beyond the standard ones under this name, as one
JSON text: for the OpenAI backends chat-completion fields (`stop`, `response_format`, `tools`,
...), sent verbatim; for vLLM `SamplingParams` fields (`stop`, `top_k`, ...). It is part of the
store key, and Arrow keeps it whole (objects of different shapes across rows would be merged)."""


def extra_body(sampling: dict) -> dict:
    """The extra request fields a row's sampling carries (sent verbatim by the OpenAI backends)."""
    import json

    text = sampling.get(EXTRA_BODY)
    return json.loads(text) if text else {}


class PricingConfig(StrictConfig):
    """What the provider charges, in USD per million tokens (0 for local engines)."""

    input_per_million: float = Field(default=0.0, ge=0.0)
    output_per_million: float = Field(default=0.0, ge=0.0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million) / 1e6


@dataclass(frozen=True)
class Target:
    """What a stage generates with and where its answers go."""

    model: str
    """What the backend loads or asks for: a local path or HF name (vllm), a model or deployment name (APIs)."""

    model_name: str
    """Written to the `model` column."""

    model_key: str
    """The model's identity in store keys (a content hash for local models, the name for APIs)."""

    store: str
    """The generation store: a local directory or a pyarrow filesystem URI."""

    run_dir: str | None = None
    """This run's directory (bookkeeping that must outlive the run, such as the Batch API's
    manifest, lives in the store instead: a rerun in another directory must find it)."""


class SynthConfig(Block):
    block_kind: ClassVar[str] = "synth_backend"
    discriminator: ClassVar[str] = "backend"
    home_package: ClassVar[str] = "arctic_ray.synth.backends"

    persists_answers: ClassVar[bool] = False
    """True when the backend writes each answer to the store as it arrives."""

    loads_weights: ClassVar[bool] = False
    """True when the backend loads the model's weights itself (a local engine): its store keys
    then name the model's content, not just its name."""

    sampling: SamplingConfig = SamplingConfig()
    pricing: PricingConfig = PricingConfig()

    spend_limit: float | None = Field(default=None, gt=0)
    """USD: no new request is sent once this run's spend reaches it (rows left go to errors)."""

    @property
    def rows_per_task(self) -> int | None:
        """Rows the backend's stage takes per task: its rows arrive in blocks of this size, so
        every actor of a pool gets work (a Ray Data task takes whole blocks). None: any."""
        return None

    def generate(self, ds: ray.data.Dataset, target: Target) -> ray.data.Dataset:
        """Add the output columns of the row schema to every (keyed) row."""
        raise NotImplementedError

    def report(self, target: Target) -> dict:
        """Counts a run's summary adds once the rows are out (e.g. provider files left behind)."""
        return {}


def target_for(model: str, synth: SynthConfig, store: str, run_dir: str | None = None) -> Target:
    if synth.loads_weights:
        return Target(model, model, model_identity(model_files(model), model)["store_key"], store, run_dir)
    return Target(model, model, model, store, run_dir)
