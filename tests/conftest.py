"""Shared fixtures: one real local Ray cluster per test session (in its own temp dir) and the
tiny model, built once into a session cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("arctic_ray_cache")
    os.environ["ARCTIC_RAY_CACHE"] = str(cache)
    return cache


@pytest.fixture(scope="session")
def tiny_model(session_cache) -> str:
    from arctic_ray.models.tiny import tiny_model_path

    return str(tiny_model_path())


@pytest.fixture(scope="session")
def ray_local(tmp_path_factory, session_cache):
    import ray

    os.environ.setdefault("RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S", "300")
    os.environ["RAY_DATA_DISABLE_PROGRESS_BARS"] = "1"
    temp_dir = Path("/tmp") / f"ray-test-{os.getpid()}"  # unix socket paths must stay short
    ray.init(num_cpus=8, _temp_dir=str(temp_dir), include_dashboard=False)
    yield ray
    ray.shutdown()


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path
