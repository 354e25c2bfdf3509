"""Packing chat examples into rows of at most `capacity` tokens: several examples share a row,
each with its own positions, so a batch carries almost no padding.

Two passes. Best-fit decreasing (each example, longest first, into the fullest bin it fits)
needs about as few bins as any packing, but leaves a ragged tail of half-empty bins: padding in
a micro-batch and an idle rank in a step. The bin count is then rounded up to `multiple_of`
(empty bins) and the bins are evened out: the emptiest bin takes an example from (or swaps a
shorter one with) the fullest bin that can give without falling below it, until none can. Bins
then differ by a few percent where there are enough examples to shuffle around, so a
micro-batch padded to its longest bin is nearly all real tokens, and any bins dealt to ranks
carry about the same work (rank_imbalance in multipack.py measures it)."""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import torch
from ray.data.collate_fn import NumpyBatchCollateFn

from arctic_ray.core.errors import ArcticRayError
from arctic_ray.data.arrow_compute import pc
from arctic_ray.data.chat import IGNORE_INDEX


class PackingError(ArcticRayError):
    pass


def assign_bins(lengths: Sequence[int], capacity: int, multiple_of: int = 1) -> list[list[int]]:
    """Example indices of each bin (longest first within a bin). The number of bins is a
    multiple of `multiple_of`; with fewer examples than that, some bins stay empty."""
    for i, n in enumerate(lengths):
        if not 0 < n <= capacity:
            raise PackingError(
                f"example {i} has {n} tokens; packing needs 1..{capacity} "
                "(filter dropped examples, truncate to max_length)"
            )
    bins = best_fit_decreasing(lengths, capacity)
    bins += [[] for _ in range(-len(bins) % multiple_of)]
    return even_out(bins, lengths)


