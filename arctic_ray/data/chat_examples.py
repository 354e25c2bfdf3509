"""Chat rows as training examples, the one reader every method that trains on chats uses (SFT,
SwiftKV distillation): each source's rows checked (a row that cannot be used goes to rejects with
its reason), a held-out share chosen by a stable hash of the row id (before any row is repeated,
so no copy leaks into eval), the rest taken by the source's weight, synthesis rows (prompt +
`completion`) read as one chat, and each conversation tokenized as ONE example with all its
assistant turns trained (`tokenize_chat`) in a Ray Data stage, its outcome (kept, truncated,
dropped and why) counted per source and the dropped ones set aside with the reason."""

from __future__ import annotations

import random
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import TypeVar

import pyarrow as pa
import ray.data
from pydantic import Field

from arctic_ray.data.chat import Overlong, tokenize_chat
from arctic_ray.data.messages import row_problem
from arctic_ray.data.multipack import rows_per_block
from arctic_ray.data.packing import TOKEN_LIST
from arctic_ray.data.sample_ids import sample_id
from arctic_ray.data.sources import SourceConfig, SourceError, read_source


class ChatSource(SourceConfig):
    """Chat rows (`messages`, optional `id`; or prompt `messages` + `completion`)."""

    weight: float = Field(default=1.0, gt=0)
    """Share of the source used: 0.5 takes half of its rows, 2 takes each row twice."""

    join: int = Field(default=1, ge=1)
    """Concatenate each `join` consecutive usable chats into one conversation (turns in order,
    system turns after the first chat's left out): long examples from short chats."""


Source = TypeVar("Source", bound=ChatSource)


@dataclass
class ChatRows:
    groups: dict[str, list[dict]] = field(default_factory=dict)
    """Training rows (id, source, messages) by group, in recipe order."""
    eval: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    counts: dict[str, Counter] = field(default_factory=dict)
    """Per source: rows, rejected, held_out, used, then each tokenizing outcome."""

    @property
    def train(self) -> list[dict]:
        return [r for rows in self.groups.values() for r in rows]


def read_chat_sources(
    sources: Sequence[Source],
    eval_fraction: float,
    seed: int = 0,
    group_of: Callable[[Source], str] | None = None,
) -> ChatRows:
    """Every source's usable chats: a held-out share, and the rest taken by weight, by group."""
    out, seen = ChatRows(), set()
    for source in sources:
        counts = out.counts.setdefault(source.label, Counter())
        train, held = split_source(source, counts, out.rejects, seen, eval_fraction)
        out.eval += held
        taken = weighted(train, source.weight, seed)
        counts.update(used=len(taken))
        out.groups.setdefault(group_of(source) if group_of else "all", []).extend(taken)
    return out


def weighted(rows: list[dict], weight: float, seed: int) -> list[dict]:
    """Each row floor(weight) times, plus a seeded share (weight - floor) of the rows once more;
    the k-th copy of a row is `id#k` (`data/sample_ids.py`)."""
    whole, part = int(weight), weight - int(weight)
    out = [{**r, "id": sample_id(r["id"], k)} for k in range(whole) for r in rows]
    extra = random.Random(seed).sample(rows, round(part * len(rows)))
    return out + [{**r, "id": sample_id(r["id"], whole)} for r in extra]


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
    source: ChatSource, counts: Counter, rejects: list[dict], seen: set[str], eval_fraction: float
) -> tuple[list[dict], list[dict]]:
    """A source's usable chats as (train, held out), by the stable hash of their ids; a source
    with none stops the run naming it."""
    usable = joined(checked_chats(source, counts, rejects, seen), source.join)
    if not usable:
        raise SourceError(f"{source.path}: no usable chats ({counts['rejected']} rejected)")
    train = [r for r in usable if not held_out(r["id"], eval_fraction)]
    counts.update(held_out=len(usable) - len(train))
    return train, [r for r in usable if held_out(r["id"], eval_fraction)]


def joined(chats: list[dict], n: int) -> list[dict]:
    """Each `n` consecutive chats as one (the last one may join fewer), id `first+n`."""
    if n == 1:
        return chats
    out = []
    for start in range(0, len(chats), n):
        group = chats[start : start + n]
        messages = list(group[0]["messages"])
        for chat in group[1:]:
            messages += [m for m in chat["messages"] if m["role"] != "system"]
        out.append({**group[0], "id": f"{group[0]['id']}+{len(group)}", "messages": messages})
    return out


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
        ("input_ids", TOKEN_LIST),
        ("labels", TOKEN_LIST),
        ("outcome", pa.string()),
    ]
)


def tokenized(rows: list[dict], model, cfg) -> ray.data.Dataset:
    """Rows as examples (input_ids, labels, targets, outcome), materialized: read by counts, the
    packer and the rejects. `model`: the run's `ModelRef` (its tokenizer is resolved where each
    task runs); `cfg`: a data block with `max_length` and `overlong`."""
    ds = ray.data.from_items(rows, override_num_blocks=max(1, min(16, len(rows) // 256)))
    tokenize = partial(_tokenize, model=model, max_length=cfg.max_length, overlong=cfg.overlong)
    batch = min(256, rows_per_block(cfg.max_length))  # long chats: fewer a task
    return ds.map_batches(tokenize, batch_format="pyarrow", batch_size=batch).materialize()


def usable(examples: ray.data.Dataset) -> ray.data.Dataset:
    return examples.filter(lambda r: not r["outcome"].startswith("dropped"))


def examples_of(rows: list[dict], model, cfg, counts: dict[str, Counter]) -> tuple[ray.data.Dataset, list[dict]]:
    """The usable examples of `rows` and the dropped ones as rejects (`stage: tokenize`, with the
    reason); every outcome is counted per source in `counts`."""
    examples, dropped = tokenized(rows, model, cfg), []
    for row in examples.select_columns(["id", "source", "outcome"]).iter_rows():  # one pass: counts and rejects
        counts.setdefault(row["source"], Counter())[row["outcome"]] += 1
        if row["outcome"].startswith("dropped"):
            dropped.append({"stage": "tokenize", "id": row["id"], "source": row["source"], "reason": row["outcome"]})
    return usable(examples), dropped
