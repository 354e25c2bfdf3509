"""Prompt rows from any source (`data/sources.py`): `id` + `messages`. Rows that cannot be used
are returned as rejects with their reason, never dropped. A conversation that ends with an
assistant turn is a prompt (the turns before it) that also carries a reference response."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from arctic_ray.data.sources import SourceError, read_source

ROLES = {"system", "user", "assistant"}

@dataclass
class PromptSet:
    rows: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)

    @property
    def with_responses(self) -> list[dict]:
        return [r for r in self.rows if r.get("response")]


def _problem(row: object) -> str | None:
    if not isinstance(row, dict):
        return f"a row must be an object, got {type(row).__name__}"
    if not isinstance(row.get("id"), (str, int)) or row.get("id") == "":
        return "missing or empty `id` (string)"
    messages = row.get("messages")
    if not isinstance(messages, list) or not messages:
        return "missing or empty `messages` list"
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            return f"messages[{i}] must be {{role: system|user|assistant, content: string}}"
    if messages[-1]["role"] == "assistant" and len(messages) == 1:
        return "only an assistant message: no prompt to answer"
    return None


def read_prompts(path: str | Path, limit: int | None = None) -> PromptSet:
    out = PromptSet()
    seen: dict[str, str] = {}
    for src in read_source(path):
        reason = _problem(src.row)
        if reason is None and str(src.row["id"]) in seen:
            reason = f"duplicate id {src.row['id']!r} (first at {seen[str(src.row['id'])]})"
        if reason:
            out.rejects.append({"stage": "read", "where": src.where, "line": src.line, "reason": reason, "row": src.raw or str(src.row)})
            continue
        row_id, messages = str(src.row["id"]), [{"role": m["role"], "content": m["content"]} for m in src.row["messages"]]
        seen[row_id] = src.where
        row = {"id": row_id, "messages": messages, "response": ""}
        if messages[-1]["role"] == "assistant":
            row = {"id": row_id, "messages": messages[:-1], "response": messages[-1]["content"]}
        out.rows.append(row)
        if limit and len(out.rows) >= limit:
            break
    if not out.rows:
        raise SourceError(f"{path}: no usable prompts ({len(out.rejects)} rejected)")
    return out
