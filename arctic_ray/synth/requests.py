"""What a synthesis request row must look like, and why one is refused: a row that would fail
(or be paid for and be useless) is set aside with its reason before anything is sent."""

from __future__ import annotations

ROLES = ("system", "developer", "user", "assistant", "tool")
SAMPLING_FIELDS = ("temperature", "top_p", "max_tokens", "seed")


def request_problem(row: dict) -> str:
    """Why `row` cannot be sent, or "" when it can."""
    if row.get("id") in (None, ""):
        return "no `id`"
    messages = row.get("messages")
    if messages is None:
        return "no `messages`"
    if not isinstance(messages, (list, tuple)) or not messages:
        return "`messages` must be a non-empty list of {role, content}"
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            return f"messages[{i}] is not an object"
        if msg.get("role") not in ROLES:
            return f"messages[{i}].role {msg.get('role')!r} is not one of {', '.join(ROLES)}"
        content = msg.get("content")
        if not isinstance(content, str):
            return f"messages[{i}].content must be a string, not {type(content).__name__}"
        if not content.strip():
            return f"messages[{i}].content is empty"
    sampling = row.get("sampling")
    if sampling is not None:
        if not isinstance(sampling, dict):
            return "`sampling` must be an object"
        unknown = sorted(set(sampling) - set(SAMPLING_FIELDS))
        if unknown:
            return f"sampling.{unknown[0]} is not one of {', '.join(SAMPLING_FIELDS)}"
    return ""


def split_requests(rows) -> tuple[list[dict], list[dict]]:
    """(rows to send, refused rows with `reason`); a repeated id is refused after its first row."""
    ok, refused, seen = [], [], set()
    for row in rows:
        reason = request_problem(row) if isinstance(row, dict) else "not an object"
        if not reason and str(row["id"]) in seen:
            reason = f"duplicate id {row['id']!r}"
        if reason:
            refused.append({"id": row.get("id") if isinstance(row, dict) else None, "reason": reason, "row": row})
            continue
        seen.add(str(row["id"]))
        ok.append(row)
    return ok, refused
