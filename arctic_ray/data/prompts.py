"""Read a prompt set (JSONL: `id` + `messages`). Broken JSON stops the run and names the line;
rows that parse but cannot be used are returned as rejects with their reason, never dropped."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

ROLES = {"system", "user", "assistant"}


class PromptFileError(ValueError):
    pass


@dataclass
class PromptSet:
    rows: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)


def _problem(row: object) -> str | None:
    if not isinstance(row, dict):
        return f"a row must be a JSON object, got {type(row).__name__}"
    if not isinstance(row.get("id"), (str, int)) or row.get("id") == "":
        return "missing or empty `id` (string)"
    messages = row.get("messages")
    if not isinstance(messages, list) or not messages:
        return "missing or empty `messages` list"
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            return f"messages[{i}] must be {{role: system|user|assistant, content: string}}"
    if messages[-1]["role"] == "assistant":
        return "the last message is the assistant's: nothing left to generate"
    return None


def read_prompts(path: str | Path, limit: int | None = None) -> PromptSet:
    path = Path(path)
    if not path.is_file():
        raise PromptFileError(f"prompt file not found: {path}")
    out = PromptSet()
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise PromptFileError(f"{path}:{lineno}: not valid JSON ({err.msg}, column {err.colno})") from None
            reason = _problem(row)
            if reason is None and str(row["id"]) in seen:
                reason = f"duplicate id {row['id']!r} (first on line {seen[str(row['id'])]})"
            if reason:
                out.rejects.append({"stage": "read", "line": lineno, "reason": reason, "row": line.rstrip("\n")})
                continue
            seen[str(row["id"])] = lineno
            out.rows.append({"id": str(row["id"]), "messages": row["messages"]})
            if limit and len(out.rows) >= limit:
                break
    if not out.rows:
        raise PromptFileError(f"{path}: no usable prompts ({len(out.rejects)} rejected)")
    return out