def best_fit_decreasing(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    free: list[tuple[int, int]] = []  # (room left, bin), sorted
    bins: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        k = bisect.bisect_left(free, (lengths[i], -1))
        if k == len(free):
            bins.append([])
            room, b = capacity, len(bins) - 1
        else:
            room, b = free.pop(k)
        bins[b].append(i)
        bisect.insort(free, (room - lengths[i], b))
    return bins


def even_out(bins: list[list[int]], lengths: Sequence[int]) -> list[list[int]]:
    """Raise the emptiest bin, again and again, by an exchange with the fullest bin that has one:
    an example moved over, or swapped for a shorter one, shifting d tokens where 0 < d <= half
    the gap between the two bins. Each exchange lowers the sum of squared loads, so this ends,
    when nothing can raise the emptiest bin."""
    loads = [sum(lengths[i] for i in b) for b in bins]
    emptiest = [(load, b) for b, load in enumerate(loads)]
    fullest = [(-load, b) for b, load in enumerate(loads)]
    heapq.heapify(emptiest)
    heapq.heapify(fullest)
    while True:
        while emptiest[0][0] != loads[emptiest[0][1]]:
            heapq.heappop(emptiest)  # stale entries: those bins have changed since
        taker, tried, moved, giver = emptiest[0][1], [], 0, -1  # giver: set whenever moved is
        while fullest and not moved:
            entry = heapq.heappop(fullest)
            giver = entry[1]
            if -entry[0] != loads[giver]:
                continue
            tried.append(entry)
            if loads[giver] - loads[taker] < 2:
                break  # no fuller bin left to give
            moved = _exchange(bins[giver], bins[taker], lengths, (loads[giver] - loads[taker]) // 2)
        for entry in tried:
            heapq.heappush(fullest, entry)
        if not moved:
            return bins
        loads[giver] -= moved
        loads[taker] += moved
        for b in (giver, taker):
            heapq.heappush(emptiest, (loads[b], b))
            heapq.heappush(fullest, (-loads[b], b))


def _exchange(giver: list[int], taker: list[int], lengths: Sequence[int], most: int) -> int:
    """Make the exchange that moves the most tokens, at most `most`, from giver to taker (both
    kept longest first); return how many moved (0: none possible)."""

    def size(i: int) -> int:
        return -lengths[i]

    best, best_k, best_j = 0, -1, None
    for j in [None, *range(len(taker))]:  # None: move one over, j: swap it with taker[j]
        back = 0 if j is None else lengths[taker[j]]
        k = bisect.bisect_left(giver, -(back + most), key=size)  # the longest example <= back + most
        if k < len(giver) and lengths[giver[k]] - back > best:
            best, best_k, best_j = lengths[giver[k]] - back, k, j
    if best:
        given = giver.pop(best_k)
        if best_j is not None:
            bisect.insort(giver, taker.pop(best_j), key=size)
        bisect.insort(taker, given, key=size)
    return best


TOKEN_LIST = pa.large_list(pa.int32())
"""Token columns: 64-bit offsets, so a block of long sequences never overflows a list's offsets."""
VALUE_LIST = pa.large_list(pa.float32())

BIN_SCHEMA = pa.schema(
    [
        ("input_ids", TOKEN_LIST),
        ("labels", TOKEN_LIST),
        ("position_ids", TOKEN_LIST),
        ("seq_lens", pa.list_(pa.int32())),
        ("num_examples", pa.int32()),
    ]
)


def bin_schema(float_columns: Sequence[str] = ()) -> pa.Schema:
    """BIN_SCHEMA with per-token float columns (e.g. reference log-probs) after it."""
    return pa.schema([*BIN_SCHEMA, *((column, VALUE_LIST) for column in float_columns)])


def pack_table(units: pa.Table, capacity: int, *, multiple_of: int = 1, float_columns: Sequence[str] = ()) -> pa.Table:
    """Bins (`bin_schema`) of the units of `units` (columns `input_ids`, `labels`, optional
    `seq_lens`, the per-token `float_columns`), built with Arrow and numpy over whole columns: no
    Python object per token, however long the sequences."""
    check_units(units, float_columns)
    lengths = pc.list_value_length(units.column("input_ids")).to_numpy(zero_copy_only=False)
    return bins_table(units, assign_bins(lengths.tolist(), capacity, multiple_of), float_columns)


def pack(examples: list[dict], capacity: int, *, multiple_of: int = 1, float_columns: Sequence[str] = ()) -> list[dict]:
    """`pack_table` on a list of examples (dicts): bins as dicts, e.g. for one micro-batch."""
    return pack_table(
        units_table(examples, float_columns), capacity, multiple_of=multiple_of, float_columns=float_columns
    ).to_pylist()


def make_bin(examples: list[dict], float_columns: Sequence[str] = ()) -> dict:
    """One bin of these examples, in this order."""
    return bins_table(units_table(examples, float_columns), [list(range(len(examples)))], float_columns).to_pylist()[0]


def units_table(examples: list[dict], float_columns: Sequence[str] = ()) -> pa.Table:
    columns = {
        "input_ids": pa.array([np.asarray(e["input_ids"], dtype=np.int32) for e in examples], TOKEN_LIST),
        "labels": pa.array([np.asarray(e["labels"], dtype=np.int32) for e in examples], TOKEN_LIST),
        **{c: pa.array([np.asarray(e[c], dtype=np.float32) for e in examples], VALUE_LIST) for c in float_columns},
    }
    if any(e.get("seq_lens") is not None for e in examples):
        columns["seq_lens"] = pa.array([sequence_lengths(e) for e in examples], pa.list_(pa.int32()))
    return pa.table(columns)


def sequence_lengths(example: Mapping) -> list[int]:
    """The lengths of an example's sequences: its `seq_lens`, or one sequence of all its tokens."""
    seq_lens = example.get("seq_lens")
    return [int(n) for n in seq_lens] if seq_lens is not None else [len(example["input_ids"])]


def check_units(units: pa.Table, float_columns: Sequence[str] = ()) -> None:
    """Every unit's per-token columns as long as its input_ids, its `seq_lens` adding up to them."""
    lengths = pc.list_value_length(units.column("input_ids")).to_numpy(zero_copy_only=False)
    for column in ("labels", *float_columns):
        other = pc.list_value_length(units.column(column)).to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(other != lengths)[:1]:
            raise PackingError(f"example {i} has {lengths[i]} input_ids but {other[i]} {column}")
    if "seq_lens" in units.column_names:
        sums = _per_list(units.column("seq_lens"), _flat(units.column("seq_lens"), np.int64))
        for i in np.flatnonzero(sums != lengths)[:1]:
            seq_lens = units.column("seq_lens")[int(i)].as_py()
            raise PackingError(f"example {i}'s seq_lens {seq_lens} do not add up to its {lengths[i]} tokens")


def bins_table(units: pa.Table, members_of: Sequence[Sequence[int]], float_columns: Sequence[str] = ()) -> pa.Table:
    """The bins `members_of` (unit indices of each bin) as a table: the units' tokens back to back,
    `position_ids` from 0 in each sequence, each sequence's first label IGNORE_INDEX (nothing of
    its own precedes it, and the previous sequence's last token must not learn to predict it)."""
    counts = np.array([len(m) for m in members_of], dtype=np.int64)
    order = np.fromiter((i for m in members_of for i in m), dtype=np.int64, count=int(counts.sum()))
    taken = units.select(
        ["input_ids", "labels", *float_columns, *(["seq_lens"] if "seq_lens" in units.column_names else [])]
    )
    taken = taken.take(pa.array(order))
    lengths = pc.list_value_length(taken.column("input_ids")).to_numpy(zero_copy_only=False).astype(np.int64)
    if "seq_lens" in taken.column_names:
        seq_lens = _flat(taken.column("seq_lens"), np.int64)
        seqs_per_unit = pc.list_value_length(taken.column("seq_lens")).to_numpy(zero_copy_only=False).astype(np.int64)
    else:
        seq_lens, seqs_per_unit = lengths, np.ones(len(lengths), dtype=np.int64)
    unit_offsets = _offsets(counts)  # each bin's first unit
    token_offsets = _offsets(lengths)[unit_offsets]
    seq_offsets = _offsets(seqs_per_unit)[unit_offsets]
    seq_starts = _offsets(seq_lens)[:-1]
    labels = _flat(taken.column("labels"), np.int32).copy()
    labels[seq_starts[seq_lens > 0]] = IGNORE_INDEX
    positions = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(seq_starts, seq_lens)
    tokens = pa.array(token_offsets, pa.int64())
    columns = {
        "input_ids": pa.LargeListArray.from_arrays(tokens, pa.array(_flat(taken.column("input_ids"), np.int32))),
        "labels": pa.LargeListArray.from_arrays(tokens, pa.array(labels)),
        "position_ids": pa.LargeListArray.from_arrays(tokens, pa.array(positions.astype(np.int32))),
        "seq_lens": pa.ListArray.from_arrays(pa.array(seq_offsets, pa.int32()), pa.array(seq_lens.astype(np.int32))),
        "num_examples": pa.array(counts.astype(np.int32)),
        **{
            c: pa.LargeListArray.from_arrays(tokens, pa.array(_flat(taken.column(c), np.float32)))
            for c in float_columns
        },
    }
    return pa.table(columns, schema=bin_schema(float_columns))


def _flat(column: pa.ChunkedArray | pa.Array, dtype) -> np.ndarray:
    """The values of a list column, all rows back to back (sliced rows honoured)."""
    return np.asarray(pc.list_flatten(column).to_numpy(zero_copy_only=False), dtype=dtype)


def _offsets(sizes: np.ndarray) -> np.ndarray:
    """[0, s0, s0+s1, ...]: where each of `sizes` starts, and the end."""
    return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])


