"""Batch API input files: one JSONL line per request, cut into shards that stay within the API's
limits (requests per file, bytes per file, tokens enqueued per batch). Rows stream past the
cutter, so the driver holds at most one shard's lines at a time."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from arctic_ray.core.config import StrictConfig

# A chat message costs a few tokens beyond its text (role, separators).
MESSAGE_OVERHEAD_TOKENS = 4


class ShardLimits(StrictConfig):
    max_requests: int = Field(default=50_000, gt=0)
    """Requests per input file (the API allows 50,000)."""

    max_bytes: int = Field(default=200_000_000, gt=0)
    """Bytes per input file (the API allows 200 MB)."""

    max_enqueued_tokens: int | None = Field(default=None, gt=0)
    """Estimated prompt tokens per batch: keep under the organisation's queue limit for the model."""


def estimate_prompt_tokens(messages: list[dict]) -> int:
    """chars/4 plus a little per message: tiktoken cannot fetch its encodings offline."""
    return sum(len(m.get("content") or "") // 4 + MESSAGE_OVERHEAD_TOKENS for m in messages)


@dataclass(frozen=True)
class BatchRequest:
    key: str
    line: bytes
    """The JSONL line, newline included."""
    prompt_tokens: int
    """Estimated."""
    max_tokens: int


def batch_request(key: str, url: str, body: dict[str, Any], messages: list[dict], max_tokens: int) -> BatchRequest:
    line = json.dumps({"custom_id": key, "method": "POST", "url": url, "body": body}, separators=(",", ":")) + "\n"
    return BatchRequest(key, line.encode(), estimate_prompt_tokens(messages), max_tokens)


def too_large(req: BatchRequest, limits: ShardLimits) -> str:
    """Why `req` fits in no shard at all, or ""."""
    if len(req.line) > limits.max_bytes:
        return f"request is {len(req.line)} bytes, over the batch file limit of {limits.max_bytes}"
    if limits.max_enqueued_tokens and req.prompt_tokens > limits.max_enqueued_tokens:
        return (
            f"request has ~{req.prompt_tokens} prompt tokens, over the per-batch limit of {limits.max_enqueued_tokens}"
        )
    return ""


@dataclass
class ShardContent:
    keys: list[str] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)
    n_bytes: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    """The most the requests may generate (their max_tokens)."""

    def fits(self, req: BatchRequest, limits: ShardLimits) -> bool:
        return (
            len(self.keys) < limits.max_requests
            and self.n_bytes + len(req.line) <= limits.max_bytes
            and (not limits.max_enqueued_tokens or self.prompt_tokens + req.prompt_tokens <= limits.max_enqueued_tokens)
        )

    def add(self, req: BatchRequest) -> None:
        self.keys.append(req.key)
        self.lines.append(req.line)
        self.n_bytes += len(req.line)
        self.prompt_tokens += req.prompt_tokens
        self.completion_tokens += req.max_tokens

    @property
    def keys_sha256(self) -> str:
        return keys_digest(self.keys)


def keys_digest(keys: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()


class ShardCutter:
    """Feeds requests into shards; `add` returns the shard it closed (full) or None."""

    def __init__(self, limits: ShardLimits):
        self.limits = limits
        self.current = ShardContent()

    def add(self, req: BatchRequest) -> ShardContent | None:
        closed = None
        if self.current.keys and not self.current.fits(req, self.limits):
            closed, self.current = self.current, ShardContent()
        self.current.add(req)
        return closed

    def close(self) -> ShardContent | None:
        closed, self.current = self.current, ShardContent()
        return closed if closed.keys else None
