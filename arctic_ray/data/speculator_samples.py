"""Generations -> fixed-length token rows for speculator training.

The token ids are vLLM's own (prompt after chat templating, then the completion), so training
sees exactly the path the base model took. Rows too short to teach anything are tagged with a
reason instead of being dropped."""

from __future__ import annotations

import numpy as np
import ray.data


def _sample(row: dict, seq_len: int, n_predict: int, pad_id: int) -> dict:
    prompt = list(row["prompt_token_ids"])
    completion = list(row["completion_token_ids"])
    ids = (prompt + completion)[:seq_len]
    # Head i at position t guesses token t+2+i: a completion token must sit at least
    # n_predict + 1 places after the first position for any head to be trained.
    usable = len(ids) - max(len(prompt), 1)
    reason = ""
    if not completion:
        reason = "empty completion"
    elif len(prompt) >= seq_len:
        reason = f"prompt ({len(prompt)} tokens) does not fit seq_len {seq_len}"
    elif usable < n_predict + 1:
        reason = f"only {usable} completion tokens fit; need {n_predict + 1}"
    padded = np.full(seq_len, pad_id, dtype=np.int64)
    padded[: len(ids)] = ids
    return {
        "id": row["id"],
        "input_ids": padded,
        "completion_start": len(prompt),
        "length": len(ids),
        "reject_reason": reason,
    }


def to_speculator_samples(ds: ray.data.Dataset, seq_len: int, n_predict: int, pad_id: int) -> tuple[ray.data.Dataset, ray.data.Dataset]:
    """Returns (samples, rejects); rejects carry `id` and `reject_reason`."""
    tagged = ds.map(lambda row: _sample(row, seq_len, n_predict, pad_id)).materialize()
    samples = tagged.filter(lambda r: not r["reject_reason"]).drop_columns(["reject_reason"])
    rejects = tagged.filter(lambda r: bool(r["reject_reason"])).select_columns(["id", "reject_reason"])
    return samples, rejects


def attention_mask(length, seq_len: int):
    """[B, T] long: 1 on the real tokens of each right-padded row."""
    import torch

    return (torch.arange(seq_len, device=length.device)[None, :] < length[:, None]).long()


def completion_mask(completion_start, length, seq_len: int):
    """[B, T] bool: True where the token is part of the completion (torch tensors in, out)."""
    import torch

    pos = torch.arange(seq_len, device=completion_start.device)[None, :]
    return (pos >= completion_start[:, None]) & (pos < length[:, None])
