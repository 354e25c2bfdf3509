"""Engines started one after another in one process, for work that starts many short-lived
engines in turn (the drafter's eval: an engine per speculative configuration).

Importing vLLM takes ~15 s of a CPU process's ~20 s before its first token, and a small engine
starts in 2-3 s: a fresh process per engine spends most of an eval importing. A host actor pays
the import once; after each call the engine it started is released (`running_llm` stops it, then its
distributed state and memory here) so the next one starts clean.

A process that has run engines is not always fit for the next one (vLLM 0.32 rescans every
loaded module for kernels at each engine start and fails once numba, which the ngram proposer
imports, is among them): a call that fails in a used host is run again in a fresh one, and the
host is replaced; a call that fails in a fresh host is the caller's error."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import ray
import ray.exceptions


@ray.remote(max_restarts=0)
class EngineHost:
    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        finally:
            from vllm.distributed.parallel_state import cleanup_dist_env_and_memory

            gc.collect()  # the engine's objects hold cycles: free its memory before the next starts
            cleanup_dist_env_and_memory()


class EngineSeries:
    """Calls that each start and stop an engine, run in turn in one host process (`options`: the
    actor's resources and runtime env)."""

    def __init__(self, options: dict):
        self.options = options
        self.host: Any = None
        self.calls = 0
        """Calls the current host has run."""

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        fresh = self.host is None or self.calls == 0
        if self.host is None:
            self.host = EngineHost.options(**self.options).remote()
        try:
            result = ray.get(self.host.run.remote(fn, *args))
        except ray.exceptions.RayError:
            self.close()
            if fresh:
                raise
            return self.call(fn, *args)  # once more, in a process of its own
        self.calls += 1
        return result

    def close(self) -> None:
        if self.host is not None:
            ray.kill(self.host)
        self.host, self.calls = None, 0
