"""Prompt rows from any source (`data/sources.py`) in any chat layout (`data/chat_formats.py`:
this project's `id` + `messages`, UltraChat's, ShareGPT's). Rows that cannot be used
are returned as rejects with their reason, never dropped. A conversation that ends with an
assistant turn is a prompt (the turns before it) that also carries a reference response."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from arctic_ray.data.chat_formats import to_chat
from arctic_ray.data.sources import SourceConfig, SourceError, read_source


@dataclass
class PromptSet:
    rows: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)

    @property
    def with_responses(self) -> list[dict]:
        return [r for r in self.rows if r.get("response")]


def _rows(sources: Sequence[str | Path | SourceConfig]):
    for source in sources:
        yield from read_source(source.path, source.split) if isinstance(source, SourceConfig) else read_source(source)


def read_prompts(sources: str | Path | Sequence[str | Path | SourceConfig], limit: int | None = None) -> PromptSet:
    """Prompt rows of one source or of several in order (ids unique across them)."""
    sources = [sources] if isinstance(sources, (str, Path)) else list(sources)
    out = PromptSet()
    seen: dict[str, str] = {}
    for index, src in enumerate(_rows(sources)):
        chat, reason = to_chat(src.row, index)
        if chat is not None and chat["id"] in seen:
            reason = f"duplicate id {chat['id']!r} (first at {seen[chat['id']]})"
        if chat is None or reason:
            out.rejects.append(
                {
                    "stage": "read",
                    "where": src.where,
                    "line": src.line,
                    "reason": reason,
                    "row": src.raw or str(src.row),
                }
            )
            continue
        row_id, messages = chat["id"], chat["messages"]
        seen[row_id] = src.where
        response = ""
        if messages[-1]["role"] == "assistant":
            messages, response = messages[:-1], messages[-1]["content"]
        row = {"id": row_id, "messages": messages, "response": response}
        if chat.get("sampling"):
            row["sampling"] = chat["sampling"]
        out.rows.append(row)
        if limit and len(out.rows) >= limit:
            break
    if not out.rows:
        where = ", ".join(str(s.path if isinstance(s, SourceConfig) else s) for s in sources)
        raise SourceError(f"{where}: no usable prompts ({len(out.rejects)} rejected)")
    return out
