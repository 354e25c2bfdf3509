"""Base-model hidden states kept across epochs.

The base model is frozen, so the same tokens always give the same hidden states, and its
forward pass is most of a speculator training step. Rows are keyed by their token ids (the
split of rows across workers may change between epochs) and kept on the CPU up to a budget."""

from __future__ import annotations

import hashlib
from typing import Callable

import torch


class HiddenStateCache:
    def __init__(self, budget_bytes: int):
        self.budget_bytes = budget_bytes
        self.used_bytes = 0
        self.store: dict[bytes, torch.Tensor] = {}
        self.hits = self.misses = 0

    @staticmethod
    def _key(ids: torch.Tensor, attention: torch.Tensor) -> bytes:
        h = hashlib.blake2b(ids.cpu().numpy().tobytes(), digest_size=16)
        h.update(attention.cpu().numpy().tobytes())
        return h.digest()

    def __call__(self, compute: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """Hidden states [B, T, H] for `ids`, computing only the rows not seen before."""
        if self.budget_bytes <= 0:
            return compute(ids, attention)
        keys = [self._key(i, a) for i, a in zip(ids, attention)]
        missing = [i for i, k in enumerate(keys) if k not in self.store]
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        fresh = compute(ids[missing], attention[missing]) if missing else None
        rows: list[torch.Tensor] = []
        for i, key in enumerate(keys):
            if key in self.store:
                rows.append(self.store[key].to(ids.device))
                continue
            row = fresh[missing.index(i)]
            size = row.numel() * row.element_size()
            if self.used_bytes + size <= self.budget_bytes:
                self.store[key] = row.detach().to("cpu", copy=True)
                self.used_bytes += size
            rows.append(row)
        return torch.stack(rows)