def _per_list(column: pa.ChunkedArray | pa.Array, values: np.ndarray) -> np.ndarray:
    """The sum of each row's values of a list column (`values`: its flattened values)."""
    ends = _offsets(pc.list_value_length(column).to_numpy(zero_copy_only=False).astype(np.int64))
    return np.add.reduceat(np.append(values, 0), ends[:-1]) * (ends[1:] > ends[:-1])


def pad_bins(
    bins: list[dict] | Mapping[str, Sequence],
    pad_id: int,
    float_columns: Sequence[str] = (),
    sequences_per_row: int | None = None,
) -> dict[str, torch.Tensor]:
    """One micro-batch of bins as equal-length tensors [B, T], T the longest bin: input_ids
    (pad_id after the end), labels (IGNORE_INDEX), position_ids (0), segment_ids (1..n for the
    sequences of a row, 0 for padding), and each float per-token column (0.0 in padding). `bins` is
    a list of bin dicts or one dict of columns, as Ray Data hands a batch to a `collate_fn`. With
    `sequences_per_row`, each bin is first cut into rows of that many sequences (a preference pair
    a row, padded to the longest pair: the padded layout, on the same pairs as the packed one)."""
    rows = _rows(bins, float_columns)
    if sequences_per_row:
        rows = [part for row in rows for part in _cut(row, sequences_per_row, float_columns)]
    width = max([len(r["input_ids"]) for r in rows] + [1])  # an all-empty batch still has one column
    out = {
        "input_ids": np.full((len(rows), width), pad_id, dtype=np.int64),
        "labels": np.full((len(rows), width), IGNORE_INDEX, dtype=np.int64),
        "position_ids": np.zeros((len(rows), width), dtype=np.int64),
        "segment_ids": np.zeros((len(rows), width), dtype=np.int64),
        **{column: np.zeros((len(rows), width), dtype=np.float32) for column in float_columns},
    }
    for i, row in enumerate(rows):
        n = len(row["input_ids"])
        for key in ("input_ids", "labels", "position_ids", *float_columns):
            out[key][i, :n] = np.asarray(row[key])
        seq_lens = np.asarray(row["seq_lens"], dtype=np.int64)
        out["segment_ids"][i, :n] = np.repeat(np.arange(1, len(seq_lens) + 1), seq_lens)
    return {k: torch.from_numpy(v) for k, v in out.items()}


