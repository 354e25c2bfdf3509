import json

import pytest

from arctic_ray.data.prompts import read_prompts
from arctic_ray.data.sources import SourceError, read_source
from tests.support.files import write_jsonl

GOOD = json.dumps({"id": "a", "messages": [{"role": "user", "content": "hi"}]})


def test_malformed_line_is_named(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [GOOD, "{not json"])
    with pytest.raises(SourceError, match=r"p.jsonl:2: not valid JSON"):
        read_prompts(path)


def test_unusable_rows_are_rejected_with_reasons(tmp_path):
    lines = [
        GOOD,
        json.dumps({"messages": [{"role": "user", "content": "x"}]}),
        json.dumps({"id": "b", "messages": []}),
        json.dumps({"id": "c", "messages": [{"role": "robot", "content": "x"}]}),
        json.dumps({"id": "d", "messages": [{"role": "assistant", "content": "a"}]}),
        json.dumps({"id": "a", "messages": [{"role": "user", "content": "again"}]}),
        "",
        json.dumps({"id": 7, "messages": [{"role": "user", "content": "int id"}]}),
    ]
    prompts = read_prompts(write_jsonl(tmp_path / "p.jsonl", lines))
    # a row without an id (as HF chat sets come) is named by its place in the source
    assert [r["id"] for r in prompts.rows] == ["a", "row-1", "7"]
    reasons = {r["line"]: r["reason"] for r in prompts.rejects}
    assert set(reasons) == {3, 4, 5, 6}
    assert "messages" in reasons[3] and "messages[0]" in reasons[4]
    assert "assistant" in reasons[5] and "duplicate id 'a'" in reasons[6]
    assert all(r["row"] for r in prompts.rejects)  # the raw line is kept with its reason


def test_a_conversation_ending_with_an_answer_carries_it_as_a_response(tmp_path):
    chat = {"id": "s", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    prompts = read_prompts(write_jsonl(tmp_path / "p.jsonl", [GOOD, json.dumps(chat)]))
    assert prompts.rows[1] == {"id": "s", "messages": [{"role": "user", "content": "q"}], "response": "a"}
    assert [r["id"] for r in prompts.with_responses] == ["s"]


def test_parquet_and_hf_datasets_on_disk_read_the_same(tmp_path):
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": str(i), "messages": [{"role": "user", "content": f"question {i}"}]} for i in range(3)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "p.parquet")
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "hf"))
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "hf_dict"))
    for source in ("p.parquet", "hf", "hf_dict"):
        got = read_prompts(tmp_path / source)
        assert [r["messages"] for r in got.rows] == [r["messages"] for r in rows], source
    with pytest.raises(SourceError, match="no split 'test'"):
        list(read_source(tmp_path / "hf_dict", split="test"))


def test_missing_or_empty_file(tmp_path):
    with pytest.raises(SourceError, match="not found"):
        read_prompts(tmp_path / "nope.jsonl")
    with pytest.raises(SourceError, match="no usable prompts"):
        read_prompts(write_jsonl(tmp_path / "e.jsonl", [json.dumps({"id": "x"})]))


def test_limit(tmp_path):
    lines = [json.dumps({"id": str(i), "messages": [{"role": "user", "content": str(i)}]}) for i in range(5)]
    assert len(read_prompts(write_jsonl(tmp_path / "p.jsonl", lines), limit=3).rows) == 3


def test_ultrachat_and_sharegpt_datasets_on_disk_are_prompts(tmp_path):
    import datasets

    ultrachat = tmp_path / "ultrachat"
    datasets.Dataset.from_list(
        [{"prompt_id": "u1", "prompt": "Why?", "messages": [{"role": "user", "content": "Why?"},
                                                             {"role": "assistant", "content": "Because."}]}]
    ).save_to_disk(str(ultrachat))  # fmt: skip
    sharegpt = tmp_path / "sharegpt"
    datasets.Dataset.from_list(
        [{"id": "s1", "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"},
                                        {"from": "human", "value": "Bye"}]},
         {"id": "s2", "conversations": [{"from": "tool", "value": "{}"}]}]
    ).save_to_disk(str(sharegpt))  # fmt: skip
    prompts = read_prompts([ultrachat, sharegpt])
    assert prompts.rows[0] == {"id": "u1", "messages": [{"role": "user", "content": "Why?"}], "response": "Because."}
    assert prompts.rows[1]["messages"][-1] == {"role": "user", "content": "Bye"} and prompts.rows[1]["response"] == ""
    (reject,) = prompts.rejects
    assert "conversations[0].from 'tool'" in reject["reason"]
