"""The draft vocabulary of a drafter with a reduced output layer: the target tokens the base
model emits most often in the training data, special tokens always included."""

from __future__ import annotations

import numpy as np
import ray.data
import torch


def count_tokens(ds: ray.data.Dataset, column: str, vocab_size: int) -> torch.Tensor:
    """How often each token id occurs in `column` (lists of ids), counted in parallel."""

    def count(batch: dict[str, np.ndarray]) -> dict:
        ids = np.concatenate([np.asarray(x, dtype=np.int64) for x in batch[column]] or [np.zeros(0, np.int64)])
        return {"counts": [np.bincount(ids, minlength=vocab_size)[:vocab_size]]}

    total = np.zeros(vocab_size, dtype=np.int64)
    for row in ds.map_batches(count, batch_format="numpy").iter_rows():  # pyright: ignore[reportArgumentType]  # Ray types fn for any batch format
        total += row["counts"]
    return torch.from_numpy(total)


def choose_draft_vocab(counts: torch.Tensor, size: int, always: list[int]) -> torch.Tensor:
    """Sorted target ids: `always` first, then the most frequent (ties: lower id)."""
    size = min(size, len(counts))
    score = counts.double().clone()
    score[torch.tensor(always, dtype=torch.long)] = float("inf")
    # stable descending sort keeps lower ids first among equal counts
    order = torch.sort(-score, stable=True).indices
    return torch.sort(order[:size]).values
