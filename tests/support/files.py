"""Paths and small file helpers the tests share."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository root."""


def example_prompts(n: int | None = None) -> list[dict]:
    rows = [json.loads(line) for line in (ROOT / "examples/data/prompts.jsonl").read_text().splitlines()]
    return rows[:n] if n else rows


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path
