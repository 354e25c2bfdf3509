"""The built-in prompt sets: the foreign eval set (`examples/data/foreign_eval.jsonl`, written by
hand and frozen before the training set existed) and the broad training set
(`examples/data/prompts/broad.jsonl`). The training set must cover every task type and many
topics with usable, unique rows, be what its generator writes, and share no near-duplicate
(MinHash, Jaccard 0.7, in process) with the foreign set: an eval on prompts the drafter trained
on would measure memory, not speculation."""

import hashlib
import importlib.util
import json
import sys
from collections import Counter

import pytest

from arctic_ray.curate.dedup.config import DedupConfig
from arctic_ray.curate.dedup.decontaminate import dedup_against
from arctic_ray.data.messages import row_problem
from tests.support.files import ROOT

FOREIGN = ROOT / "examples/data/foreign_eval.jsonl"
BROAD = ROOT / "examples/data/prompts/broad.jsonl"
FOREIGN_SHA256 = "3f667f1ac6121506d6b945612ad0a66563b585fe608f7274f7fc5f2e2c8b7694"
"""The foreign set as frozen. It never changes: a new eval set is a new file."""
TASKS = {"explain", "compare", "list", "rewrite", "summarise", "code", "math", "plan", "constrained"}
TASKS |= {"extract", "creative", "multiturn"}


def _rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def text_of(row):
    """What dedup compares for a chat row: its messages' contents, one per line."""
    return "\n".join(m["content"] for m in row["messages"])


@pytest.fixture(scope="module")
def foreign():
    return _rows(FOREIGN)


@pytest.fixture(scope="module")
def broad():
    return _rows(BROAD)


def test_the_foreign_set_is_frozen_and_usable(foreign):
    assert hashlib.sha256(FOREIGN.read_bytes()).hexdigest() == FOREIGN_SHA256
    assert len(foreign) >= 32
    assert len({r["id"] for r in foreign}) == len(foreign)
    assert all(row_problem(r) is None for r in foreign)
    assert all(r["messages"][-1]["role"] == "user" for r in foreign)  # each one asks for an answer
    multi_turn = [r for r in foreign if sum(m["role"] == "user" for m in r["messages"]) > 1]
    assert len(multi_turn) >= 4


def test_broad_rows_are_usable_and_unique(broad):
    assert len(broad) >= 1200
    assert BROAD.stat().st_size < 2_000_000
    assert [r["id"] for r in broad] == [f"broad-{i:05d}" for i in range(1, len(broad) + 1)]
    problems = [(r["id"], row_problem(r)) for r in broad if row_problem(r) is not None]
    assert problems == []
    texts = Counter(text_of(r) for r in broad)
    assert [t for t, n in texts.items() if n > 1] == []
    assert all(r["messages"][-1]["role"] == "user" for r in broad)
    for r in broad:
        if r["task"] == "multiturn":
            assert [m["role"] for m in r["messages"]] == ["user", "assistant", "user"], r["id"]
        else:
            assert [m["role"] for m in r["messages"]] == ["user"], r["id"]


def test_every_task_type_has_a_fair_share(broad):
    shares = {task: n / len(broad) for task, n in Counter(r["task"] for r in broad).items()}
    assert set(shares) == TASKS
    assert all(0.05 <= s <= 0.15 for s in shares.values()), shares


def test_many_topics_are_named_in_the_prompts(broad):
    topics = {r["topic"] for r in broad}
    assert all(isinstance(t, str) and t for t in topics)
    named = {r["topic"] for r in broad if r["topic"].lower() in text_of(r).lower()}
    assert len(named) >= 150, len(named)


def test_broad_is_what_its_generator_writes(broad, monkeypatch):
    folder = ROOT / "examples/data/prompts"
    monkeypatch.syspath_prepend(str(folder))
    spec = importlib.util.spec_from_file_location("make_prompts", folder / "make_prompts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        rows, stats = module.build()
    finally:  # the generator's banks are plain top-level modules: leave no trace of them
        for name in ("make_prompts", "prompt_tasks", "prompt_texts", "prompt_topics", "prompt_code"):
            sys.modules.pop(name, None)
    assert rows == broad
    assert stats["near_foreign"] == []


def _near_foreign(rows, foreign):
    _, removed = dedup_against(rows, text_of, [text_of(f) for f in foreign], DedupConfig(threshold=0.7))
    return {r["id"]: r["duplicate_of"] for r in removed if r["duplicate_of"].startswith("eval prompt")}


def test_no_training_prompt_near_duplicates_a_foreign_prompt(broad, foreign):
    assert _near_foreign(broad, foreign) == {}


def test_the_check_finds_a_foreign_prompt_copied_into_training(broad, foreign):
    """The check above is not vacuous: a foreign prompt copied in, verbatim or lightly edited,
    is found (0-based index of the foreign row)."""
    email = next(i for i, f in enumerate(foreign) if "landlord" in text_of(f))
    edited = foreign[email]["messages"][0]["content"].replace("Polite but firm", "Friendly but firm")
    planted = [
        {"id": "planted-copy", "messages": foreign[0]["messages"]},
        {"id": "planted-edit", "messages": [{"role": "user", "content": edited}]},
    ]
    assert _near_foreign(broad[:300] + planted, foreign) == {
        "planted-copy": "eval prompt 0",
        "planted-edit": f"eval prompt {email}",
    }
