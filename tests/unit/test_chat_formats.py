"""Public chat datasets saved with `save_to_disk` in their usual layouts (UltraChat's `messages`
and `data`, ShareGPT's `conversations`) and the project's own JSONL rows are read with
`read_source` and each row is turned into a request row by `to_chat`; a row that cannot be is
refused with a reason that names the turn, never with an exception."""

import json

import datasets
import pytest

from arctic_ray.data.chat_formats import to_chat
from arctic_ray.data.messages import row_problem
from arctic_ray.data.sources import read_source


def _saved(tmp_path, name, rows, dict_split=None):
    path = tmp_path / name
    ds = datasets.Dataset.from_list(rows)
    (datasets.DatasetDict({dict_split: ds}) if dict_split else ds).save_to_disk(str(path))
    return path


def _converted(path, split="train"):
    return [to_chat(src.row, i) for i, src in enumerate(read_source(path, split))]


def test_ultrachat_messages_layout(tmp_path):
    path = _saved(
        tmp_path,
        "ultrachat200k",
        [
            {
                "prompt": "How do tides work?",
                "prompt_id": "9f2c",
                "messages": [
                    {"role": "user", "content": "How do tides work?"},
                    {"role": "assistant", "content": "Mostly the Moon's pull on the oceans."},
                    {"role": "user", "content": "And the Sun?"},
                ],
            },
            {
                "prompt": "Tell me a story.",
                "prompt_id": "a1b0",
                "messages": [
                    {"role": "narrator", "content": "Once upon a time"},
                    {"role": "user", "content": "Tell me a story."},
                ],
            },
        ],
    )
    (good, reason), (bad, why) = _converted(path)
    assert reason == "" and good == {
        "id": "9f2c",
        "messages": [
            {"role": "user", "content": "How do tides work?"},
            {"role": "assistant", "content": "Mostly the Moon's pull on the oceans."},
            {"role": "user", "content": "And the Sun?"},
        ],
    }
    assert row_problem(good) is None
    assert bad is None and why.startswith("messages[0].role 'narrator' is not one of")


def test_ultrachat_data_layout_alternates_user_and_assistant(tmp_path):
    path = _saved(
        tmp_path,
        "ultrachat",
        [
            {"id": "0", "data": ["What is a haiku?", "A three-line poem of 5, 7 and 5 syllables.", "Write one?"]},
            {"id": "1", "data": ["Name a prime.", ""]},
        ],
    )
    (good, reason), (bad, why) = _converted(path)
    assert reason == ""
    assert good == {
        "id": "0",
        "messages": [
            {"role": "user", "content": "What is a haiku?"},
            {"role": "assistant", "content": "A three-line poem of 5, 7 and 5 syllables."},
            {"role": "user", "content": "Write one?"},
        ],
    }
    assert bad is None and why == "data[1] is empty"


def test_sharegpt_layout_in_a_dataset_dict_split(tmp_path):
    path = _saved(
        tmp_path,
        "sharegpt",
        [
            {
                "id": "sg-1",
                "conversations": [
                    {"from": "system", "value": "Answer briefly."},
                    {"from": "human", "value": "Capital of Peru?"},
                    {"from": "gpt", "value": "Lima."},
                ],
            },
            {
                "id": "sg-2",
                "conversations": [
                    {"from": "human", "value": "What's the weather?"},
                    {"from": "tool", "value": '{"temp": 21}'},
                ],
            },
            {"id": "", "conversations": [{"from": "human", "value": "No id here."}]},
        ],
        dict_split="train_sft",
    )
    (good, reason), (bad, why), (no_id, _) = _converted(path, split="train_sft")
    assert reason == ""
    assert good == {
        "id": "sg-1",
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Capital of Peru?"},
            {"role": "assistant", "content": "Lima."},
        ],
    }
    assert bad is None and why.startswith("conversations[1].from 'tool' is not one of")
    assert no_id == {"id": "row-2", "messages": [{"role": "user", "content": "No id here."}]}


def test_the_projects_own_rows_pass_through(tmp_path):
    path = tmp_path / "own.jsonl"
    rows = [
        {"id": 7, "messages": [{"role": "user", "content": "Hi"}], "sampling": {"temperature": 0.2}, "x": 1},
        {"id": "b", "messages": [{"role": "assistant", "content": "Only me."}]},
        ["not", "an", "object"],
        {"id": "c", "prompt": "no chat column"},
        {"id": "d", "messages": []},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    results = _converted(path)
    assert results[0] == (
        {"id": "7", "messages": [{"role": "user", "content": "Hi"}], "sampling": {"temperature": 0.2}},
        "",
    )
    assert [reason for _, reason in results[1:]] == [
        "only assistant messages: no prompt to answer",
        "a row must be an object, got list",
        "no chat column: expected `messages`, `data` or `conversations`",
        "`messages` must be a non-empty list",
    ]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (
            {"conversations": [{"from": "human", "value": None}]},
            "conversations[0].value must be a string, got NoneType",
        ),
        ({"conversations": ["hello"]}, "conversations[0] is not an object"),
        ({"data": ["hi", 3]}, "data[1] must be a string, got int"),
        ({"messages": "hello"}, "`messages` must be a non-empty list"),
    ],
)
def test_malformed_turns_are_reasons_not_crashes(row, reason):
    assert to_chat(row, 0) == (None, reason)
