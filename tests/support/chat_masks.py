"""A chat and the checks the assistant-mask tests share: which token spans a template trains."""

from __future__ import annotations

from arctic_ray.data.chat import IGNORE_INDEX, chat_ids, tokenize_chat

CHAT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Say Paris. then tell me the capital of France."},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And again?"},
    {"role": "assistant", "content": "Paris."},
]


def trained_spans(result) -> list[list[int]]:
    spans, current = [], []
    for token, label in zip(result.input_ids, result.labels, strict=False):
        if label != IGNORE_INDEX:
            assert label == token
            current.append(token)
        elif current:
            spans.append(current)
            current = []
    return spans + ([current] if current else [])


def check_chatml(tokenizer, chat):
    result = tokenize_chat(tokenizer, chat, max_length=512)
    assert result.input_ids == chat_ids(tokenizer, chat, add_generation_prompt=False)
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    spans = trained_spans(result)
    assistant = [m["content"] for m in chat if m["role"] == "assistant"]
    assert len(spans) == len(assistant)  # one example, every assistant turn trained
    for span, reply in zip(spans, assistant, strict=False):
        # the reply, its end-of-turn token and the newline the turn renders, not the header
        assert tokenizer.decode(span) == reply + "<|im_end|>\n"
        assert end in span
    return result
