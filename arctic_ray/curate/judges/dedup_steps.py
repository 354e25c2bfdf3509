"""Dedup as steps of a judge chain (`type: exact_dedup`, `type: near_dedup`), so duplicates are
removed before anybody pays to judge them, and land in the same rejects table with the row
they duplicate. The same code as the pipelines' dedup stage and `arctic-ray dedup`."""

from __future__ import annotations

from typing import Literal

import ray.data

from arctic_ray.curate.dedup.config import DedupConfig
from arctic_ray.curate.dedup.exact import exact_dedup
from arctic_ray.curate.dedup.minhash import minhash_dedup
from arctic_ray.curate.dedup.result import DedupResult
from arctic_ray.curate.judges.base import JudgeConfig
from arctic_ray.curate.rejects import StepResult, reject_row


def _rejects(result: DedupResult, stage: str, kind: str) -> StepResult:
    def to_reject(row: dict) -> dict:
        of, cluster = row.pop("duplicate_of"), row.pop("cluster")
        return reject_row(row, stage, f"{kind} of {of} (cluster {cluster})")

    return StepResult(kept=result.kept, rejects=result.duplicates.map(to_reject))


class ExactDedupStep(JudgeConfig, DedupConfig):
    """Rows whose normalised text (case, white space) is the same: the best survives."""

    type: Literal["exact_dedup"] = "exact_dedup"

    def apply(self, ds: ray.data.Dataset) -> StepResult:
        return _rejects(exact_dedup(ds, self), self.stage, "exact duplicate")


class NearDedupStep(JudgeConfig, DedupConfig):
    """MinHash LSH near-duplicates (Jaccard ≥ `threshold`): one survivor per group."""

    type: Literal["near_dedup"] = "near_dedup"

    def apply(self, ds: ray.data.Dataset) -> StepResult:
        return _rejects(minhash_dedup(ds, self), self.stage, "near-duplicate")
