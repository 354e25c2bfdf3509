"""What the main job asks its engines for: the held-out eval prompts chosen before anything is
generated, and generation requests carrying each prompt's token budget and sample index."""

from __future__ import annotations

import zlib

from arctic_ray.data.sample_ids import sample_id


def prompt_text(row: dict) -> str:
    return "\n".join(m["content"] for m in row["messages"])


def split_eval_prompts(rows: list[dict], n: int) -> tuple[list[dict], list[dict]]:
    """The n prompts with the smallest stable hash of their id are held out, before anything is
    generated: the same ones every run, whatever the order of the file."""
    held = {r["id"] for r in sorted(rows, key=lambda r: zlib.crc32(r["id"].encode()))[:n]}
    return [r for r in rows if r["id"] in held], [r for r in rows if r["id"] not in held]


def generation_requests(rows: list[dict], sampling: dict, repeat: int = 0) -> list[dict]:
    """Rows for a synthesis backend: each prompt's own token budget, and its sample index."""
    return [
        {
            "id": sample_id(r["id"], repeat),
            "messages": r["messages"],
            "sample": repeat,
            "sampling": {**sampling, "max_tokens": r["max_tokens"], "seed": (sampling.get("seed") or 0) + repeat},
            "prompt_token_ids": r["prompt_token_ids"],
            "max_tokens": r["max_tokens"],
        }
        for r in rows
    ]
