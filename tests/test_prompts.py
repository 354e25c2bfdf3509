import json

import pytest

from arctic_ray.data.prompts import PromptFileError, read_prompts
from tests.conftest import write_jsonl

GOOD = json.dumps({"id": "a", "messages": [{"role": "user", "content": "hi"}]})


def test_malformed_line_is_named(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [GOOD, "{not json"])
    with pytest.raises(PromptFileError, match=r"p.jsonl:2: not valid JSON"):
        read_prompts(path)


def test_unusable_rows_are_rejected_with_reasons(tmp_path):
    lines = [
        GOOD,
        json.dumps({"messages": [{"role": "user", "content": "x"}]}),
        json.dumps({"id": "b", "messages": []}),
        json.dumps({"id": "c", "messages": [{"role": "robot", "content": "x"}]}),
        json.dumps({"id": "d", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}),
        json.dumps({"id": "a", "messages": [{"role": "user", "content": "again"}]}),
        "",
        json.dumps({"id": 7, "messages": [{"role": "user", "content": "int id"}]}),
    ]
    prompts = read_prompts(write_jsonl(tmp_path / "p.jsonl", lines))
    assert [r["id"] for r in prompts.rows] == ["a", "7"]
    reasons = {r["line"]: r["reason"] for r in prompts.rejects}
    assert set(reasons) == {2, 3, 4, 5, 6}
    assert "id" in reasons[2] and "messages" in reasons[3] and "messages[0]" in reasons[4]
    assert "assistant" in reasons[5] and "duplicate id 'a'" in reasons[6]
    assert all(r["row"] for r in prompts.rejects)  # the raw line is kept with its reason


def test_missing_or_empty_file(tmp_path):
    with pytest.raises(PromptFileError, match="not found"):
        read_prompts(tmp_path / "nope.jsonl")
    with pytest.raises(PromptFileError, match="no usable prompts"):
        read_prompts(write_jsonl(tmp_path / "e.jsonl", [json.dumps({"id": "x"})]))


def test_limit(tmp_path):
    lines = [json.dumps({"id": str(i), "messages": [{"role": "user", "content": str(i)}]}) for i in range(5)]
    assert len(read_prompts(write_jsonl(tmp_path / "p.jsonl", lines), limit=3).rows) == 3
