"""Chat templating to token ids, one way for every stage."""

from __future__ import annotations


def chat_ids(tokenizer, messages: list[dict], add_generation_prompt: bool) -> list[int]:
    rendered = tokenizer.apply_chat_template(messages, add_generation_prompt=add_generation_prompt, tokenize=True)
    return list(rendered["input_ids"] if hasattr(rendered, "keys") else rendered)
