"""SFT examples from chat sources: each source read with `data/sources.py`, its rows checked
(a row that cannot be used goes to rejects with its reason), a held-out share set aside by a
stable hash of the id (before any row is repeated, so no copy leaks into eval), the rest taken
by the source's weight, and every conversation tokenized as ONE example with all its assistant
turns trained (`tokenize_chat`) in a Ray Data stage. Examples dropped (too long, nothing to
train) are counted per source and kept as rejects with the reason."""

from __future__ import annotations

import random
import zlib
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import pyarrow as pa
import ray.data

from arctic_ray.data.chat import tokenize_chat
from arctic_ray.data.messages import row_problem
from arctic_ray.data.sources import SourceError, read_source
from arctic_ray.models.ref import ModelRef
from arctic_ray.methods.sft.config import SFTDataConfig, SFTSource


@dataclass
class SFTRows:
    groups: dict[str, list[dict]] = field(default_factory=dict)
    """Training rows (id, source, messages) by phase group, in recipe order."""
    eval: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    counts: dict[str, Counter] = field(default_factory=dict)


def held_out(row_id: str, fraction: float) -> bool:
    return zlib.crc32(row_id.encode()) % 100_000 < fraction * 100_000


def weighted(rows: list[dict], weight: float, seed: int) -> list[dict]:
    """Each row floor(weight) times, plus a seeded share (weight - floor) of the rows once more;
    a repeated row gets its own id."""
    whole, part = int(weight), weight - int(weight)
    out = [{**r, "id": r["id"] if k == 0 else f"{r['id']}#{k}"} for k in range(whole) for r in rows]
    extra = random.Random(seed).sample(rows, round(part * len(rows)))
    return out + [{**r, "id": f"{r['id']}#{whole}" if whole else r["id"]} for r in extra]


def read_sft_rows(cfg: SFTDataConfig) -> SFTRows:
    out = SFTRows()
    seen: set[str] = set()
    for source in cfg.sources:
        counts = out.counts.setdefault(source.label, Counter())
        usable = []
        for i, src in enumerate(read_source(source.path, source.split)):
            row = src.row
            if isinstance(row, dict):
                row = with_completion({**row, "id": row.get("id", f"{source.label}:{i}")})
            reason = row_problem(row)
            if reason is None and not any(m["role"] == "assistant" for m in row["messages"]):
                reason = "no assistant turn to train on"
            if reason is None and f"{source.label}/{row['id']}" in seen:
                reason = f"duplicate id {row['id']!r}"
            counts["rows"] += 1
            if reason:
                counts["rejected"] += 1
                out.rejects.append({"stage": "read", "source": source.label, "where": src.where, "reason": reason, "row": src.raw or str(row)})
                continue
            row_id = f"{source.label}/{row['id']}"
            seen.add(row_id)
            messages = [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
            usable.append({"id": row_id, "source": source.label, "messages": messages})
        if not usable:
            raise SourceError(f"{source.path}: no usable chats ({counts['rejected']} rejected)")
        train = [r for r in usable if not held_out(r["id"], cfg.eval_fraction)]
        out.eval += [r for r in usable if held_out(r["id"], cfg.eval_fraction)]
        taken = weighted(train, source.weight, cfg.seed)
        counts.update(held_out=len(usable) - len(train), used=len(taken))
        out.groups.setdefault(group_of(source), []).extend(taken)
    return out


def with_completion(row: dict) -> dict:
    """A synthesis row (prompt `messages` + `completion`, e.g. the synth job's `curated/`) as one chat."""
    messages, completion = row.get("messages"), row.get("completion")
    if isinstance(messages, list) and messages and isinstance(completion, str) and isinstance(messages[-1], dict) and messages[-1].get("role") != "assistant":
        return {**row, "messages": [*messages, {"role": "assistant", "content": completion}]}
    return row


def group_of(source: SFTSource) -> str:
    return source.group or source.label


@lru_cache(maxsize=2)
def _tokenizer(model: ModelRef):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model.files())  # once per worker process, on its node


def _tokenize(batch: pa.Table, model: ModelRef, max_length: int, overlong: str) -> pa.Table:
    tok = _tokenizer(model)
    rows = []
    for row in batch.to_pylist():
        example = tokenize_chat(tok, row["messages"], max_length, overlong)
        rows.append(
            {
                "id": row["id"],
                "source": row["source"],
                "input_ids": example.input_ids,
                "labels": example.labels,
                "outcome": example.outcome,
            }
        )
    return pa.Table.from_pylist(rows, schema=EXAMPLE_SCHEMA)


EXAMPLE_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("input_ids", pa.list_(pa.int32())),
        ("labels", pa.list_(pa.int32())),
        ("outcome", pa.string()),
    ]
)


def tokenized(rows: list[dict], model: ModelRef, cfg: SFTDataConfig) -> ray.data.Dataset:
    """Rows as examples (input_ids, labels, targets, outcome), materialized: read by counts, the
    packer and the rejects."""
    ds = ray.data.from_items(rows, override_num_blocks=max(1, min(16, len(rows) // 256)))
    return ds.map_batches(_tokenize, fn_args=(model, cfg.max_length, cfg.overlong), batch_format="pyarrow", batch_size=256).materialize()


def usable(examples: ray.data.Dataset) -> ray.data.Dataset:
    return examples.filter(lambda r: not r["outcome"].startswith("dropped"))
