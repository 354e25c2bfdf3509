"""Cortex's answer, read: `{"choices": [{"messages": text}], "usage": {"prompt_tokens",
"completion_tokens", ...}, ...}` as a JSON string (or a VARIANT the connector hands over as one).
Some versions say `message` (sometimes an object with `content`); keys are matched
case-insensitively, since object literals come back upper-cased through some layers (fakesnow)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CortexAnswer:
    completion: str
    finish_reason: str | None
    """Only when Cortex says; otherwise the caller infers it from the token budget."""
    prompt_tokens: int
    completion_tokens: int


def _lower_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).lower(): _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


def parse_answer(raw: Any) -> CortexAnswer:
    """Raises ValueError (naming what is missing) for anything that is not an answer."""
    value = raw
    while isinstance(value, str):  # a VARIANT holding a JSON string arrives quoted once more
        value = json.loads(value)
    value = _lower_keys(value)
    if not isinstance(value, dict) or not value.get("choices"):
        raise ValueError("no `choices`")
    choice = value["choices"][0]
    text = choice.get("messages", choice.get("message"))
    if isinstance(text, dict):
        text = text.get("content")
    if not isinstance(text, str):
        raise ValueError("no text in choices[0].messages")
    usage = value.get("usage") or {}
    return CortexAnswer(
        completion=text,
        finish_reason=choice.get("finish_reason"),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
    )
