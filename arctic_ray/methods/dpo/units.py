"""Preference pairs as packing units: a pair's chosen and rejected conversations, each tokenized
with only its final (response) turn trained, back to back in one unit (`seq_lens` = [chosen,
rejected]), so packing keeps them in one bin, one micro-batch and one rank.

Truncation: a prompt longer than `max_prompt_length` keeps its last `max_prompt_length` tokens;
then each response is cut so that prompt and response fit `max_length`. A pair with no response
token left is dropped with its reason."""

from __future__ import annotations

from functools import lru_cache, partial

import pyarrow as pa
import ray.data

from arctic_ray.data.chat import final_turn_labels
from arctic_ray.data.multipack import rows_per_block
from arctic_ray.data.packing import TOKEN_LIST

UNIT_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("input_ids", TOKEN_LIST),
        ("labels", TOKEN_LIST),
        ("seq_lens", pa.list_(pa.int32())),
        ("outcome", pa.string()),
    ]
)


def response_tokens(tokenizer, prompt: list[dict], response: list[dict], max_length: int, max_prompt_length: int):
    """(input_ids, labels, truncated) of one conversation under the truncation rule."""
    ids, labels, start = final_turn_labels(tokenizer, prompt + response)
    truncated = False
    if start > max_prompt_length:
        cut = start - max_prompt_length
        ids, labels, start, truncated = ids[cut:], labels[cut:], max_prompt_length, True
    if len(ids) > max_length:
        ids, labels, truncated = ids[:max_length], labels[:max_length], True
    return ids, labels, truncated


def pair_unit(tokenizer, pair: dict, max_length: int, max_prompt_length: int) -> dict:
    sides = [
        response_tokens(tokenizer, pair["prompt"], pair[side], max_length, max_prompt_length)
        for side in ("chosen", "rejected")
    ]
    (c_ids, c_labels, c_cut), (r_ids, r_labels, r_cut) = sides
    if len(c_ids) < 2 or len(r_ids) < 2 or all(x < 0 for x in c_labels[1:]) or all(x < 0 for x in r_labels[1:]):
        return {"id": pair["id"], "input_ids": [], "labels": [], "seq_lens": [], "outcome": "dropped_no_response_left"}
    return {
        "id": pair["id"],
        "input_ids": c_ids + r_ids,
        "labels": c_labels + r_labels,
        "seq_lens": [len(c_ids), len(r_ids)],
        "outcome": "truncated" if c_cut or r_cut else "kept",
    }


@lru_cache(maxsize=2)
def _tokenizer(model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model.files())  # once per worker process, on its node


def _units(batch: pa.Table, model, max_length: int, max_prompt_length: int) -> pa.Table:
    tok = _tokenizer(model)
    rows = [pair_unit(tok, pair, max_length, max_prompt_length) for pair in batch.to_pylist()]
    return pa.Table.from_pylist(rows, schema=UNIT_SCHEMA)


def pair_units(pairs: list[dict], model, max_length: int, max_prompt_length: int) -> ray.data.Dataset:
    """Every pair as a unit with its outcome (kept, truncated, dropped and why), materialized.
    `model`: the run's `ModelRef` (its tokenizer and chat template resolved where each task runs)."""
    ds = ray.data.from_items(pairs, override_num_blocks=max(1, min(16, len(pairs) // 256)))
    units = partial(_units, model=model, max_length=max_length, max_prompt_length=max_prompt_length)
    batch = min(256, rows_per_block(2 * max_length))  # long pairs: fewer a task
    return ds.map_batches(units, batch_format="pyarrow", batch_size=batch).materialize()
