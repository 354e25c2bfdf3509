"""Suffix decoding measured as a server runs it: its cache of earlier answers on, warmed on other
prompts' answers, and never holding the answer of the prompt being timed.

A server's suffix cache holds the answers of the requests it served before (vLLM keeps up to
`suffix_decoding_max_cached_requests`), and on a base whose answers repeat phrases across prompts
that is where most of its speed comes from. Timing it on prompts whose own earlier answers are in
the cache would measure a replay instead: each repeat of a pass would find its whole answer
there. So an engine with the cache on (`measure_case`, one fresh engine per repeat) first answers
a warm-up split that shares no prompt with the timed ones, keeps those answers, and after every
timed pass evicts what the pass added: each timed prompt sees the warm-up answers and the
answers of the other prompts of its own pass (earlier requests, as on a server), never its own.

The cache lives in the engine's worker (vLLM's `SuffixDecodingProposer`, the model runner's
`drafter`), reached through `LLM.collective_rpc`, the hook vLLM gives for running code there."""

from __future__ import annotations

from typing import Any


class PromptsOverlap(ValueError):
    """A timed prompt is also a warm-up prompt: its own answer would be in the cache."""


def check_disjoint(warmup: list[list[int]], timed: dict[str, list[list[int]]]) -> None:
    warm = {tuple(p) for p in warmup}
    for name, prompts in timed.items():
        shared = sum(tuple(p) in warm for p in prompts)
        if shared:
            raise PromptsOverlap(
                f"{shared} of the {len(prompts)} {name} prompts are also suffix warm-up prompts: suffix decoding would "
                "be timed on answers already in its cache"
            )


def _cached_ids(worker: Any) -> list[str]:
    return sorted(worker.model_runner.drafter.suffix_cache.cached_requests)


def _evict_all_but(worker: Any, keep: list[str]) -> int:
    cache = worker.model_runner.drafter.suffix_cache
    gone = [r for r in list(cache.cached_requests) if r not in set(keep)]
    for request in gone:
        cache.evict_cached_response(request)
    return len(gone)


def cached_requests(llm) -> list[str]:
    """The ids of the requests whose answers the engine's suffix cache holds."""
    return llm.collective_rpc(_cached_ids)[0]


def forget_all_but(llm, keep: list[str]) -> None:
    """Evict every cached answer but `keep`'s (the warm-up's), and check that only those are left."""
    llm.collective_rpc(_evict_all_but, args=(keep,))
    left = cached_requests(llm)
    if sorted(left) != sorted(keep):
        raise RuntimeError(
            f"the suffix cache holds {len(left)} answers after eviction, expected the {len(keep)} warm-up"
        )
