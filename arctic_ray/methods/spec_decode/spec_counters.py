"""vLLM's own speculative-decoding counters, read from a running engine: drafts, draft tokens,
accepted tokens and accepted tokens per draft position, turned into acceptance figures over the
generations between two snapshots, and summed over engines (one engine per repeat)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SPEC_COUNTERS = (
    "vllm:spec_decode_num_drafts",
    "vllm:spec_decode_num_draft_tokens",
    "vllm:spec_decode_num_accepted_tokens",
)
PER_POS = "vllm:spec_decode_num_accepted_tokens_per_pos"


def counters(llm) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for metric in llm.get_metrics():
        if metric.name in SPEC_COUNTERS:
            out[metric.name] = metric.value
        elif metric.name == PER_POS:
            out[metric.name] = list(metric.values)
    return out


def _stats(drafts: float, draft_tokens: float, accepted: float, accepted_per_pos: Sequence[float]) -> dict:
    return {
        "drafts": drafts,
        "draft_tokens": draft_tokens,
        "accepted_tokens": accepted,
        "acceptance_rate": accepted / draft_tokens if draft_tokens else 0.0,
        "mean_acceptance_length": 1 + accepted / drafts if drafts else 1.0,
        "accept_per_pos": [a / drafts if drafts else 0.0 for a in accepted_per_pos],
    }


def spec_stats(before: dict, after: dict) -> dict | None:
    """Acceptance over the generations between two counter snapshots (None: no speculation)."""
    if SPEC_COUNTERS[0] not in after:
        return None
    drafts, draft_tokens, accepted = (after[k] - before.get(k, 0) for k in SPEC_COUNTERS)
    after_pos = after.get(PER_POS, [])
    per_pos = [a - b for a, b in zip(after_pos, before.get(PER_POS, [0] * len(after_pos)), strict=False)]
    return _stats(drafts, draft_tokens, accepted, per_pos)


def summed(stats: list[dict | None]) -> dict | None:
    """The acceptance of several engines' generations together."""
    got = [s for s in stats if s]
    if not got:
        return None
    width = max(len(s["accept_per_pos"]) for s in got)
    per_pos = [
        sum(s["accept_per_pos"][i] * s["drafts"] for s in got if i < len(s["accept_per_pos"])) for i in range(width)
    ]
    drafts, draft_tokens, accepted = (sum(s[k] for s in got) for k in ("drafts", "draft_tokens", "accepted_tokens"))
    return _stats(drafts, draft_tokens, accepted, per_pos)
