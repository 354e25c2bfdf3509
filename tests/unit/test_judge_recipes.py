"""Judge recipes name a wrong field."""

from __future__ import annotations

import os
import uuid

import pytest
from pydantic import ValidationError

KEY_ENV = "ARCTIC_RAY_TEST_JUDGE_KEY"
KEY = f"sk-judge-{uuid.uuid4().hex}"
os.environ[KEY_ENV] = KEY  # before the session's Ray starts, so its workers inherit it


def test_judge_recipes_name_a_wrong_field():
    from arctic_ray.core.config import StrictConfig
    from arctic_ray.curate.judges.base import JudgeConfig

    class Recipe(StrictConfig):
        curate: list[JudgeConfig.union(default="rules")] = []

    parsed = Recipe.model_validate(
        {"curate": [{"type": "rules", "max_words": 10}, {"type": "llm", "threshold": 0.7}, {"type": "near_dedup"}]}
    )
    assert [s.stage for s in parsed.curate] == ["rules", "llm", "near_dedup"]
    with pytest.raises(ValidationError, match="treshold"):
        Recipe.model_validate({"curate": [{"type": "llm", "treshold": 0.7}]})
    with pytest.raises(ValidationError, match="template"):
        Recipe.model_validate({"curate": [{"type": "pairwise", "template": "{nope}"}]})
