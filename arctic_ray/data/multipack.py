"""Multipack as a Ray Data stage: tokenized examples in, packed bins out, dealt so that no rank
idles while another finishes its step.

Each block of `batch_rows` examples is packed on its own (a stream-friendly map, no global
sort) into a multiple of `num_ranks * micro_batch_size` balanced bins (see packing.py): every
bin holds about the same number of tokens, so whatever bins a rank reads for a step, however
the Dataset is split (`split(n, equal=True)`, a streaming split, a local shuffle), each rank has
the same number of bins per step and about the same tokens. The count being a multiple also
means an equal split drops no bin. The last block may leave some bins empty (all padding)
rather than give one rank a step fewer."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import pyarrow as pa
import ray

from arctic_ray.data.packing import bin_schema, bins_table, pack_table

BLOCK_TOKENS = 1 << 24
"""About how many tokens one packing task takes at once (a block of long sequences has few rows)."""


def rows_per_block(capacity: int) -> int:
    """Units a packing task packs together: up to 4096 (more barely packs better), fewer as the
    sequences grow, so a task's block stays about BLOCK_TOKENS tokens."""
    return max(16, min(4096, BLOCK_TOKENS // capacity))


def multipack(
    ds: ray.data.Dataset,
    capacity: int,
    num_ranks: int,
    micro_batch_size: int,
    batch_rows: int = 4096,
    float_columns: Sequence[str] = (),
    multi_sequence: bool = False,
) -> ray.data.Dataset:
    """Bins (`bin_schema`) of the examples of `ds` (rows with `input_ids` and `labels`, with
    `seq_lens` when `multi_sequence` (a unit of several sequences), and per-token `float_columns`;
    other columns are left behind). Pass micro_batch_size * gradient_accumulation_steps as `micro_batch_size` to
    keep whole optimizer steps equal too."""
    pack_block = partial(
        _pack_block, capacity=capacity, multiple_of=num_ranks * micro_batch_size, float_columns=tuple(float_columns)
    )
    return ds.select_columns(_unit_columns(multi_sequence, float_columns)).map_batches(
        pack_block,
        batch_size=batch_rows,
        batch_format="pyarrow",
        zero_copy_batch=True,
    )


def _unit_columns(multi_sequence: bool, float_columns: Sequence[str]) -> list[str]:
    return ["input_ids", "labels", *(["seq_lens"] if multi_sequence else []), *float_columns]


def _pack_block(block: pa.Table, capacity: int, multiple_of: int, float_columns: tuple[str, ...]) -> pa.Table:
    if block.num_rows == 0:
        return bin_schema(float_columns).empty_table()
    return pack_table(block, capacity, multiple_of=multiple_of, float_columns=float_columns)


def _tokens(bins: Sequence[dict]) -> list[int]:
    return [len(b["input_ids"]) for b in bins]


def packing_efficiency(bins: Sequence[dict], capacity: int) -> float:
    """Real tokens / (bins x capacity): the share of a fixed [capacity]-wide row that is not
    padding. Padding each micro-batch only to its longest bin wastes less than this counts."""
    return sum(_tokens(bins)) / max(1, len(bins) * capacity)


def rank_imbalance(bins: Sequence[dict], num_ranks: int, micro_batch_size: int) -> float:
    """The worst step's imbalance, max over steps of (the most real tokens any rank gets in the
    step / the mean over ranks - 1), for bins in dataset order split as `Dataset.split(num_ranks,
    equal=True)` does (contiguous equal shards, a remainder dropped), each rank reading
    `micro_batch_size` bins per step (a partial last step dropped, as the trainer does).
    0 means every rank does the same work in every step."""
    tokens = _tokens(bins)
    per_rank = len(tokens) // num_ranks
    shards = [tokens[r * per_rank : (r + 1) * per_rank] for r in range(num_ranks)]
    worst = 0.0
    for s in range(per_rank // micro_batch_size):
        loads = [sum(shard[s * micro_batch_size : (s + 1) * micro_batch_size]) for shard in shards]
        mean = sum(loads) / num_ranks
        if mean:
            worst = max(worst, max(loads) / mean - 1)
    return worst


def one_per_bin(
    examples: ray.data.Dataset, float_columns: Sequence[str] = (), multi_sequence: bool = False
) -> ray.data.Dataset:
    """One example (unit) per bin: for a recipe that packs nothing (padded per micro-batch)."""
    one = partial(_one_per_bin, float_columns=tuple(float_columns))
    columns = _unit_columns(multi_sequence, float_columns)
    return examples.select_columns(columns).map_batches(one, batch_format="pyarrow")


def _one_per_bin(block: pa.Table, float_columns: tuple[str, ...]) -> pa.Table:
    return bins_table(block, [[i] for i in range(block.num_rows)], float_columns)


def bins_of(
    examples: ray.data.Dataset,
    pack: bool,
    capacity: int,
    num_ranks: int,
    rows_per_rank_step: int,
    float_columns: Sequence[str] = (),
    multi_sequence: bool = False,
) -> ray.data.Dataset:
    """Training sequences of `examples`, materialized: multipacked in whole optimizer steps per
    rank (`rows_per_rank_step`: micro_batch_size x gradient_accumulation_steps), or one example
    per sequence when `pack` is off."""
    if not pack:
        return one_per_bin(examples, float_columns, multi_sequence).materialize()
    bins = multipack(
        examples, capacity, num_ranks, rows_per_rank_step, rows_per_block(capacity), float_columns, multi_sequence
    )
    return bins.materialize()
