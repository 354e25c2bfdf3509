"""Training rows that carry the target's hidden states (`features`, [length, F] per row, ragged)
to tensors: the features padded with zeros to the longest row of the micro-batch."""

from __future__ import annotations

import numpy as np
import torch
from ray.data.collate_fn import NumpyBatchCollateFn


def pad_features(rows) -> np.ndarray:
    longest = max(len(r) for r in rows)
    out = np.zeros((len(rows), longest, rows[0].shape[-1]), dtype=rows[0].dtype)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


class PadFeatureRows(NumpyBatchCollateFn):
    def __call__(self, batch: dict) -> dict[str, torch.Tensor]:
        return {
            k: torch.from_numpy(pad_features(list(v)) if k == "features" else np.asarray(v)) for k, v in batch.items()
        }
