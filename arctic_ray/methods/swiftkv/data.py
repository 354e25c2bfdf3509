"""The distillation data: chat sources read and checked as SFT reads them (rejects with their
reasons), a held-out share by a stable hash of the id, each chat tokenized with assistant-only
targets, and multipacked into sequences in whole optimizer steps per rank (or one chat per
sequence with `data.pack: false`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import ray.data

from arctic_ray.data.chat_examples import split_source, tokenized, usable
from arctic_ray.data.multipack import BIN_SCHEMA, multipack
from arctic_ray.data.packing import make_bin
from arctic_ray.methods.swiftkv.config import SwiftKVDataConfig


@dataclass
class ChatSplit:
    train: list[dict] = field(default_factory=list)
    eval: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    counts: dict[str, Counter] = field(default_factory=dict)


def read_chats(cfg: SwiftKVDataConfig) -> ChatSplit:
    out, seen = ChatSplit(), set()
    for source in cfg.sources:
        counts = out.counts.setdefault(source.label, Counter())
        train, held = split_source(source, counts, out.rejects, seen, cfg.eval_fraction)
        out.train += train
        out.eval += held
        counts.update(used=len(train))
    return out


def _one_per_bin(block: pa.Table) -> pa.Table:
    return pa.Table.from_pylist(
        [make_bin([e]) for e in block.select(["input_ids", "labels"]).to_pylist()], schema=BIN_SCHEMA
    )


def packed_examples(
    rows: list[dict], model, cfg: SwiftKVDataConfig, num_ranks: int, rows_per_rank_step: int
) -> tuple[ray.data.Dataset, list[dict]]:
    """Packed sequences of `rows` (materialized) and the examples dropped, with their reasons."""
    examples = tokenized(rows, model, cfg)
    dropped = [
        {"stage": "tokenize", "id": r["id"], "source": r["source"], "reason": r["outcome"]}
        for r in examples.select_columns(["id", "source", "outcome"]).iter_rows()
        if r["outcome"].startswith("dropped")
    ]
    kept = usable(examples)
    if cfg.pack:
        return multipack(kept, cfg.max_length, num_ranks, rows_per_rank_step).materialize(), dropped
    return kept.map_batches(_one_per_bin, batch_format="pyarrow").materialize(), dropped
