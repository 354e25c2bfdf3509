"""Base-model hidden states kept across epochs.

The base model is frozen, so the same tokens always give the same hidden states, and its
forward pass is most of a speculator training step. Rows are keyed by their real tokens (not the
padding, which changes with the batch they land in) and kept on the CPU, unpadded, up to a budget."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import torch


class HiddenStateCache:
    def __init__(self, budget_bytes: int):
        self.budget_bytes = budget_bytes
        self.used_bytes = 0
        self.store: dict[bytes, torch.Tensor] = {}
        self.hits = self.misses = 0

    @staticmethod
    def _key(ids: torch.Tensor) -> bytes:
        return hashlib.blake2b(ids.cpu().numpy().tobytes(), digest_size=16).digest()

    def __call__(
        self, compute: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], ids: torch.Tensor, length: torch.Tensor
    ) -> torch.Tensor:
        """Hidden states [B, T, H] for right-padded `ids` [B, T] with `length` real tokens each,
        computing only the rows not seen before (zeros past each row's end)."""
        b, t = ids.shape
        attention = (torch.arange(t, device=ids.device)[None, :] < length[:, None]).long()
        if self.budget_bytes <= 0:
            return compute(ids, attention)
        lengths = length.tolist()
        keys = [self._key(ids[i, :n]) for i, n in enumerate(lengths)]
        missing = [i for i, k in enumerate(keys) if k not in self.store]
        self.hits += b - len(missing)
        self.misses += len(missing)
        fresh = compute(ids[missing], attention[missing]) if missing else None
        out = None
        for i, (key, n) in enumerate(zip(keys, lengths, strict=False)):
            if key in self.store:
                row = self.store[key].to(ids.device)
            else:
                assert fresh is not None  # a row not in the store was missing, so computed
                row = fresh[missing.index(i), :n]
                size = row.numel() * row.element_size()
                if self.used_bytes + size <= self.budget_bytes:
                    self.store[key] = row.detach().to("cpu", copy=True)
                    self.used_bytes += size
            if out is None:
                out = row.new_zeros(b, t, row.shape[-1])
            out[i, :n] = row
        assert out is not None  # batches are never empty
        return out
