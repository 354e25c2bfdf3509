"""The reference's log-probabilities, computed once as a Ray Data stage: an actor pool of the
frozen reference (on a GPU where the cluster has one) runs each pair's chosen and rejected
sequences through the same packed forward the trainer uses, and writes their per-token log-probs
beside the tokens (`ref_logps`, aligned with `input_ids`, 0 where nothing is trained). The result
is stored under a key of everything it depends on (the reference's identity, the pairs, the
tokenizer and chat template, the length limits, the dtype), so a rerun, or another DPO run on the
same pairs, reads it instead of computing it again; and the training workers hold one model."""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa
import ray.data
import torch

from arctic_ray.core.storage import Location
from arctic_ray.data.packing import VALUE_LIST, make_bin, pad_bins
from arctic_ray.models.causal_lm import load_causal_lm, train_dtype
from arctic_ray.models.ref import ModelRef
from arctic_ray.train.packed import packed_target_logps

REF_COLUMN = "ref_logps"
DONE = "DONE"
"""Written beside `units/` last: a stored result without it is a crashed run's, computed again."""


def reference_key(reference: ModelRef, policy: ModelRef, pairs: list[dict], settings: dict) -> str:
    """The key of a precomputed result: what the log-probs depend on, hashed."""
    from transformers import AutoTokenizer

    template = AutoTokenizer.from_pretrained(policy.files()).chat_template or ""
    h = hashlib.sha256()
    for part in (
        reference.key,
        policy.identity.get("tokenizer_sha256", policy.key),
        hashlib.sha256(str(template).encode()).hexdigest(),
        json.dumps(settings, sort_keys=True),
    ):
        h.update(part.encode() + b"\0")
    for pair in pairs:  # the pairs' digest, in order
        h.update(json.dumps(pair, sort_keys=True).encode() + b"\0")
    return h.hexdigest()[:32]


class ReferenceLogps:
    """One actor of the stage: the frozen reference, loaded once on its node."""

    def __init__(self, reference: ModelRef, attn_implementation: str, pad_id: int, use_gpu: bool):
        device = torch.device("cuda" if use_gpu else "cpu")
        self.model = load_causal_lm(reference, device, attn_implementation, train_dtype(use_gpu)).eval()
        self.pad_id, self.device = pad_id, device

    def __call__(self, units: pa.Table) -> pa.Table:
        rows = units.to_pylist()
        batch = pad_bins([make_bin([row]) for row in rows], self.pad_id)  # one unit per row
        with torch.no_grad():
            logps = packed_target_logps(self.model, {k: v.to(self.device) for k, v in batch.items()})
        dense = logps.token_logps.float().cpu()
        column = [dense[i, : len(row["input_ids"])].tolist() for i, row in enumerate(rows)]
        return units.append_column(REF_COLUMN, pa.array(column, VALUE_LIST))


def with_reference_logps(
    units: ray.data.Dataset,
    where: Location,
    reference: ModelRef,
    attn_implementation: str,
    pad_id: int,
    actors: tuple[int, int],
    gpus_per_actor: float,
    batch_size: int = 8,
) -> tuple[ray.data.Dataset, bool]:
    """`units` with their `ref_logps`, from the store at `where` when it holds them (then True),
    else computed by the actor pool and stored there."""
    data = where.join("units")
    if where.join(DONE).exists():
        return ray.data.read_parquet(data.path, filesystem=data.fs), True
    scored = units.map_batches(
        ReferenceLogps,
        fn_constructor_kwargs={
            "reference": reference,
            "attn_implementation": attn_implementation,
            "pad_id": pad_id,
            "use_gpu": gpus_per_actor > 0,
        },
        concurrency=actors,
        batch_size=batch_size,
        batch_format="pyarrow",
        num_gpus=gpus_per_actor,
    )
    data.emptied()  # a crashed run's partial files
    scored.write_parquet(data.path, filesystem=data.fs)
    where.join(DONE).write_text("")
    return ray.data.read_parquet(data.path, filesystem=data.fs), False
