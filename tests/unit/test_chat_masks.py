"""Token-level assistant masks from the chat template, turn by turn."""

from __future__ import annotations

from collections import Counter

import pytest
from transformers import AutoTokenizer

from arctic_ray.data.chat import IGNORE_INDEX, ChatTemplateError, chat_ids, tokenize_chat
from tests.support.chat_masks import CHAT, check_chatml

# The reply "Paris." also appears in the user's turn: a text search would find it there first.
# Keeps only the last assistant turn's reasoning, as reasoning-model templates do.
DROPS_REASONING = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['role'] == 'assistant' and not loop.last %}{{ m['content'].split('</think>')[-1] }}"
    "{% else %}{{ m['content'] }}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    return AutoTokenizer.from_pretrained(tiny_model)


def test_every_assistant_turn_trained_by_position_not_text(tokenizer):
    result = check_chatml(tokenizer, CHAT)
    # the user's "Paris." is not trained: the first trained token comes after the first user turn
    first_trained = next(i for i, label in enumerate(result.labels) if label != IGNORE_INDEX)
    user_end = len(chat_ids(tokenizer, CHAT[:2], add_generation_prompt=True))
    assert first_trained == user_end
    assert result.outcome == "kept"


def test_template_rewriting_earlier_turns_refused(tokenizer):
    tokenizer = AutoTokenizer.from_pretrained(tokenizer.name_or_path)
    tokenizer.chat_template = DROPS_REASONING
    chat = [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "<think>two and two</think>4"},
        {"role": "user", "content": "3+3?"},
        {"role": "assistant", "content": "<think>three and three</think>6"},
    ]
    with pytest.raises(ChatTemplateError, match="not a prefix"):
        tokenize_chat(tokenizer, chat, max_length=512)
    # a single turn has no earlier turn to rewrite: accepted
    assert tokenize_chat(tokenizer, chat[:2], max_length=512).dropped is None


def test_overlong_truncated_or_dropped_and_counted(tokenizer):
    full = tokenize_chat(tokenizer, CHAT, max_length=512)
    n = len(full.input_ids)
    cut = tokenize_chat(tokenizer, CHAT, max_length=n - 2)
    assert cut.truncated and cut.input_ids == full.input_ids[: n - 2] and cut.labels == full.labels[: n - 2]
    dropped = tokenize_chat(tokenizer, CHAT, max_length=n - 2, overlong="drop")
    assert dropped.dropped == "overlong" and not dropped.input_ids
    # cut before the first reply: nothing left to train on
    first_trained = next(i for i, label in enumerate(full.labels) if label != IGNORE_INDEX)
    empty = tokenize_chat(tokenizer, CHAT, max_length=first_trained)
    assert empty.dropped == "no_assistant_tokens"
    no_reply = tokenize_chat(tokenizer, CHAT[:2], max_length=512)
    assert no_reply.dropped == "no_assistant_tokens"
    assert Counter(e.outcome for e in (full, cut, dropped, empty, no_reply)) == {
        "kept": 1,
        "truncated": 1,
        "dropped_overlong": 1,
        "dropped_no_assistant_tokens": 2,
    }
