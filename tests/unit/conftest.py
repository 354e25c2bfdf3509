"""The unit tier: no Ray cluster, no vLLM engine, no subprocess. Each is refused here with an error
that says where the test belongs, so a test that needs one fails at once instead of quietly
making `make test-fast` slow. Unit tests run before the other tiers (see Makefile), so no cluster
another test started can hide a `ray.data` call either."""

from __future__ import annotations

import subprocess

import pytest
import ray


def _refuse(what: str):
    def refuse(*args, **kwargs):
        raise RuntimeError(f"unit tests start no {what}: move this test to tests/integration (or tests/e2e)")

    return refuse


@pytest.fixture(autouse=True)
def no_cluster_engine_or_subprocess(monkeypatch):
    if ray.is_initialized():
        raise RuntimeError("a Ray cluster is up before a unit test: run tests/unit before the other tiers")
    from vllm import LLM  # imported before the guard: vLLM's own import probes the platform by subprocess

    monkeypatch.setattr(ray, "init", _refuse("Ray cluster (ray.init)"))
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse("subprocess"))
    monkeypatch.setattr(LLM, "__init__", _refuse("vLLM engine"))
