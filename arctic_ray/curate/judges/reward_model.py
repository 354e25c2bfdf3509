"""The reward-model judge (`type: reward_model`): a Hugging Face sequence classifier with one
label scores every (conversation, completion) pair on a Ray Data actor pool (`reward_scorer.py`),
each row keeps its score, and rows below `min_score` go to rejects with the score in the reason.
A row that cannot be scored is rejected with its reason; no row is silently kept or lost."""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
import ray.data
from pydantic import Field

from arctic_ray.core.config import PoolSize
from arctic_ray.curate.judges.base import JudgeConfig
from arctic_ray.curate.judges.reward_scorer import RewardScorer
from arctic_ray.curate.rejects import REASON, StepResult, split_marked


class RewardModelConfig(JudgeConfig):
    type: Literal["reward_model"] = "reward_model"

    model: str = "tiny-reward"
    """The reward model: a built-in name (`tiny-reward`), a local path or an HF name of an
    `AutoModelForSequenceClassification` with one label."""

    min_score: float | None = None
    """Rows scoring below this are removed; None scores every row and removes none."""

    score_field: str = "reward"
    """The column each row's score is written to (null on rows that could not be scored)."""

    truncated_field: str = "reward_truncated"
    """The column set True on rows cut to `max_length` (sum it to count truncations)."""

    messages_field: str = "messages"
    """The column with the conversation: a list of {role, content}."""

    completion_field: str = "completion"
    """The column with the answer that is judged, scored as the conversation's next assistant turn."""

    max_length: int = Field(default=2048, gt=0)
    """Tokens per scored conversation; longer ones keep their last `max_length` tokens."""

    batch_size: int = Field(default=16, gt=0)
    """Rows per forward pass, padded to the longest row in it."""

    concurrency: PoolSize = 1
    """Scoring actors: a fixed number, or (min, max) for an autoscaling pool."""

    cpus_per_actor: float = Field(default=1.0, ge=0)
    gpus_per_actor: float = Field(default=0.0, ge=0)
    """Above 0, actors score on a GPU in bfloat16; at 0, on CPU in float32."""

    def score(self, ds: ray.data.Dataset) -> ray.data.Dataset:
        """Every row with its score, truncation flag and (when unscorable) the `REASON` mark."""
        from arctic_ray.models.ref import ModelRef

        kwargs = {
            "model": ModelRef.of(self.model),  # a bad name fails here; actors resolve it on their node
            "messages_field": self.messages_field,
            "completion_field": self.completion_field,
            "score_field": self.score_field,
            "truncated_field": self.truncated_field,
            "max_length": self.max_length,
            "use_gpu": self.gpus_per_actor > 0,
        }
        return ds.map_batches(
            RewardScorer,
            fn_constructor_kwargs=kwargs,
            concurrency=self.concurrency,
            batch_size=self.batch_size,
            batch_format="pyarrow",
            num_cpus=self.cpus_per_actor,
            num_gpus=self.gpus_per_actor,
        )

    def apply(self, ds: ray.data.Dataset) -> StepResult:
        return split_marked(
            self.score(ds).map_batches(_below(self.min_score, self.score_field), batch_format="pyarrow"), self.stage
        )


def _below(min_score: float | None, score_field: str):
    """Marks scored rows under `min_score` with "reward <score> < min_score <min>"."""

    def mark(batch: pa.Table) -> pa.Table:
        if min_score is None:
            return batch
        scores, reasons = batch[score_field].to_pylist(), batch[REASON].to_pylist()
        marked = [
            r or (f"reward {s:.4g} < min_score {min_score:g}" if s < min_score else "")
            for s, r in zip(scores, reasons, strict=False)
        ]
        return batch.set_column(batch.schema.get_field_index(REASON), REASON, pa.array(marked, pa.string()))

    return mark
