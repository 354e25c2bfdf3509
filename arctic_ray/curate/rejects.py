"""What a judge step returns, and the one rejects schema every step writes: `id` (as text),
`stage`, `reason`, `raw` (the judge's raw answer, if any) and `row` (the whole removed row as
JSON), so rejects from different steps union into one table and nothing removed is lost."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import ray.data

REASON = "_judge_reason"
"""Set by a step on each row it removes (empty: kept)."""
RAW = "_judge_raw"
"""The judge's raw answer behind a removal."""


@dataclass
class StepResult:
    kept: ray.data.Dataset
    rejects: ray.data.Dataset


def _plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def reject_row(row: dict, stage: str, reason: str, raw: str = "") -> dict:
    return {
        "id": str(row.get("id")),
        "stage": stage,
        "reason": reason,
        "raw": raw or "",
        "row": json.dumps(row, default=_plain),
    }


def split_marked(ds: ray.data.Dataset, stage: str) -> StepResult:
    """Rows with a non-empty `REASON` go to rejects, the others are kept (both lose the marks)."""
    ds = ds.materialize()
    kept = ds.filter(lambda r: not r[REASON]).drop_columns([REASON, RAW])

    def to_reject(row: dict) -> dict:
        reason, raw = row.pop(REASON), row.pop(RAW)
        return reject_row(row, stage, reason, raw)

    return StepResult(kept=kept, rejects=ds.filter(lambda r: bool(r[REASON])).map(to_reject))
