"""How many tokens a chat request will cost, guessed before it is sent.

No tokenizer is loaded (tiktoken downloads its encodings at run time, and an API model's tokenizer
may not be public): English BPE vocabularies average about four ASCII characters a token, while
other scripts cost about one token a character. The rate budget learns the real ratio from the
`usage` of answered requests, so this only has to be roughly right and cheap."""

from __future__ import annotations

import math

ASCII_CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
"""Chat-format overhead per message (role and separators), as OpenAI documents for its models."""
TOKENS_PER_REPLY = 3
"""The assistant turn's opening that every request pays once."""


def text_tokens(text: str) -> int:
    ascii_chars = sum(1 for ch in text if ch.isascii())
    return math.ceil(ascii_chars / ASCII_CHARS_PER_TOKEN) + (len(text) - ascii_chars)


def estimate_prompt_tokens(messages: list[dict]) -> int:
    return TOKENS_PER_REPLY + sum(TOKENS_PER_MESSAGE + text_tokens(str(m.get("content") or "")) for m in messages)
