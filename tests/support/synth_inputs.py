"""A synthesis job's inputs against the local OpenAI-compatible server: good and malformed request
rows and a recipe that reads its API key from KEY_ENV."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.support.fake_openai import FakeOpenAI

KEY_ENV = "ARCTIC_RAY_TEST_SYNTH_KEY"


GOOD = [{"id": f"q{i}", "messages": [{"role": "user", "content": f"job question {i}"}]} for i in range(24)]


BAD = [
    {"id": "no-messages"},
    {"id": "empty", "messages": [{"role": "user", "content": "  "}]},
    {"id": "not-text", "messages": [{"role": "user", "content": 42}]},
    {"id": "odd-role", "messages": [{"role": "wizard", "content": "hi"}]},
    {"id": "q3", "messages": [{"role": "user", "content": "a second row with id q3"}]},
]


def write_inputs(tmp_path: Path, server: FakeOpenAI, timeout_s: float = 5) -> Path:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps(r) + "\n" for r in GOOD + BAD))
    recipe = {
        "type": "synth",
        "model": "fake-model",
        "input": {"prompts": str(prompts)},
        "output_dir": str(tmp_path / "runs"),
        "store": str(tmp_path / "store"),
        "synth": {
            "backend": "openai",
            "connection": {"base_url": server.base_url, "api_key_env": KEY_ENV, "timeout_s": timeout_s},
            "concurrency": 1,
            "max_concurrency": 2,
            "batch_size": 4,
            "sampling": {"max_tokens": 6},
            "pricing": {"input_per_million": 1.0, "output_per_million": 2.0},
        },
        "ray": {"local_num_cpus": 4},
        # judged after synthesis: a rule that removes one answer, then exact dedup
        "curate": [{"type": "rules", "refusal_phrases": ["question 7 "]}, {"type": "exact_dedup"}],
    }
    path = tmp_path / "synth.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path
