"""What a chat request row must look like (`id`, `messages`, optional per-row `sampling`), and
why one is refused: a row that would fail, or be paid for and be useless, is set aside with its
reason before anything is sent."""

from __future__ import annotations

ROLES = ("system", "developer", "user", "assistant")
SAMPLING_FIELDS = ("temperature", "top_p", "max_tokens", "seed")
EXTRA_BODY = "extra_body"
"""Beside them: further request fields for the backend, as one JSON object in a string (`synth/backend.py`)."""


def row_problem(row: object) -> str | None:
    """Why `row` cannot be used as a request, or None when it can."""
    if not isinstance(row, dict):
        return f"a row must be an object, got {type(row).__name__}"
    if not isinstance(row.get("id"), (str, int)) or row.get("id") == "":
        return "missing or empty `id` (string)"
    messages = row.get("messages")
    if not isinstance(messages, list) or not messages:
        return "missing or empty `messages` list"
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
    if all(m["role"] == "assistant" for m in messages):
        return "only assistant messages: no prompt to answer"
    sampling = row.get("sampling")
    if sampling is not None:
        if not isinstance(sampling, dict):
            return "`sampling` must be an object"
        unknown = sorted(set(sampling) - set(SAMPLING_FIELDS) - {EXTRA_BODY})
        if unknown:
            return (
                f"sampling.{unknown[0]} is not one of {', '.join(SAMPLING_FIELDS)} (others go in sampling.{EXTRA_BODY})"
            )
        if sampling.get(EXTRA_BODY) is not None and not _json_object(sampling[EXTRA_BODY]):
            return f"sampling.{EXTRA_BODY} must be a string holding a JSON object"
    return None


def _json_object(text: object) -> bool:
    import json

    try:
        return isinstance(text, str) and isinstance(json.loads(text), dict)
    except ValueError:
        return False
