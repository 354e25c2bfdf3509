"""From rows to judge requests and from verdicts back to rows. Each judgeable row gives one
request per tag (the LLM judge: `score`; the pairwise judge: both orders), keyed by the row's id
as text; a row missing what the judge reads gives none and is rejected with `unusable_reason`.
The verdicts of a row's tags meet again in one row (a shuffle on the key), ready to join."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import ray.data

from arctic_ray.curate.dedup.near import gather

BROADCAST_ROWS = 200_000
"""Verdict tables up to this many rows go to every task whole; larger ones are joined by shuffle."""


def unusable_reason(row: dict, fields: list[str]) -> str:
    """Why a row cannot be judged ("" when it can): a missing or empty field, or non-text content."""
    for name in fields:
        value = row.get(name)
        if isinstance(value, str):
            if not value.strip():
                return f"nothing to judge: {name!r} is empty"
        elif value is None or len(value) == 0:
            return f"nothing to judge: {name!r} is missing or empty"
        elif any(not isinstance(m, dict) or not isinstance(m.get("content"), str) for m in value):
            return f"nothing to judge: {name!r} is neither text nor messages with text content"
    return ""


def judge_requests(
    ds: ray.data.Dataset, prompts: dict[str, Callable[[dict], list[dict]]], fields: list[str]
) -> ray.data.Dataset:
    """Rows of (judge_key, tag, messages): one per tag for every row that can be judged."""

    def requests(batch: pa.Table) -> pa.Table:
        out = []
        for row in batch.to_pylist():
            if not unusable_reason(row, fields):
                out += [
                    {"judge_key": str(row["id"]), "tag": tag, "messages": prompt(row)}
                    for tag, prompt in prompts.items()
                ]
        schema = pa.schema(
            [
                ("judge_key", pa.string()),
                ("tag", pa.string()),
                ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
            ]
        )
        return pa.Table.from_pylist(out, schema=schema)

    return ds.map_batches(requests, batch_format="pyarrow")


def verdicts_by_row(verdicts: ray.data.Dataset, tags: list[str]) -> pa.Table | ray.data.Dataset:
    """One row per judged row: `id`, and `_<tag>_verdict`, `_<tag>_reason`, `_<tag>_raw` per tag."""

    schema = pa.schema(
        [("id", pa.string())] + [(f"_{t}_{n}", pa.string()) for t in tags for n in ("verdict", "reason", "raw")]
    )

    def pivot(rows: pa.Table) -> pa.Table:
        by_key: dict[str, dict] = {}
        for r in rows.to_pylist():
            entry = by_key.setdefault(r["judge_key"], {"id": r["judge_key"]})
            entry.update(
                {f"_{r['tag']}_verdict": r["verdict"], f"_{r['tag']}_reason": r["reason"], f"_{r['tag']}_raw": r["raw"]}
            )
        return pa.Table.from_pylist(list(by_key.values()), schema=schema)

    table = verdicts.groupby("judge_key").map_groups(pivot, batch_format="pyarrow").materialize()
    count = table.count()
    if count == 0:
        return schema.empty_table()
    return gather(table) if count <= BROADCAST_ROWS else table
