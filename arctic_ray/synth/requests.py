"""Request rows given in memory (the ArcticTraining-style API, other jobs' own rows) checked the
same way as rows read from a file: refused rows come back with their reason, never dropped."""

from __future__ import annotations

from collections.abc import Iterable

from arctic_ray.data.messages import row_problem


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
