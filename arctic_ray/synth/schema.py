"""The one row schema every generation backend writes, and judges and dedup read.

In: `id`, `messages` (and optional per-row `sampling`); request rows given in memory (the
ArcticTraining-style API, other jobs' own rows) are checked the way rows read from a file are
(`data/messages.py`), and refused rows come back with their reason, never dropped. Out, added: `completion`,
`finish_reason`, `usage` ({prompt_tokens, completion_tokens}), `backend`, `model`, `error`
(empty when the row succeeded), plus the token ids when a backend knows them."""

from __future__ import annotations

from collections.abc import Iterable

from arctic_ray.data.messages import row_problem

OUTPUT_COLUMNS = (
    "completion",
    "finish_reason",
    "usage",
    "backend",
    "model",
    "error",
)


def failed(row: dict) -> bool:
    return bool(row.get("error"))


def split_requests(rows: Iterable[object]) -> tuple[list[dict], list[dict]]:
    """(rows to send, refused rows with `reason`); a repeated id is refused after its first row."""
    ok, refused, seen = [], [], set()
    for row in rows:
        reason = row_problem(row)
        if reason is None and isinstance(row, dict):  # a row without a problem is a dict
            if str(row["id"]) not in seen:
                seen.add(str(row["id"]))
                ok.append(row)
                continue
            reason = f"duplicate id {row['id']!r}"
        refused.append({"id": row.get("id") if isinstance(row, dict) else None, "reason": reason, "row": row})
    return ok, refused
