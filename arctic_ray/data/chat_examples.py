"""Chat rows as training examples, shared by every method that trains on chats (SFT, SwiftKV
distillation): a held-out share chosen by a stable hash of the row id, synthesis rows (prompt +
`completion`) read as one chat, and each conversation tokenized as ONE example with all its
assistant turns trained (`tokenize_chat`) in a Ray Data stage, its outcome (kept, truncated,
dropped and why) kept beside it."""

from __future__ import annotations

import zlib
from collections import Counter
from functools import lru_cache, partial

import pyarrow as pa
import ray.data

from arctic_ray.data.chat import Overlong, tokenize_chat
from arctic_ray.data.messages import row_problem
from arctic_ray.data.sources import SourceConfig, SourceError, read_source


def held_out(row_id: str, fraction: float) -> bool:
    return zlib.crc32(row_id.encode()) % 100_000 < fraction * 100_000


def with_completion(row: dict) -> dict:
    """A synthesis row (prompt `messages` + `completion`, e.g. the synth job's `curated/`) as one chat."""
    messages, completion = row.get("messages"), row.get("completion")
    if (
        isinstance(messages, list)
        and messages
        and isinstance(completion, str)
        and isinstance(messages[-1], dict)
        and messages[-1].get("role") != "assistant"
    ):
        return {**row, "messages": [*messages, {"role": "assistant", "content": completion}]}
    return row


def checked_chats(source: SourceConfig, counts: Counter, rejects: list[dict], seen: set[str]) -> list[dict]:
    """The usable chats of one source as rows (id `label/id`, source, messages); a row that
    cannot be used is appended to `rejects` with its reason and counted; `seen` holds the ids
    taken so far (across sources)."""
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
            rejects.append(
                {
                    "stage": "read",
                    "source": source.label,
                    "where": src.where,
                    "reason": reason,
                    "row": src.raw or str(row),
                }
            )
            continue
        row_id = f"{source.label}/{row['id']}"
        seen.add(row_id)
        messages = [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
        usable.append({"id": row_id, "source": source.label, "messages": messages})
    return usable


def split_source(
    source: SourceConfig, counts: Counter, rejects: list[dict], seen: set[str], eval_fraction: float
) -> tuple[list[dict], list[dict]]:
    """A source's usable chats as (train, held out), by the stable hash of their ids; a source
    with none stops the run naming it."""
    usable = checked_chats(source, counts, rejects, seen)
    if not usable:
        raise SourceError(f"{source.path}: no usable chats ({counts['rejected']} rejected)")
    train = [r for r in usable if not held_out(r["id"], eval_fraction)]
    counts.update(held_out=len(usable) - len(train))
    return train, [r for r in usable if held_out(r["id"], eval_fraction)]


@lru_cache(maxsize=2)
def _tokenizer(model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model.files())  # once per worker process, on its node


def _tokenize(batch: pa.Table, model, max_length: int, overlong: Overlong) -> pa.Table:
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


def tokenized(rows: list[dict], model, cfg) -> ray.data.Dataset:
    """Rows as examples (input_ids, labels, targets, outcome), materialized: read by counts, the
    packer and the rejects. `model`: the run's `ModelRef` (its tokenizer is resolved where each
    task runs); `cfg`: a data block with `max_length` and `overlong`."""
    ds = ray.data.from_items(rows, override_num_blocks=max(1, min(16, len(rows) // 256)))
    tokenize = partial(_tokenize, model=model, max_length=cfg.max_length, overlong=cfg.overlong)
    return ds.map_batches(tokenize, batch_format="pyarrow", batch_size=256).materialize()


def usable(examples: ray.data.Dataset) -> ray.data.Dataset:
    return examples.filter(lambda r: not r["outcome"].startswith("dropped"))