def _cut(row: Mapping, sequences: int, float_columns: Sequence[str]) -> list[dict]:
    """A bin's rows of `sequences` sequences each (the units it packed, one a row)."""
    lens = [int(n) for n in row["seq_lens"]]
    out, start = [], 0
    for i in range(0, len(lens), sequences):
        part = lens[i : i + sequences]
        end = start + sum(part)
        cut = {k: list(row[k][start:end]) for k in ("input_ids", "labels", "position_ids", *float_columns)}
        out.append({**cut, "seq_lens": part})
        start = end
    return out


def _rows(bins: list[dict] | Mapping[str, Sequence], float_columns: Sequence[str] = ()) -> list[Mapping]:
    if isinstance(bins, Mapping):
        keys = ("input_ids", "labels", "position_ids", "seq_lens", *float_columns)
        return [dict(zip(keys, values, strict=True)) for values in zip(*(bins[k] for k in keys), strict=True)]
    return list(bins)


class PadBins(NumpyBatchCollateFn):
    """Packed sequences (ragged) to tensors padded to the longest in the micro-batch."""

    def __init__(self, pad_id: int, float_columns: Sequence[str] = (), sequences_per_row: int | None = None):
        self.pad_id = pad_id
        self.float_columns = tuple(float_columns)
        self.sequences_per_row = sequences_per_row

    def __call__(self, batch: dict) -> dict[str, torch.Tensor]:
        return pad_bins(batch, self.pad_id, self.float_columns, self.sequences_per_row)
