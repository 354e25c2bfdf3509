"""Chat rows as training examples, the one reader every method that trains on chats uses (SFT,
SwiftKV distillation): each source's rows checked one at a time (a row that cannot be used goes
to rejects with its reason), a held-out share chosen by a stable hash of the row id (before any
row is repeated, so no copy leaks into eval), the rest taken by the source's weight (a hash again:
no list to sample from), synthesis rows (prompt + `completion`) read as one chat, all of it
streamed into Arrow blocks sized by bytes (`chat_blocks.py`); then each conversation tokenized as
ONE example with all its assistant turns trained (`tokenize_chat`) in a Ray Data stage, its
outcome (kept, truncated, dropped and why) counted per source and the dropped ones set aside
with the reason."""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any, TypeVar

import pyarrow as pa
import ray.data
from pydantic import Field

from arctic_ray.data.chat import Overlong, tokenize_chat
from arctic_ray.data.chat_blocks import ChatBlocks
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
    keep: Callable[[pa.Table], Any] | None = None
    """What each full block of chats goes to (`ray.put` in a job; None: kept as a table)."""
    groups: dict[str, ChatBlocks] = field(default_factory=dict)
    """Training chats (id, source, messages) by group, in recipe order."""
    eval: ChatBlocks = field(init=False)
    rejects: list[dict] = field(default_factory=list)
    counts: dict[str, Counter] = field(default_factory=dict)
    """Per source: rows, rejected, held_out, used, then each tokenizing outcome."""

    def __post_init__(self) -> None:
        self.eval = ChatBlocks(self.keep)

    def group(self, name: str) -> ChatBlocks:
        return self.groups.setdefault(name, ChatBlocks(self.keep))

    @property
    def train(self) -> ChatBlocks:
        return ChatBlocks.union(self.groups.values())


def read_chat_sources(
    sources: Sequence[Source],
    eval_fraction: float,
    seed: int = 0,
    group_of: Callable[[Source], str] | None = None,
    keep: Callable[[pa.Table], Any] | None = None,
) -> ChatRows:
    """Every source's usable chats, streamed: a held-out share, and the rest taken by weight, by
    group, in blocks handed to `keep` as they fill (no list of all chats is ever built)."""
    out, seen = ChatRows(keep), set()
    for source in sources:
        counts = out.counts.setdefault(source.label, Counter())
        counts.update(rows=0, rejected=0, held_out=0, used=0)  # every count present, 0 or not
        group = out.group(group_of(source) if group_of else "all")
        usable = 0
        for row in joined(checked_chats(source, counts, out.rejects, seen), source.join):
            usable += 1
            if held_out(row["id"], eval_fraction):
                counts["held_out"] += 1
                out.eval.add(row)
                continue
            for k in range(copies(row["id"], source.weight, seed)):
                group.add({**row, "id": sample_id(row["id"], k)})
                counts["used"] += 1
        if not usable:
            raise SourceError(f"{source.path}: no usable chats ({counts['rejected']} rejected)")
    for blocks in (*out.groups.values(), out.eval):
        blocks.close()
    return out


def copies(row_id: str, weight: float, seed: int) -> int:
    """How many times a row is trained on: floor(weight), plus one for a seeded, stable share
    (weight - floor) of the rows, chosen by a hash of the id (streaming: no list to sample from).
    The k-th copy of a row is `id#k` (`data/sample_ids.py`)."""
    whole, part = int(weight), weight - int(weight)
    return whole + (zlib.crc32(f"{seed}:{row_id}".encode()) < part * 2**32)


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


def checked_chats(source: SourceConfig, counts: Counter, rejects: list[dict], seen: set[str]) -> Iterator[dict]:
    """The usable chats of one source, one at a time (id `label/id`, source, messages); a row
    that cannot be used is appended to `rejects` with its reason and counted; `seen` holds the
    ids taken so far (across sources)."""
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
        yield {"id": row_id, "source": source.label, "messages": messages}


def joined(chats: Iterable[dict], n: int) -> Iterator[dict]:
    """Each `n` consecutive chats as one (the last one may join fewer), id `first+n`."""
    if n == 1:
        yield from chats
        return
    group: list[dict] = []
    for chat in chats:
        group.append(chat)
        if len(group) == n:
            yield _join(group)
            group = []
    if group:
        yield _join(group)


def _join(group: list[dict]) -> dict:
    messages = list(group[0]["messages"])
    for chat in group[1:]:
        messages += [m for m in chat["messages"] if m["role"] != "system"]
    return {**group[0], "id": f"{group[0]['id']}+{len(group)}", "messages": messages}


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


def tokenized(chats: ChatBlocks, model, cfg) -> ray.data.Dataset:
    """Chats as examples (input_ids, labels, outcome), materialized: read by counts, the packer
    and the rejects. `model`: the run's `ModelRef` (its tokenizer is resolved where each task
    runs); `cfg`: a data block with `max_length` and `overlong`."""
    ds = chats.dataset()
    tasks = min(16, len(chats) // 256)  # a small set in one block still spreads over the CPUs
    if ds.num_blocks() < tasks:
        ds = ds.repartition(tasks)
    tokenize = partial(_tokenize, model=model, max_length=cfg.max_length, overlong=cfg.overlong)
    batch = min(256, rows_per_block(cfg.max_length))  # long chats: fewer a task
    return ds.map_batches(tokenize, batch_format="pyarrow", batch_size=batch).materialize()


def usable(examples: ray.data.Dataset) -> ray.data.Dataset:
    return examples.filter(lambda r: not r["outcome"].startswith("dropped"))


def _outcome_counts(block: pa.Table) -> pa.Table:
    return block.group_by(["source", "outcome"]).aggregate([([], "count_all")])


def examples_of(chats: ChatBlocks, model, cfg, counts: dict[str, Counter]) -> tuple[ray.data.Dataset, list[dict]]:
    """The usable examples of `chats` and the dropped ones as rejects (`stage: tokenize`, with the
    reason); every outcome is counted per source in `counts` (the driver gathers counts and the
    dropped rows' ids, not the examples)."""
    examples = tokenized(chats, model, cfg)
    per_block = examples.select_columns(["source", "outcome"]).map_batches(
        _outcome_counts, batch_format="pyarrow", batch_size=None
    )
    for row in per_block.iter_rows():
        counts.setdefault(row["source"], Counter())[row["outcome"]] += row["count_all"]
    dropped = [
        {"stage": "tokenize", "id": r["id"], "source": r["source"], "reason": r["outcome"]}
        for r in examples.select_columns(["id", "source", "outcome"])
        .filter(lambda r: r["outcome"].startswith("dropped"))
        .iter_rows()
    ]
    return usable(examples), dropped
