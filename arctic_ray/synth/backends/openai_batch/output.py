"""Joining a batch's output and error files back to its rows, by `custom_id` exactly: every row
of the shard gets one answer, one error, or is left unanswered (its batch expired or was
cancelled first); an unknown or repeated custom_id is a problem reported, never an answer kept."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

# Error codes of requests a batch never ran: they go again, they did not fail.
NOT_RUN_CODES = ("batch_expired", "batch_cancelled")


@dataclass
class JoinedBatch:
    answers: dict[str, dict] = field(default_factory=dict)
    """key -> {completion, finish_reason, usage}"""
    errors: dict[str, str] = field(default_factory=dict)
    not_run: set[str] = field(default_factory=set)
    """Keys the batch expired or was cancelled before running (or never mentioned)."""
    problems: list[str] = field(default_factory=list)


def _answer(body: dict) -> dict:
    choice = (body.get("choices") or [{}])[0]
    usage = body.get("usage") or {}
    return {
        "completion": (choice.get("message") or {}).get("content") or "",
        "finish_reason": choice.get("finish_reason") or "",
        "usage": {
            "prompt_tokens": int(usage.get("prompt_tokens") or 0),
            "completion_tokens": int(usage.get("completion_tokens") or 0),
        },
    }


def _error(line: dict) -> str:
    response, error = line.get("response") or {}, line.get("error") or {}
    if error:
        return f"batch request error {error.get('code')}: {error.get('message')}"
    detail = (response.get("body") or {}).get("error") or {}
    return f"HTTP {response.get('status_code')}: {detail.get('message') or detail or 'no detail'}"


def join_output(keys: list[str], files: list[bytes], batch_ok: bool) -> JoinedBatch:
    """`batch_ok`: the batch completed, so a row with no line at all is an error (the provider
    lost it), not a request still to run."""
    wanted, seen, joined = set(keys), set(), JoinedBatch()
    for data in files:
        for text in data.decode().splitlines():
            if not text.strip():
                continue
            line = json.loads(text)
            cid = line.get("custom_id")
            if cid not in wanted:
                joined.problems.append(f"unknown custom_id {str(cid)[:80]!r} in the batch output (ignored)")
                continue
            if cid in seen:
                joined.problems.append(f"custom_id {cid} answered more than once (none of its answers kept)")
                joined.answers.pop(cid, None)
                joined.not_run.discard(cid)
                joined.errors[cid] = (
                    "the batch output answered this request more than once; none of its answers was kept"
                )
                continue
            seen.add(cid)
            response = line.get("response") or {}
            if (line.get("error") or {}).get("code") in NOT_RUN_CODES:
                joined.not_run.add(cid)
            elif response.get("status_code") == 200 and not line.get("error"):
                joined.answers[cid] = _answer(response.get("body") or {})
            else:
                joined.errors[cid] = _error(line)
    for key in wanted - seen:
        if batch_ok:
            joined.errors[key] = "no answer for this request in the batch's output or error file"
        else:
            joined.not_run.add(key)
    return joined
